#include "server/train_stream.h"

#include <memory>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/rpc_scope.h"
#include "server/train_request.h"
#include "server/wire_format.h"

namespace ner::server {
namespace {

// Owned by a shared_ptr to itself (self_) until OnDone, and by the job's listener, so a listener
// call in progress keeps it alive however the stream ends. gRPC operations are started outside
// mu_ (their reactions may run inline); a write and Finish never overlap because Finish is only
// called while no write is outstanding.
class TrainEventStream final : public grpc::ServerWriteReactor<grpc::ByteBuffer>,
                               public std::enable_shared_from_this<TrainEventStream> {
 public:
  TrainEventStream(TrainJobManager* jobs, std::unique_ptr<RpcScope> scope)
      : jobs_(jobs), scope_(std::move(scope)) {}

  void Start(std::shared_ptr<TrainEventStream> self, const std::string& job_id) {
    self_ = std::move(self);
    job_id_ = job_id;
    absl::StatusOr<int64_t> handle = jobs_->Subscribe(
        job_id, [stream = self_](const v1::TrainEvent& event) { stream->Offer(event); });
    if (!handle.ok()) {
      FinishOnce(handle.status());
      return;
    }
    absl::MutexLock lock(&mu_);
    handle_ = *handle;
  }

  // Ends the stream at once with `status` (a failed request).
  void Fail(std::shared_ptr<TrainEventStream> self, const absl::Status& status) {
    self_ = std::move(self);
    FinishOnce(status);
  }

  void FinishOnce(const absl::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
    }
    Finish(scope_->End(status));
  }

  // A new snapshot: written now, or kept as the next one to write (replacing an older one).
  void Offer(const v1::TrainEvent& event) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      if (writing_) {
        pending_ = event;
        return;
      }
      writing_ = true;
      buffer_ = event;
    }
    WriteBuffer();
  }

  void OnWriteDone(bool ok) override {
    bool finish = false;
    absl::Status status;
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      if (!ok || cancelled_) {
        writing_ = false;
        finished_ = true;
        finish = true;
        status = absl::CancelledError("the client went away; the job goes on");
      } else if (EndsEventStream(buffer_)) {
        writing_ = false;
        finished_ = true;
        finish = true;
        if (!IsFinalState(buffer_.state())) {
          // Interrupted by the shutdown: the client follows the job again after the restart.
          status = absl::UnavailableError(
              "the server is shutting down; the job resumes from its last epoch-end checkpoint "
              "when a server starts again on its model root: follow it with WatchTrainJob");
        }
      } else if (pending_) {
        buffer_ = *std::move(pending_);
        pending_.reset();
      } else {
        writing_ = false;
        return;
      }
    }
    if (finish) {
      Finish(scope_->End(status));
    } else {
      WriteBuffer();
    }
  }

  void OnCancel() override {
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      if (!writing_ && !finished_) {
        finished_ = true;
        finish = true;
      }
    }
    if (finish) Finish(scope_->End(absl::CancelledError("the client went away; the job goes on")));
  }

  void OnDone() override {
    int64_t handle;
    {
      absl::MutexLock lock(&mu_);
      handle = handle_;
    }
    if (handle != 0 && jobs_ != nullptr) jobs_->Unsubscribe(job_id_, handle);
    self_.reset();  // may delete this
  }

 private:
  // Starts writing buffer_ (the caller set writing_).
  void WriteBuffer() {
    bytes_ = ToByteBuffer(buffer_);
    StartWrite(&bytes_);
  }

  TrainJobManager* const jobs_;
  const std::unique_ptr<RpcScope> scope_;
  std::shared_ptr<TrainEventStream> self_;
  std::string job_id_;

  absl::Mutex mu_;
  int64_t handle_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  v1::TrainEvent buffer_;   // the event being written; owned by the write in progress
  grpc::ByteBuffer bytes_;  // buffer_ serialised, likewise
  std::optional<v1::TrainEvent> pending_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

grpc::ServerWriteReactor<grpc::ByteBuffer>* StartTrainEventStream(TrainJobManager* jobs,
                                                                  std::unique_ptr<RpcScope> scope,
                                                                  const std::string& job_id) {
  auto stream = std::make_shared<TrainEventStream>(jobs, std::move(scope));
  TrainEventStream* raw = stream.get();
  raw->Start(std::move(stream), job_id);
  return raw;
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* FailedTrainEventStream(std::unique_ptr<RpcScope> scope,
                                                                   const absl::Status& status) {
  auto stream = std::make_shared<TrainEventStream>(nullptr, std::move(scope));
  TrainEventStream* raw = stream.get();
  raw->Fail(std::move(stream), status);  // kept alive by its self_ until OnDone
  return raw;
}

}  // namespace ner::server
