#ifndef NER_SERVER_RECOGNIZE_REQUEST_H_
#define NER_SERVER_RECOGNIZE_REQUEST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/recognizer.h"
#include "ner/v1/ner.pb.h"
#include "server/model_registry.h"

namespace ner::server {

// Validation and shaping of recognition requests, apart from gRPC so that it is tested directly.
// All functions are thread-safe.

// Per-request limits (see ServerConfig).
struct RequestLimits {
  // Most documents in one Recognize call or one RecognizeStream message, >= 1.
  int max_documents = 256;
  // Most UTF-8 bytes in one document's text, >= 1.
  int64_t max_document_bytes = 1 << 20;
};

// The validated RecognizeOptions.entity_types and min_score.
class EntityFilter {
 public:
  // INVALID_ARGUMENT when a type is not one of `model`'s (naming it and the known ones) or
  // min_score is not in [0, 1].
  static absl::StatusOr<EntityFilter> Create(const v1::RecognizeOptions& options,
                                             const ServedModel& model);

  // True when `entity` passes: its type is asked for (or none is) and its score >= min_score.
  bool Keep(const model::RecognizedEntity& entity) const;

 private:
  std::vector<std::string> types_;  // sorted; empty = every type
  float min_score_ = 0;
};

// Checks one document against `limits` and prepares it with `model`'s recognizer (UTF-8
// validation, segmentation, tokenization). INVALID_ARGUMENT that names the document by position
// and id, e.g. `document 2 (id "b"): invalid UTF-8 at byte 17 ...`.
absl::StatusOr<model::PreparedDocument> PrepareDocument(const v1::Document& document, int index,
                                                        const ServedModel& model,
                                                        const RequestLimits& limits);

// A whole Recognize request's documents: at least one and at most limits.max_documents, the
// non-empty ids unique, every document as PrepareDocument. The first problem fails them all.
absl::StatusOr<std::vector<model::PreparedDocument>> PrepareDocuments(
    const google::protobuf::RepeatedPtrField<v1::Document>& documents, const ServedModel& model,
    const RequestLimits& limits);

// Sets `result` to `id` and the entities `filter` keeps, in order.
void FillDocumentResult(const std::string& id, const std::vector<model::RecognizedEntity>& entities,
                        const EntityFilter& filter, v1::DocumentResult* result);

}  // namespace ner::server

#endif  // NER_SERVER_RECOGNIZE_REQUEST_H_
