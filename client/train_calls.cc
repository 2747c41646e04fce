// NerClient's training streams: Train (submit once, then follow) and WatchTrainJob (follow,
// reattaching after retryable failures).

#include <google/protobuf/util/message_differencer.h>

#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/ner_client.h"
#include "client/status.h"

namespace ner::client {
namespace {

absl::Status GaveUp(const absl::Status& status, int attempts) {
  if (attempts <= 1) return status;
  return absl::Status(status.code(),
                      absl::StrCat(status.message(), " (gave up after ", attempts, " attempts)"));
}

}  // namespace

absl::Status NerClient::ReadTrainStream(grpc::ClientContext* context,
                                        grpc::ClientReaderInterface<v1::TrainEvent>* reader,
                                        const TrainEventCallback& on_event,
                                        std::optional<v1::TrainEvent>* last, bool* stopped) {
  v1::TrainEvent event;
  while (reader->Read(&event)) {
    *last = event;
    if (on_event && !on_event(event)) {
      // Detach: only this stream ends; the job belongs to the server.
      *stopped = true;
      context->TryCancel();
      while (reader->Read(&event)) {
      }
      reader->Finish().IgnoreError();
      return absl::OkStatus();
    }
  }
  return FromGrpcStatus(reader->Finish());
}

absl::StatusOr<v1::TrainEvent> NerClient::Train(const v1::TrainRequest& request,
                                                const TrainEventCallback& on_event) {
  // The jobs before submitting, to recognise ours if a submission fails without an answer.
  absl::StatusOr<std::vector<v1::TrainJob>> before = ListTrainJobs();
  if (!before.ok()) return before.status();
  std::set<std::string> known;
  for (const v1::TrainJob& job : *before) known.insert(job.job_id());

  for (int attempt = 1;; ++attempt) {
    grpc::ClientContext context;
    PrepareContext(&context, /*unary=*/false);
    std::unique_ptr<grpc::ClientReader<v1::TrainEvent>> reader = stub_->Train(&context, request);
    std::optional<v1::TrainEvent> last;
    bool stopped = false;
    const absl::Status status = ReadTrainStream(&context, reader.get(), on_event, &last, &stopped);
    if (last.has_value()) {
      // The server accepted the job: never submit again, follow it instead.
      if (stopped || IsFinalTrainState(last->state())) return *std::move(last);
      return FollowTrainJob(last->job_id(), on_event, last);
    }
    if (status.ok()) {
      return absl::InternalError("the Train stream ended without any event");
    }
    if (!IsRetryable(status) || attempt >= options_.retry.max_attempts) {
      return GaveUp(status, attempt);
    }
    if (status.code() == absl::StatusCode::kUnavailable) {
      // RESOURCE_EXHAUSTED is a refusal, but UNAVAILABLE may also be a connection lost after the
      // server accepted the job and before its first event arrived: look for the job first.
      absl::StatusOr<std::vector<v1::TrainJob>> now = ListTrainJobs();
      if (!now.ok()) return now.status();
      for (const v1::TrainJob& job : *now) {
        if (known.count(job.job_id()) == 0 &&
            google::protobuf::util::MessageDifferencer::Equals(job.request(), request)) {
          return WatchTrainJob(job.job_id(), on_event);
        }
      }
    }
    WaitBeforeRetry("Train", attempt, status);
  }
}

absl::StatusOr<v1::TrainEvent> NerClient::WatchTrainJob(const std::string& job_id,
                                                        const TrainEventCallback& on_event) {
  return FollowTrainJob(job_id, on_event, std::nullopt);
}

absl::StatusOr<v1::TrainEvent> NerClient::FollowTrainJob(
    const std::string& job_id, const TrainEventCallback& on_event,
    const std::optional<v1::TrainEvent>& seen) {
  v1::WatchTrainJobRequest request;
  request.set_job_id(job_id);
  int failures = 0;  // consecutive streams that ended without an event
  // Set while the server is restarting under the job: until then UNAVAILABLE is retried beyond
  // the policy's attempts.
  std::optional<absl::Time> restart_deadline;
  auto note_restart = [&](const v1::TrainEvent& event) {
    restart_deadline.reset();
    if (event.phase() == v1::TRAIN_PHASE_INTERRUPTED) {
      restart_deadline = absl::Now() + options_.train_restart_wait;
    }
  };
  if (seen.has_value()) note_restart(*seen);
  for (;;) {
    grpc::ClientContext context;
    PrepareContext(&context, /*unary=*/false);
    std::unique_ptr<grpc::ClientReader<v1::TrainEvent>> reader =
        stub_->WatchTrainJob(&context, request);
    std::optional<v1::TrainEvent> last;
    bool stopped = false;
    absl::Status status = ReadTrainStream(&context, reader.get(), on_event, &last, &stopped);
    if (last.has_value()) {
      if (stopped || IsFinalTrainState(last->state())) return *std::move(last);
      failures = 0;
      note_restart(*last);
    }
    if (status.ok()) {
      // The server ends a watch only after the final event; anything else is a broken stream.
      status = absl::UnavailableError(
          absl::StrCat("the event stream of job ", job_id, " ended before the job did"));
    }
    ++failures;
    // While the server restarts, a watch that reaches it in the moment its gRPC server shuts
    // down ends CANCELLED (grpc/grpc#41785) though this client cancelled nothing: a watch only
    // reads, so that is retried too.
    const bool awaiting_restart = restart_deadline.has_value() && absl::Now() < *restart_deadline &&
                                  (status.code() == absl::StatusCode::kUnavailable ||
                                   status.code() == absl::StatusCode::kCancelled);
    if (!awaiting_restart && (!IsRetryable(status) || failures >= options_.retry.max_attempts)) {
      return GaveUp(status, failures);
    }
    WaitBeforeRetry("WatchTrainJob", failures, status);
  }
}

}  // namespace ner::client
