#include "server/metrics.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "model/version.h"

namespace ner::server {
namespace {

using prometheus::Histogram;

const Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* buckets = new Histogram::BucketBoundaries{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  return *buckets;
}

Histogram::BucketBoundaries PowersOfTwo(double first, double last) {
  Histogram::BucketBoundaries buckets;
  for (double b = first; b <= last; b *= 2) buckets.push_back(b);
  return buckets;
}

// The gRPC name of an absl code (they share numbers): "OK", "INVALID_ARGUMENT", ...
std::string CodeName(int code) {
  static constexpr const char* kNames[] = {"OK",
                                           "CANCELLED",
                                           "UNKNOWN",
                                           "INVALID_ARGUMENT",
                                           "DEADLINE_EXCEEDED",
                                           "NOT_FOUND",
                                           "ALREADY_EXISTS",
                                           "PERMISSION_DENIED",
                                           "RESOURCE_EXHAUSTED",
                                           "FAILED_PRECONDITION",
                                           "ABORTED",
                                           "OUT_OF_RANGE",
                                           "UNIMPLEMENTED",
                                           "INTERNAL",
                                           "UNAVAILABLE",
                                           "DATA_LOSS",
                                           "UNAUTHENTICATED"};
  return kNames[code];
}

// The model's variant name; "unknown" for a model without checkpoint (tests build such).
std::string VariantOf(const ServedModel& model) {
  if (model.checkpoint == nullptr) return "unknown";
  return std::string(model::VariantName(model.checkpoint->config.variant));
}

}  // namespace

absl::string_view RpcMethodName(RpcMethod method) {
  switch (method) {
    case RpcMethod::kRecognize:
      return "Recognize";
    case RpcMethod::kRecognizeStream:
      return "RecognizeStream";
    case RpcMethod::kEvaluate:
      return "Evaluate";
    case RpcMethod::kTrain:
      return "Train";
    case RpcMethod::kGetTrainJob:
      return "GetTrainJob";
    case RpcMethod::kWatchTrainJob:
      return "WatchTrainJob";
    case RpcMethod::kCancelTrainJob:
      return "CancelTrainJob";
    case RpcMethod::kListTrainJobs:
      return "ListTrainJobs";
    case RpcMethod::kListModels:
      return "ListModels";
    case RpcMethod::kGetModel:
      return "GetModel";
    case RpcMethod::kLoadModel:
      return "LoadModel";
    case RpcMethod::kUnloadModel:
      return "UnloadModel";
  }
  return "unknown";
}

ServerMetrics::ServerMetrics(prometheus::Registry& registry)
    : requests_(prometheus::BuildCounter()
                    .Name("ner_requests_total")
                    .Help("RPCs finished, by method and gRPC status code")
                    .Register(registry)),
      entities_(prometheus::BuildCounter()
                    .Name("ner_entities_total")
                    .Help("Entities returned, by type")
                    .Register(registry)),
      model_info_(prometheus::BuildGauge()
                      .Name("ner_model_info")
                      .Help("1 for each serving model: name, version (content hash) and variant")
                      .Register(registry)),
      inflight_(prometheus::BuildGauge()
                    .Name("ner_inflight_requests")
                    .Help("RPCs in progress")
                    .Register(registry)
                    .Add({})),
      documents_(prometheus::BuildCounter()
                     .Name("ner_documents_total")
                     .Help("Documents recognised")
                     .Register(registry)
                     .Add({})),
      characters_(prometheus::BuildCounter()
                      .Name("ner_characters_total")
                      .Help("Unicode code points of the documents recognised")
                      .Register(registry)
                      .Add({})),
      queue_depth_(prometheus::BuildGauge()
                       .Name("ner_queue_depth")
                       .Help("Pieces waiting in the batching queue")
                       .Register(registry)
                       .Add({})),
      queue_capacity_(prometheus::BuildGauge()
                          .Name("ner_queue_capacity")
                          .Help("Pieces the batching queue accepts before refusing requests "
                                "(--max_queue_items)")
                          .Register(registry)
                          .Add({})),
      batch_size_(prometheus::BuildHistogram()
                      .Name("ner_batch_size")
                      .Help("Pieces per batch run by the model")
                      .Register(registry)
                      .Add({}, PowersOfTwo(1, 512))),
      batch_tokens_(prometheus::BuildHistogram()
                        .Name("ner_batch_tokens")
                        .Help("Tokens per batch (sum of piece lengths, before padding)")
                        .Register(registry)
                        .Add({}, PowersOfTwo(16, 65536))),
      batch_latency_(prometheus::BuildHistogram()
                         .Name("ner_batch_latency_seconds")
                         .Help("Time the model took per batch")
                         .Register(registry)
                         .Add({}, LatencyBuckets())),
      model_loaded_(prometheus::BuildGauge()
                        .Name("ner_model_loaded")
                        .Help("Models serving")
                        .Register(registry)
                        .Add({})),
      train_jobs_running_(prometheus::BuildGauge()
                              .Name("ner_train_jobs_running")
                              .Help("Training jobs running")
                              .Register(registry)
                              .Add({})),
      train_steps_(prometheus::BuildCounter()
                       .Name("ner_train_steps_total")
                       .Help("Optimisation steps done by training jobs")
                       .Register(registry)
                       .Add({})),
      train_jobs_resumed_(prometheus::BuildCounter()
                              .Name("ner_train_jobs_resumed_total")
                              .Help("Training jobs resumed after a server restart")
                              .Register(registry)
                              .Add({})),
      train_progress_(prometheus::BuildGauge()
                          .Name("ner_train_progress_ratio")
                          .Help("Share of the planned steps done by the latest training job")
                          .Register(registry)
                          .Add({})),
      train_loss_(prometheus::BuildGauge()
                      .Name("ner_train_loss")
                      .Help("Latest training loss (CRF negative log-likelihood per sequence)")
                      .Register(registry)
                      .Add({})),
      train_dev_f1_(prometheus::BuildGauge()
                        .Name("ner_train_dev_f1")
                        .Help("Dev-set entity F1 of the latest training evaluation, in [0, 1]")
                        .Register(registry)
                        .Add({})),
      queue_wait_(prometheus::BuildHistogram()
                      .Name("ner_queue_wait_seconds")
                      .Help("Time a piece waited in the batching queue before its batch formed")
                      .Register(registry)
                      .Add({}, LatencyBuckets())),
      padding_ratio_(prometheus::BuildHistogram()
                         .Name("ner_batch_padding_ratio")
                         .Help("Share of a batch's token slots that are padding")
                         .Register(registry)
                         .Add({}, prometheus::Histogram::BucketBoundaries{
                                      0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9})) {
  prometheus::BuildGauge()
      .Name("ner_build_info")
      .Help("1, labelled with the server's version")
      .Register(registry)
      .Add({{"version", CodeVersion()}})
      .Set(1);
  auto& latency = prometheus::BuildHistogram()
                      .Name("ner_request_latency_seconds")
                      .Help("RPC latency, from the start of the call to its status")
                      .Register(registry);
  for (int m = 0; m < kNumRpcMethods; ++m) {
    const std::string method(RpcMethodName(static_cast<RpcMethod>(m)));
    latency_[m] = &latency.Add({{"method", method}}, LatencyBuckets());
    for (auto& counter : request_counters_[m]) counter.store(nullptr, std::memory_order_relaxed);
  }
}

void ServerMetrics::RpcStarted() { inflight_.Increment(); }

void ServerMetrics::RpcFinished(RpcMethod method, absl::StatusCode code, absl::Duration latency) {
  const int m = static_cast<int>(method);
  int c = static_cast<int>(code);
  if (c < 0 || c > 16) c = static_cast<int>(absl::StatusCode::kUnknown);
  std::atomic<prometheus::Counter*>& slot = request_counters_[m][c];
  prometheus::Counter* counter = slot.load(std::memory_order_acquire);
  if (counter == nullptr) {
    // Family::Add is thread-safe and returns the existing child for equal labels, so a race
    // here resolves to the same counter.
    counter =
        &requests_.Add({{"method", std::string(RpcMethodName(method))}, {"code", CodeName(c)}});
    slot.store(counter, std::memory_order_release);
  }
  counter->Increment();
  latency_[m]->Observe(absl::ToDoubleSeconds(latency));
  inflight_.Decrement();
}

void ServerMetrics::DocumentsRecognized(int64_t documents, int64_t characters) {
  documents_.Increment(static_cast<double>(documents));
  characters_.Increment(static_cast<double>(characters));
}

prometheus::Counter* ServerMetrics::EntityCounter(absl::string_view type) {
  {
    absl::ReaderMutexLock lock(&mu_);
    const auto it = entity_counters_.find(type);
    if (it != entity_counters_.end()) return it->second;
  }
  absl::MutexLock lock(&mu_);
  prometheus::Counter*& counter = entity_counters_[std::string(type)];
  if (counter == nullptr) counter = &entities_.Add({{"type", std::string(type)}});
  return counter;
}

void ServerMetrics::EntitiesReturned(absl::string_view type, int64_t count) {
  EntityCounter(type)->Increment(static_cast<double>(count));
}

void ServerMetrics::SetQueueDepth(int64_t pieces) { queue_depth_.Set(static_cast<double>(pieces)); }

void ServerMetrics::SetQueueCapacity(int64_t pieces) {
  queue_capacity_.Set(static_cast<double>(pieces));
}

void ServerMetrics::SetTrainJobsRunning(int64_t jobs) {
  train_jobs_running_.Set(static_cast<double>(jobs));
}

void ServerMetrics::TrainJobResumed() { train_jobs_resumed_.Increment(); }

void ServerMetrics::TrainStepsDone(int64_t steps) {
  train_steps_.Increment(static_cast<double>(steps));
}

void ServerMetrics::OnBatch(const BatchReport& report) {
  batch_size_.Observe(static_cast<double>(report.size));
  batch_tokens_.Observe(static_cast<double>(report.tokens));
  batch_latency_.Observe(absl::ToDoubleSeconds(report.run_time));
  if (report.padded_tokens > 0) {
    padding_ratio_.Observe(1.0 - static_cast<double>(report.tokens) /
                                     static_cast<double>(report.padded_tokens));
  }
  for (absl::Duration wait : report.queue_waits) {
    queue_wait_.Observe(absl::ToDoubleSeconds(wait));
  }
}

void ServerMetrics::TrainProgress(double fraction, double loss, std::optional<double> dev_f1) {
  train_progress_.Set(fraction);
  if (loss > 0) train_loss_.Set(loss);
  if (dev_f1) train_dev_f1_.Set(*dev_f1);
}

void ServerMetrics::OnModelLoaded(const ServedModel& model, const ServedModel* replaced) {
  // Resolve the entity children now, so the first request finds them.
  for (const std::string& type : model.entity_types) EntityCounter(type);
  absl::MutexLock lock(&mu_);  // orders the info series of concurrent loads
  if (replaced != nullptr) {
    const prometheus::Labels old{{"name", replaced->name},
                                 {"version", replaced->version},
                                 {"variant", VariantOf(*replaced)}};
    if (replaced->version != model.version && model_info_.Has(old)) {
      model_info_.Remove(&model_info_.Add(old));
    }
  } else {
    model_loaded_.Increment();
  }
  model_info_.Add({{"name", model.name}, {"version", model.version}, {"variant", VariantOf(model)}})
      .Set(1);
}

void ServerMetrics::OnModelUnloaded(const ServedModel& model) {
  absl::MutexLock lock(&mu_);
  model_loaded_.Decrement();
  const prometheus::Labels labels{
      {"name", model.name}, {"version", model.version}, {"variant", VariantOf(model)}};
  if (model_info_.Has(labels)) model_info_.Remove(&model_info_.Add(labels));
}

}  // namespace ner::server
