#include "server/inference_queue.h"

#include <atomic>
#include <functional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "model/intra_op_threads.h"

namespace ner::server {
namespace {

using model::PreparedDocument;
using model::PreparedPiece;
using model::RecognizedEntity;

// The state shared by the pieces of one submission.
class Job {
 public:
  // `on_piece_failed` runs after a piece failed or was dropped, before the piece counts as done.
  Job(std::vector<PreparedDocument> documents, Submission submission, const Clock* clock,
      std::function<void()> on_piece_failed)
      : clock_(clock),
        on_piece_failed_(std::move(on_piece_failed)),
        documents_(std::move(documents)),
        submission_(std::move(submission)),
        entities_(documents_.size()) {
    for (size_t d = 0; d < documents_.size(); ++d) {
      entities_[d].resize(documents_[d].pieces.size());
      pieces_ += static_cast<int64_t>(documents_[d].pieces.size());
    }
    remaining_.store(pieces_, std::memory_order_relaxed);
  }

  int64_t pieces() const { return pieces_; }
  const std::vector<PreparedDocument>& documents() const { return documents_; }
  const Submission& submission() const { return submission_; }

  bool IsCancelled() const {
    return failed_.load(std::memory_order_relaxed) ||
           (submission_.is_cancelled && submission_.is_cancelled());
  }

  // Written by the runner of the piece's batch, read by Complete() after every piece is done
  // (the acq_rel countdown orders the two).
  std::vector<RecognizedEntity>& entities(size_t doc, size_t piece) {
    return entities_[doc][piece];
  }

  void PieceDone(absl::Status status) {
    if (!status.ok()) {
      {
        absl::MutexLock lock(&mu_);
        if (error_.ok()) error_ = std::move(status);
        failed_.store(true, std::memory_order_relaxed);
      }
      on_piece_failed_();
    }
    if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) Complete();
  }

  // Calls done once every piece is done (or at once when there is none).
  void Complete() {
    absl::Status error;
    {
      absl::MutexLock lock(&mu_);
      error = error_;
    }
    if (!error.ok()) {
      // gRPC cancels a call whose deadline passed, so pieces may see CANCELLED first; the
      // caller should still learn that it was the deadline.
      if (error.code() == absl::StatusCode::kCancelled && clock_->Now() >= submission_.deadline) {
        error = absl::DeadlineExceededError("the deadline passed before recognition finished");
      }
      submission_.done(std::move(error));
      return;
    }
    std::vector<std::vector<RecognizedEntity>> result(documents_.size());
    for (size_t d = 0; d < documents_.size(); ++d) {
      // Pieces are consecutive and each piece's entities are sorted, so appending in piece
      // order keeps the document's entities sorted.
      for (std::vector<RecognizedEntity>& piece : entities_[d]) {
        for (RecognizedEntity& entity : piece) result[d].push_back(std::move(entity));
      }
    }
    submission_.done(std::move(result));
  }

 private:
  const Clock* const clock_;
  const std::function<void()> on_piece_failed_;
  const std::vector<PreparedDocument> documents_;
  const Submission submission_;
  std::vector<std::vector<std::vector<RecognizedEntity>>> entities_;  // [document][piece]
  int64_t pieces_ = 0;
  std::atomic<int64_t> remaining_{0};
  std::atomic<bool> failed_{false};
  absl::Mutex mu_;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
};

// One piece of one document.
class PieceTask : public BatchTask {
 public:
  PieceTask(std::shared_ptr<Job> job, size_t doc, size_t piece)
      : BatchTask(static_cast<int64_t>(job->documents()[doc].pieces[piece].tokens.size()),
                  job->submission().deadline),
        job_(std::move(job)),
        doc_(doc),
        piece_(piece) {}

  bool IsCancelled() const override { return job_->IsCancelled(); }
  void Done(absl::Status status) override { job_->PieceDone(std::move(status)); }

