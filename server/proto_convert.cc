#include "server/proto_convert.h"

#include "absl/strings/str_cat.h"
#include "model/model_config.h"

namespace ner::server {

google::protobuf::Timestamp ToTimestamp(absl::Time time) {
  const int64_t nanos = absl::ToUnixNanos(time);
  google::protobuf::Timestamp timestamp;
  int64_t seconds = nanos / 1000000000;
  int64_t rest = nanos % 1000000000;
  if (rest < 0) {  // Timestamp nanos are always in [0, 1e9).
    rest += 1000000000;
    --seconds;
  }
  timestamp.set_seconds(seconds);
  timestamp.set_nanos(static_cast<int32_t>(rest));
  return timestamp;
}

absl::Time FromTimestamp(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) + absl::Nanoseconds(timestamp.nanos());
}

v1::ModelInfo ToModelInfo(const ServedModel& model) {
  v1::ModelInfo info;
  info.set_name(model.name);
  info.set_version(model.version);
  info.set_variant(std::string(model::VariantName(model.checkpoint->config.variant)));
  for (const std::string& label : model.checkpoint->config.labels) info.add_labels(label);
  info.set_path(model.path);
  if (model.dev_f1.has_value()) info.set_dev_f1(*model.dev_f1);
  *info.mutable_loaded_at() = ToTimestamp(model.loaded_at);
  info.set_serving(true);
  for (const std::string& type : model.entity_types) info.add_entity_types(type);
  return info;
}

v1::PrfMetrics ToPrfMetrics(const model::PrfCounts& counts) {
  v1::PrfMetrics metrics;
  metrics.set_gold(counts.gold);
  metrics.set_predicted(counts.predicted);
  metrics.set_correct(counts.correct);
  metrics.set_precision(counts.precision());
  metrics.set_recall(counts.recall());
  metrics.set_f1(counts.f1());
  return metrics;
}

void FillEvaluateResponse(const model::EntityMetrics& metrics, v1::EvaluateResponse* response) {
  *response->mutable_overall() = ToPrfMetrics(metrics.overall());
  response->clear_by_type();
  for (const auto& [type, counts] : metrics.by_type()) {
    v1::TypeMetrics* by_type = response->add_by_type();
    by_type->set_type(type);
    *by_type->mutable_metrics() = ToPrfMetrics(counts);
  }
  response->set_documents(metrics.documents());
}

model::DataFormat FromProto(v1::DataFormat format) {
  switch (format) {
    case v1::DATA_FORMAT_JSONL:
      return model::DataFormat::kJsonl;
    case v1::DATA_FORMAT_CHAR_PER_LINE:
      return model::DataFormat::kCharPerLine;
    default:
      return model::DataFormat::kAuto;
  }
}

absl::StatusOr<std::vector<model::Document>> FromProto(const v1::InlineDocuments& documents) {
  std::vector<model::Document> out;
  out.reserve(static_cast<size_t>(documents.documents_size()));
  for (int i = 0; i < documents.documents_size(); ++i) {
    const v1::LabelledDocument& in = documents.documents(i);
    model::Document document;
    document.id = in.id().empty() ? absl::StrCat(i) : in.id();
    document.text = in.text();
    for (const v1::EntityAnnotation& entity : in.entities()) {
      document.entities.push_back({entity.begin_char(), entity.end_char(), entity.type()});
    }
    if (absl::Status s = model::ValidateDocument(document); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("inline document ", i, " (id \"", document.id, "\"): ", s.message()));
    }
    out.push_back(std::move(document));
  }
  return out;
}

}  // namespace ner::server
