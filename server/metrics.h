#ifndef NER_SERVER_METRICS_H_
#define NER_SERVER_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "server/batcher.h"
#include "server/model_registry.h"

namespace ner::server {

// The RPCs of ner.v1.NerService, as the `method` label of the request metrics.
enum class RpcMethod {
  kRecognize,
  kRecognizeStream,
  kEvaluate,
  kTrain,
  kGetTrainJob,
  kWatchTrainJob,
  kCancelTrainJob,
  kListTrainJobs,
  kListModels,
  kGetModel,
  kLoadModel,
  kUnloadModel,
};
inline constexpr int kNumRpcMethods = 12;
// The RPC's name as in the proto, e.g. "Recognize".
absl::string_view RpcMethodName(RpcMethod method);

// The server's Prometheus metrics. Families are registered, and label children resolved, when
// the object is built (or, for label values only known later, once on first use and cached), so
// the hot path only increments and observes. Series:
//   ner_requests_total{method,code}           RPCs finished, by status code
//   ner_request_latency_seconds{method}       RPC latency (histogram)
//   ner_inflight_requests                     RPCs started and not yet finished
//   ner_documents_total, ner_characters_total documents recognised and their code points
//   ner_entities_total{type}                  entities returned (after filtering)
//   ner_queue_depth                           pieces waiting in the batching queue
//   ner_queue_capacity                        pieces the queue accepts (--max_queue_items)
//   ner_batch_size, ner_batch_tokens          pieces and tokens per batch (histograms)
//   ner_batch_latency_seconds                 model time per batch (histogram)
//   ner_model_loaded                          models serving
//   ner_queue_wait_seconds                    time pieces waited for their batch (histogram)
//   ner_batch_padding_ratio                   padding share of each batch (histogram)
//   ner_model_info{name,version,variant}      1 per serving model version
//   ner_train_jobs_running                    training jobs running
//   ner_train_steps_total                     optimisation steps of training jobs
//   ner_train_jobs_resumed_total              jobs resumed after a server restart
//   ner_train_progress_ratio, ner_train_loss, ner_train_dev_f1   the latest job's progress
//   ner_build_info{version}                   1, with the server's version
// Thread-safe.
class ServerMetrics : public BatcherObserver, public ModelRegistryObserver {
 public:
  // Registers the families in `registry`, which must outlive this object.
  explicit ServerMetrics(prometheus::Registry& registry);

  // An RPC began (ner_inflight_requests + 1).
  void RpcStarted();
  // An RPC begun with RpcStarted() ended with `code` after `latency`.
  void RpcFinished(RpcMethod method, absl::StatusCode code, absl::Duration latency);

  // Documents recognised successfully, with their total length in code points.
  void DocumentsRecognized(int64_t documents, int64_t characters);
  // `count` entities of `type` were returned.
  void EntitiesReturned(absl::string_view type, int64_t count);
  // Pieces waiting in the batching queue now, and how many it accepts (set once at start-up),
  // so that alerts compare the two instead of repeating the flag's value.
  void SetQueueDepth(int64_t pieces);
  void SetQueueCapacity(int64_t pieces);

  // Training jobs.
  void SetTrainJobsRunning(int64_t jobs);
  void TrainStepsDone(int64_t steps);
  void TrainJobResumed();
  // The latest job's share of planned steps done, its loss (ignored when <= 0) and dev F1.
  void TrainProgress(double fraction, double loss, std::optional<double> dev_f1);

  // BatcherObserver.
  void OnBatch(const BatchReport& report) override;

  // ModelRegistryObserver.
  void OnModelLoaded(const ServedModel& model, const ServedModel* replaced) override;
  void OnModelUnloaded(const ServedModel& model) override;

 private:
  prometheus::Counter* EntityCounter(absl::string_view type);

  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Counter>& entities_;
  prometheus::Family<prometheus::Gauge>& model_info_;
  // Children of requests_, resolved on first use: [method][code].
  std::array<std::array<std::atomic<prometheus::Counter*>, 17>, kNumRpcMethods> request_counters_;
  std::array<prometheus::Histogram*, kNumRpcMethods> latency_;
  prometheus::Gauge& inflight_;
  prometheus::Counter& documents_;
  prometheus::Counter& characters_;
  prometheus::Gauge& queue_depth_;
  prometheus::Gauge& queue_capacity_;
  prometheus::Histogram& batch_size_;
  prometheus::Histogram& batch_tokens_;
  prometheus::Histogram& batch_latency_;
  prometheus::Gauge& model_loaded_;
  prometheus::Gauge& train_jobs_running_;
  prometheus::Counter& train_steps_;
  prometheus::Counter& train_jobs_resumed_;
  prometheus::Gauge& train_progress_;
  prometheus::Gauge& train_loss_;
  prometheus::Gauge& train_dev_f1_;
  prometheus::Histogram& queue_wait_;
  prometheus::Histogram& padding_ratio_;

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, prometheus::Counter*> entity_counters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ner::server

#endif  // NER_SERVER_METRICS_H_