  const ServedModel* model() const { return job_->submission().model.get(); }
  const PreparedDocument* document() const { return &job_->documents()[doc_]; }
  const PreparedPiece* piece() const { return &job_->documents()[doc_].pieces[piece_]; }
  std::vector<RecognizedEntity>& entities() { return job_->entities(doc_, piece_); }

 private:
  const std::shared_ptr<Job> job_;
  const size_t doc_;
  const size_t piece_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<InferenceQueue>> InferenceQueue::Create(
    const BatcherOptions& options, ServerMetrics* metrics, const Clock* clock) {
  std::unique_ptr<InferenceQueue> queue(new InferenceQueue(metrics, clock));
  absl::StatusOr<std::unique_ptr<Batcher>> batcher = Batcher::Create(
      options, [q = queue.get()](absl::Span<BatchTask* const> batch) { return q->RunBatch(batch); },
      clock, metrics);
  if (!batcher.ok()) return batcher.status();
  queue->batcher_ = *std::move(batcher);
  return queue;
}

InferenceQueue::~InferenceQueue() { Shutdown(/*drain=*/true); }

void InferenceQueue::Shutdown(bool drain) {
  batcher_->Shutdown(drain);
  UpdateQueueDepth();
}

absl::Status InferenceQueue::Submit(std::vector<PreparedDocument> documents,
                                    Submission submission) {
  if (submission.model == nullptr || !submission.done) {
    return absl::InvalidArgumentError("a submission needs a model and a completion callback");
  }
  // Pieces dropped from the queue (cancelled, expired) leave it without a batch running, when
  // the depth gauge is otherwise refreshed: refresh it then too, or it keeps counting them.
  auto job = std::make_shared<Job>(std::move(documents), std::move(submission), clock_,
                                   [this] { UpdateQueueDepth(); });
  if (job->pieces() == 0) {
    job->Complete();  // Only empty (or whitespace) documents: nothing to run.
    return absl::OkStatus();
  }
  std::vector<std::unique_ptr<BatchTask>> tasks;
  tasks.reserve(static_cast<size_t>(job->pieces()));
  for (size_t d = 0; d < job->documents().size(); ++d) {
    for (size_t p = 0; p < job->documents()[d].pieces.size(); ++p) {
      tasks.push_back(std::make_unique<PieceTask>(job, d, p));
    }
  }
  absl::Status status = batcher_->EnqueueAll(std::move(tasks));
  UpdateQueueDepth();
  return status;
}

absl::Status InferenceQueue::RunBatch(absl::Span<BatchTask* const> batch) {
  UpdateQueueDepth();
  // A batcher worker runs with the serving thread count, whatever a Train job set meanwhile.
  model::UseServingIntraOpThreads();
  // Group by model, keeping run order within each group. Usually there is a single group.
  std::vector<std::pair<const ServedModel*, std::vector<PieceTask*>>> groups;
  for (BatchTask* task : batch) {
    auto* piece = static_cast<PieceTask*>(task);
    auto it = groups.begin();
    while (it != groups.end() && it->first != piece->model()) ++it;
    if (it == groups.end()) {
      groups.emplace_back(piece->model(), std::vector<PieceTask*>());
      it = groups.end() - 1;
    }
    it->second.push_back(piece);
  }
  for (auto& [model, tasks] : groups) {
    std::vector<const PreparedPiece*> pieces;
    std::vector<const PreparedDocument*> documents;
    pieces.reserve(tasks.size());
    documents.reserve(tasks.size());
    for (PieceTask* task : tasks) {
      pieces.push_back(task->piece());
      documents.push_back(task->document());
    }
    absl::StatusOr<std::vector<std::vector<RecognizedEntity>>> entities =
        model->recognizer->RunBatch(pieces, documents);
    if (!entities.ok()) return entities.status();
    for (size_t i = 0; i < tasks.size(); ++i) tasks[i]->entities() = std::move((*entities)[i]);
  }
  return absl::OkStatus();
}

void InferenceQueue::UpdateQueueDepth() {
  if (metrics_ != nullptr) metrics_->SetQueueDepth(batcher_->GetStats().queued_tasks);
}

}  // namespace ner::server
