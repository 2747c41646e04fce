#include "server/recognize_request.h"

#include <algorithm>
#include <cmath>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ner::server {
namespace {

std::string DocumentName(const v1::Document& document, int index) {
  if (document.id().empty()) return absl::StrCat("document ", index);
  return absl::StrCat("document ", index, " (id \"", document.id(), "\")");
}

}  // namespace

absl::StatusOr<EntityFilter> EntityFilter::Create(const v1::RecognizeOptions& options,
                                                  const ServedModel& model) {
  EntityFilter filter;
  for (const std::string& type : options.entity_types()) {
    if (!model.HasEntityType(type)) {
      return absl::InvalidArgumentError(
          absl::StrCat("entity type '", type, "' is not one of model '", model.name,
                       "': ", absl::StrJoin(model.entity_types, ", ")));
    }
    filter.types_.push_back(type);
  }
  std::sort(filter.types_.begin(), filter.types_.end());
  const float min_score = options.min_score();
  if (!(min_score >= 0 && min_score <= 1)) {  // Also rejects NaN.
    return absl::InvalidArgumentError(absl::StrCat("min_score must be in [0, 1], got ", min_score));
  }
  filter.min_score_ = min_score;
  return filter;
}

bool EntityFilter::Keep(const model::RecognizedEntity& entity) const {
  if (entity.score < min_score_) return false;
  return types_.empty() || std::binary_search(types_.begin(), types_.end(), entity.type);
}

absl::StatusOr<model::PreparedDocument> PrepareDocument(const v1::Document& document, int index,
                                                        const ServedModel& model,
                                                        const RequestLimits& limits) {
  if (static_cast<int64_t>(document.text().size()) > limits.max_document_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(DocumentName(document, index), ": the text has ", document.text().size(),
                     " bytes, more than the server's limit of ", limits.max_document_bytes,
                     "; split it into several documents"));
  }
  absl::StatusOr<model::PreparedDocument> prepared = model.recognizer->Prepare(document.text());
  if (!prepared.ok()) {
    return absl::Status(prepared.status().code(), absl::StrCat(DocumentName(document, index), ": ",
                                                               prepared.status().message()));
  }
  return prepared;
}

absl::StatusOr<std::vector<model::PreparedDocument>> PrepareDocuments(
    const google::protobuf::RepeatedPtrField<v1::Document>& documents, const ServedModel& model,
    const RequestLimits& limits) {
  if (documents.empty()) return absl::InvalidArgumentError("the request has no documents");
  if (documents.size() > limits.max_documents) {
    return absl::InvalidArgumentError(absl::StrCat("the request has ", documents.size(),
                                                   " documents, more than the server's "
                                                   "limit of ",
                                                   limits.max_documents,
                                                   "; send several requests or a stream"));
  }
  absl::flat_hash_set<absl::string_view> ids;
  for (int i = 0; i < documents.size(); ++i) {
    const std::string& id = documents[i].id();
    if (!id.empty() && !ids.insert(id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("document ", i, ": id \"", id, "\" is not unique in the request"));
    }
  }
  std::vector<model::PreparedDocument> prepared;
  prepared.reserve(static_cast<size_t>(documents.size()));
  for (int i = 0; i < documents.size(); ++i) {
    absl::StatusOr<model::PreparedDocument> document =
        PrepareDocument(documents[i], i, model, limits);
    if (!document.ok()) return document.status();
    prepared.push_back(*std::move(document));
  }
  return prepared;
}

void FillDocumentResult(const std::string& id, const std::vector<model::RecognizedEntity>& entities,
                        const EntityFilter& filter, v1::DocumentResult* result) {
  result->Clear();
  result->set_id(id);
  for (const model::RecognizedEntity& entity : entities) {
    if (!filter.Keep(entity)) continue;
    v1::Entity* out = result->add_entities();
    out->set_text(entity.text);
    out->set_type(entity.type);
    out->set_begin_char(entity.begin_char);
    out->set_end_char(entity.end_char);
    out->set_begin_byte(static_cast<int32_t>(entity.begin_byte));
    out->set_end_byte(static_cast<int32_t>(entity.end_byte));
    out->set_score(entity.score);
  }
}

}  // namespace ner::server
