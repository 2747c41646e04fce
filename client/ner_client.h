#ifndef NER_CLIENT_NER_CLIENT_H_
#define NER_CLIENT_NER_CLIENT_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/client_options.h"
#include "client/retry.h"
#include "ner/v1/ner.grpc.pb.h"
#include "ner/v1/ner.pb.h"

namespace ner::client {

// Receives each event of a training job (a full snapshot: see v1::TrainEvent). Return false to
// stop watching; the job keeps running on the server. Called on the calling thread.
using TrainEventCallback = std::function<bool(const v1::TrainEvent& event)>;

// How RecognizeBulk streams.
struct BulkOptions {
  // Options of the whole stream (model, entity types, minimum score).
  v1::RecognizeOptions recognize;
  // Documents sent and not yet answered, >= 1. The server reads no further while its own limit
  // (--stream_max_inflight, default 64) is reached, so more than that only fills buffers.
  int max_in_flight = 64;
  // Documents per stream message, 1 to the server's --max_documents_per_request (256).
  int max_documents_per_message = 16;
  // When it turns true the run stops: the stream is cancelled and RecognizeBulk returns
  // CANCELLED. Checked at least every 100 ms. May be null.
  const std::atomic<bool>* stop = nullptr;
};

// The final outcome of one document of RecognizeBulk.
struct BulkResult {
  // The document as the source gave it.
  v1::Document document;
  // Its entities (DocumentResult.id is document.id), or why it failed after any retries:
  // INVALID_ARGUMENT (bad UTF-8, text too long), DEADLINE_EXCEEDED, or a retryable code whose
  // attempts ran out.
  absl::StatusOr<v1::DocumentResult> result;
  // The model that served it (empty on failure).
  std::string model_name;
  std::string model_version;
  // Attempts made, >= 1.
  int attempts = 1;
};

// Supplies RecognizeBulk's documents one at a time: a document, nullopt at the end, or an error
// that stops the run (returned by RecognizeBulk). Ids may be anything, also empty or repeated:
// the stream uses ids of its own and gives the document back in its BulkResult. Called on the
// calling thread, only when a document can be sent.
using DocumentSource = std::function<absl::StatusOr<std::optional<v1::Document>>()>;

// Receives every document's final outcome exactly once, in completion order (not input order),
// on the calling thread. A non-OK return stops the run; RecognizeBulk returns that status.
using ResultSink = std::function<absl::Status(BulkResult result)>;

// A client of ner.v1.NerService (see docs/api.md for each RPC and docs/client.md for use).
//
// Every RPC returns the server's gRPC status mapped one to one onto absl::Status (client/status.h),
// after the retries of ClientOptions::retry: UNAVAILABLE and RESOURCE_EXHAUSTED are retried with
// capped exponential backoff and jitter, every other code is returned at once. Unary calls are
// idempotent on this API (LoadModel replaces under the same name, CancelTrainJob of a finished
// job is a no-op; an UnloadModel whose answer was lost is NOT_FOUND when retried) and are retried
// as a whole. Train is not idempotent; see Train().
//
// Thread-safe: one client (one channel) serves any number of threads.
class NerClient {
 public:
  // Opens a channel to options.target (plaintext, or TLS with options.tls; the PEM files are
  // read here). INVALID_ARGUMENT for bad options, NOT_FOUND for a missing PEM file. Connecting
  // is lazy: an unreachable server shows up as UNAVAILABLE on the first call.
  static absl::StatusOr<std::unique_ptr<NerClient>> Create(ClientOptions options);

  // Uses `channel` as given (options.target and options.tls are ignored): for in-process
  // channels and custom channel arguments.
  static absl::StatusOr<std::unique_ptr<NerClient>> Create(std::shared_ptr<grpc::Channel> channel,
                                                           ClientOptions options);

  NerClient(const NerClient&) = delete;
  NerClient& operator=(const NerClient&) = delete;

  const ClientOptions& options() const { return options_; }

  // Recognize: one result per document, in request order.
  absl::StatusOr<v1::RecognizeResponse> Recognize(const v1::RecognizeRequest& request);
  // One text (id "0"): its entities.
  absl::StatusOr<v1::DocumentResult> RecognizeText(absl::string_view text,
                                                   const v1::RecognizeOptions& options = {});

