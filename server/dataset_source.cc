#include "server/dataset_source.h"

#include <string>
#include <utility>

#include "server/proto_convert.h"
#include "server/root_path.h"

namespace ner::server {

absl::StatusOr<model::Dataset> LoadRequestDataset(const v1::Dataset& dataset,
                                                  absl::string_view data_root) {
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
      return model::ReadDataset(*resolved, options);
    }
    case v1::Dataset::SOURCE_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("the dataset has neither a path nor inline documents");
}

}  // namespace ner::server
