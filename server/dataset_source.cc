#include "server/dataset_source.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "server/proto_convert.h"
#include "server/root_path.h"

namespace ner::server {

absl::Status ValidateDataset(const v1::Dataset& dataset) {
  if (dataset.source_case() == v1::Dataset::SOURCE_NOT_SET) {
    return absl::InvalidArgumentError("the dataset has neither a path nor inline documents");
  }
  if (!v1::DataFormat_IsValid(dataset.format())) {
    return absl::InvalidArgumentError(
        absl::StrCat("the dataset's format ", dataset.format(),
                     " is unknown (DATA_FORMAT_UNSPECIFIED detects it; else DATA_FORMAT_JSONL or "
                     "DATA_FORMAT_CHAR_PER_LINE)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<model::Dataset> LoadRequestDataset(const v1::Dataset& dataset,
                                                  absl::string_view data_root) {
  if (absl::Status s = ValidateDataset(dataset); !s.ok()) return s;
  switch (dataset.source_case()) {
    case v1::Dataset::kInlineDocuments: {
      absl::StatusOr<std::vector<model::Document>> documents =
          FromProto(dataset.inline_documents());
      if (!documents.ok()) return documents.status();
      model::Dataset out;
      out.documents = *std::move(documents);
      return out;
    }
    case v1::Dataset::kPath: {
      absl::StatusOr<std::string> resolved = ResolveUnderRoot(data_root, dataset.path());
      if (!resolved.ok()) return resolved.status();
      model::ReadOptions options;
      options.format = FromProto(dataset.format());
      absl::StatusOr<model::Dataset> read = model::ReadDataset(*resolved, options);
      if (!read.ok()) {
        // Name the file as the client did ("file:line: ..."): like ResolveUnderRoot, never
        // reveal where the server's root lies.
        return absl::Status(
            read.status().code(),
            absl::StrReplaceAll(read.status().message(), {{*resolved, dataset.path()}}));
      }
      return read;
    }
    case v1::Dataset::SOURCE_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("the dataset has neither a path nor inline documents");
}

}  // namespace ner::server
