#ifndef NER_SERVER_DATASET_SOURCE_H_
#define NER_SERVER_DATASET_SOURCE_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/dataset.h"
#include "ner/v1/ner.pb.h"

namespace ner::server {

// OK when `dataset` names a source (a path or inline documents) and a known format, else
// INVALID_ARGUMENT saying which. (An unknown format value must not silently mean "detect".)
absl::Status ValidateDataset(const v1::Dataset& dataset);

// The labelled documents of a request's Dataset: read from its path under `data_root` (blocks on
// I/O: call it off gRPC's threads) or taken from its inline documents, each validated. Inline
// documents get no tag scheme (nullopt). Errors: INVALID_ARGUMENT (as ValidateDataset, a bad
// path, a malformed file or document: the message names the document, or the file as the
// request gave it and the line), PERMISSION_DENIED (the path leaves the root), NOT_FOUND (no
// such file).
absl::StatusOr<model::Dataset> LoadRequestDataset(const v1::Dataset& dataset,
                                                  absl::string_view data_root);

}  // namespace ner::server

#endif  // NER_SERVER_DATASET_SOURCE_H_