  // Streams any number of documents through RecognizeStream with at most
  // options.max_in_flight unanswered: pulls documents from `source` while there is room and
  // hands each document's final outcome to `sink` (exactly once per document).
  //
  // Retries: a document answered with an in-band UNAVAILABLE or RESOURCE_EXHAUSTED is sent again
  // after a backoff, up to retry.max_attempts attempts; a stream that fails with one of those
  // codes is reopened after a backoff and its unanswered documents sent again (up to
  // max_attempts consecutive stream failures without a single answer in between).
  //
  // Returns OK once the source is exhausted and every document has been handed to the sink;
  // the status of a stream that failed for good (e.g. NOT_FOUND for an unknown model), the
  // source's or the sink's error, or CANCELLED on options.stop. After an error the documents in
  // flight get no outcome.
  absl::Status RecognizeBulk(const DocumentSource& source, const ResultSink& sink,
                             const BulkOptions& options);

  // Starts a training job and calls `on_event` with each of its events until the job ends
  // (or `on_event` returns false); returns the last event seen. A job that ends FAILED or
  // CANCELLED is still an OK result: look at its `state` and `error`.
  //
  // Never submits a job twice: the submission is retried only while the server provably has not
  // accepted it (RESOURCE_EXHAUSTED: all job slots busy; UNAVAILABLE before any event, after
  // checking with ListTrainJobs that no job with this very request appeared). Once an event
  // names the job, a broken stream is resumed with WatchTrainJob.
  absl::StatusOr<v1::TrainEvent> Train(const v1::TrainRequest& request,
                                       const TrainEventCallback& on_event);

  // The job's request, latest event and times. NOT_FOUND for an unknown id.
  absl::StatusOr<v1::TrainJob> GetTrainJob(const std::string& job_id);

  // Like Train for a job that already runs: its events from its latest one until it ends (or
  // `on_event` returns false); reattaches after retryable stream failures, and for up to
  // options.train_restart_wait after the server said it restarts under the job.
  absl::StatusOr<v1::TrainEvent> WatchTrainJob(const std::string& job_id,
                                               const TrainEventCallback& on_event);

  // Asks the job to stop at its next step; returns the job. A finished job is returned as is.
  absl::StatusOr<v1::TrainJob> CancelTrainJob(const std::string& job_id);

  // Every job the server remembers, newest first.
  absl::StatusOr<std::vector<v1::TrainJob>> ListTrainJobs();

  // Scores a model on labelled data (entity-level exact match).
  absl::StatusOr<v1::EvaluateResponse> Evaluate(const v1::EvaluateRequest& request);

  // Loaded models and the default name.
  absl::StatusOr<v1::ListModelsResponse> ListModels();
  // One model; empty name = the default model.
  absl::StatusOr<v1::ModelInfo> GetModel(const std::string& name);
  // Loads the checkpoint at `path` (under the server's model root) as `name`.
  absl::StatusOr<v1::ModelInfo> LoadModel(const std::string& name, const std::string& path);
  // Stops serving `name` (not the default model); the model as it was, serving false.
  absl::StatusOr<v1::ModelInfo> UnloadModel(const std::string& name);

 private:
  NerClient(std::shared_ptr<grpc::Channel> channel, ClientOptions options);

  // Sets the bearer token and, for unary calls, the deadline of one attempt.
  void PrepareContext(grpc::ClientContext* context, bool unary) const;

  // Runs `call` (one attempt on a fresh context) with the retry policy.
  template <typename Response>
  absl::StatusOr<Response> CallUnary(
      absl::string_view method,
      const std::function<grpc::Status(grpc::ClientContext*, Response*)>& call);

  // Sleeps before retry `retry` of `method` (after notifying options_.on_retry).
  void WaitBeforeRetry(absl::string_view method, int retry, const absl::Status& status);

  // WatchTrainJob, after `seen` (the last event a Train stream delivered, if any).
  absl::StatusOr<v1::TrainEvent> FollowTrainJob(const std::string& job_id,
                                                const TrainEventCallback& on_event,
                                                const std::optional<v1::TrainEvent>& seen);

  // One Train or WatchTrainJob stream: reads events into `last` (job id into `job_id` from the
  // first one) until the stream ends; `stopped` is set when on_event returned false.
  absl::Status ReadTrainStream(grpc::ClientContext* context,
                               grpc::ClientReaderInterface<v1::TrainEvent>* reader,
                               const TrainEventCallback& on_event,
                               std::optional<v1::TrainEvent>* last, bool* stopped);

  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::NerService::Stub> stub_;
  Backoff backoff_;

  friend class BulkStream;
};

// True for the final states of a job: SUCCEEDED, FAILED, CANCELLED. Pure.
bool IsFinalTrainState(v1::TrainJobState state);

}  // namespace ner::client

#endif  // NER_CLIENT_NER_CLIENT_H_
