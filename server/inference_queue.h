#ifndef NER_SERVER_INFERENCE_QUEUE_H_
#define NER_SERVER_INFERENCE_QUEUE_H_

#include <functional>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "model/recognizer.h"
#include "server/batcher.h"
#include "server/clock.h"
#include "server/metrics.h"
#include "server/model_registry.h"

namespace ner::server {

// Entities per document, in document order; each document's entities sorted by begin_char.
using RecognizeResult = absl::StatusOr<std::vector<std::vector<model::RecognizedEntity>>>;

// What Submit needs besides the documents.
struct Submission {
  // The model every piece runs on; held until the submission completes, so a hot swap does not
  // affect it.
  std::shared_ptr<const ServedModel> model;
  // Pieces still queued at this time complete with DEADLINE_EXCEEDED (the RPC's deadline).
  absl::Time deadline = absl::InfiniteFuture();
  // True once the caller gave up (the RPC was cancelled): queued pieces are then dropped with
  // CANCELLED. Polled under the batcher's lock: cheap, thread-safe, no calls into the queue.
  // May be empty.
  std::function<bool()> is_cancelled;
  // Called exactly once, with the entities or the first error of any piece (after which the
  // submission's other queued pieces are dropped). Runs on a batcher worker, or on the thread
  // calling Submit when there is nothing to run (only empty documents), or on the thread calling
  // Shutdown. Must not call Shutdown.
  std::function<void(RecognizeResult)> done;
};

// The serving path's dynamic batching: every piece of every submitted document becomes one
// BatchTask (cost = its tokens) of a Batcher, whose runner calls Recognizer::RunBatch on the
// pieces of a batch, grouped by model (a batch may mix models; each group runs as one model
// batch). The pieces' entities are put back together per document in piece order, so the result
// equals recognising each piece alone. Thread-safe.
class InferenceQueue {
 public:
  // `metrics` (not owned, may be null) observes the batcher and the queue depth and must outlive
  // the queue; so must `clock`. Errors of Batcher::Create.
  static absl::StatusOr<std::unique_ptr<InferenceQueue>> Create(const BatcherOptions& options,
                                                                ServerMetrics* metrics,
                                                                const Clock* clock = Clock::Real());

  // Shutdown(/*drain=*/true).
  ~InferenceQueue();
  InferenceQueue(const InferenceQueue&) = delete;
  InferenceQueue& operator=(const InferenceQueue&) = delete;

  // Queues all pieces of `documents` (prepared by submission.model's recognizer) or none. On OK,
  // `submission.done` will be called exactly once; on error it is not called and the error is
  // the batcher's: RESOURCE_EXHAUSTED (queue full), UNAVAILABLE (shutting down),
  // INVALID_ARGUMENT (more pieces than the queue can ever hold).
  absl::Status Submit(std::vector<model::PreparedDocument> documents, Submission submission);

  // Stops accepting submissions; with `drain` the queued pieces still run, otherwise they
  // complete with UNAVAILABLE. Returns when the workers have exited. Idempotent.
  void Shutdown(bool drain);

  BatcherStats GetStats() const { return batcher_->GetStats(); }

 private:
  InferenceQueue(ServerMetrics* metrics, const Clock* clock) : metrics_(metrics), clock_(clock) {}

  // The BatchRunner.
  absl::Status RunBatch(absl::Span<BatchTask* const> batch);
  void UpdateQueueDepth();

  ServerMetrics* const metrics_;
  const Clock* const clock_;
  std::unique_ptr<Batcher> batcher_;
};

}  // namespace ner::server

#endif  // NER_SERVER_INFERENCE_QUEUE_H_
