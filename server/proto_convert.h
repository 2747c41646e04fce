#ifndef NER_SERVER_PROTO_CONVERT_H_
#define NER_SERVER_PROTO_CONVERT_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "model/dataset.h"
#include "model/entity.h"
#include "model/metrics.h"
#include "ner/v1/ner.pb.h"
#include "server/model_registry.h"

namespace ner::server {

// Conversions between the model library's plain data and the API's messages. Pure;
// thread-safe.

google::protobuf::Timestamp ToTimestamp(absl::Time time);
absl::Time FromTimestamp(const google::protobuf::Timestamp& timestamp);

// ModelInfo of a serving model (serving = true).
v1::ModelInfo ToModelInfo(const ServedModel& model);

// Scores: counts and the conlleval fractions.
v1::PrfMetrics ToPrfMetrics(const model::PrfCounts& counts);
// The whole EvaluateResponse but the model name and version.
void FillEvaluateResponse(const model::EntityMetrics& metrics, v1::EvaluateResponse* response);

// The file format of a dataset path.
model::DataFormat FromProto(v1::DataFormat format);

// Inline labelled documents as model documents, each checked with model::ValidateDocument
// (valid UTF-8, entities inside the text, typed, not overlapping). INVALID_ARGUMENT naming the
// document by position and id.
absl::StatusOr<std::vector<model::Document>> FromProto(const v1::InlineDocuments& documents);

}  // namespace ner::server

#endif  // NER_SERVER_PROTO_CONVERT_H_
