// NerClient::RecognizeBulk: any number of documents through RecognizeStream with a bounded number
// in flight, per-document retries and stream reconnects.
//
// Threads: the calling thread pulls documents, writes messages and calls the sink; one reader
// thread per stream only reads responses into a queue. Only the calling thread touches the
// stream's writing side and Finish(), so no gRPC operation of one kind ever runs twice at once.
//
// Ids: documents travel under ids of the stream's own ("0", "1", ...), unique over the run, so
// callers' ids may be empty or repeated and a document retried on a new stream cannot collide.

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/ner_client.h"
#include "client/status.h"

namespace ner::client {

class BulkStream {
 public:
  BulkStream(NerClient* client, const DocumentSource& source, const ResultSink& sink,
             const BulkOptions& options)
      : client_(client), source_(source), sink_(sink), options_(options) {}

  ~BulkStream() { CloseStream(/*cancel=*/true).IgnoreError(); }

  absl::Status Run();

 private:
  // A document between the source and the sink.
  struct Pending {
    std::string wire_id;
    v1::Document document;
    int attempts = 0;  // messages that carried it
  };

  // What the reader thread hands over.
  struct Inbox {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<v1::RecognizeStreamResponse> responses;
    bool read_done = false;
  };

  absl::Status Loop();
  // Pulls the next source document into lookahead_ unless there is one or the source is done.
  absl::Status FillLookahead();
  bool StopRequested() const { return options_.stop != nullptr && options_.stop->load(); }
  // Something to send now or later.
  bool HasWork() const {
    return lookahead_.has_value() || !retries_.empty() || !in_flight_.empty();
  }
  void OpenStream();
  // Ends the current stream (cancelling it first when asked) and returns its status.
  absl::Status CloseStream(bool cancel);
  // Writes messages while there is room and something to send.
  absl::Status SendAvailable();
  absl::Status HandleResponse(v1::RecognizeStreamResponse& response);
  void Retry(Pending pending, const absl::Status& status, int retry);

  NerClient* const client_;
  const DocumentSource& source_;
  const ResultSink& sink_;
  const BulkOptions& options_;

  std::optional<v1::Document> lookahead_;
  bool source_done_ = false;
  uint64_t next_wire_id_ = 0;
  std::unordered_map<std::string, Pending> in_flight_;  // sent and unanswered, by wire id
  std::multimap<absl::Time, Pending> retries_;          // waiting for their retry time
  absl::Time reopen_after_ = absl::InfinitePast();      // no new stream before (backoff)

  // The current stream.
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::RecognizeStreamRequest, v1::RecognizeStreamResponse>>
      stream_;
  std::shared_ptr<Inbox> inbox_;
  std::thread reader_;
  bool options_sent_ = false;
  bool write_failed_ = false;
  bool writes_done_ = false;
};

absl::Status BulkStream::Run() {
  if (options_.max_in_flight < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_in_flight must be >= 1, got ", options_.max_in_flight));
  }
  if (options_.max_documents_per_message < 1) {
    return absl::InvalidArgumentError(absl::StrCat("max_documents_per_message must be >= 1, got ",
                                                   options_.max_documents_per_message));
  }
  absl::Status status = Loop();
  CloseStream(/*cancel=*/true).IgnoreError();
  return status;
}

absl::Status BulkStream::FillLookahead() {
  if (lookahead_.has_value() || source_done_) return absl::OkStatus();
  absl::StatusOr<std::optional<v1::Document>> next = source_();
  if (!next.ok()) return next.status();
  if (next->has_value()) {
    lookahead_ = std::move(**next);
  } else {
    source_done_ = true;
  }
  return absl::OkStatus();
}

void BulkStream::OpenStream() {
  context_ = std::make_unique<grpc::ClientContext>();
  client_->PrepareContext(context_.get(), /*unary=*/false);
  stream_ = client_->stub_->RecognizeStream(context_.get());
  inbox_ = std::make_shared<Inbox>();
  options_sent_ = false;
  write_failed_ = false;
  writes_done_ = false;
  reader_ = std::thread([stream = stream_.get(), inbox = inbox_] {
    v1::RecognizeStreamResponse response;
    while (stream->Read(&response)) {
      std::lock_guard<std::mutex> lock(inbox->mu);
      inbox->responses.push_back(std::move(response));
      response.Clear();
      inbox->cv.notify_one();
    }
    std::lock_guard<std::mutex> lock(inbox->mu);
    inbox->read_done = true;
    inbox->cv.notify_one();
  });
}

absl::Status BulkStream::CloseStream(bool cancel) {
  if (stream_ == nullptr) return absl::OkStatus();
  if (cancel) context_->TryCancel();
  reader_.join();
  absl::Status status = FromGrpcStatus(stream_->Finish());
  stream_.reset();
  context_.reset();
  inbox_.reset();
  return status;
}

void BulkStream::Retry(Pending pending, const absl::Status& status, int retry) {
  const absl::Duration wait = client_->backoff_.Delay(retry);
  if (client_->options_.on_retry) {
    client_->options_.on_retry("RecognizeStream", retry, status, wait);
  }
  retries_.emplace(absl::Now() + wait, std::move(pending));
}

absl::Status BulkStream::SendAvailable() {
  if (stream_ == nullptr || write_failed_ || writes_done_) return absl::OkStatus();
  const size_t max_in_flight = static_cast<size_t>(options_.max_in_flight);
  for (;;) {
    v1::RecognizeStreamRequest request;
    const absl::Time now = absl::Now();
    while (in_flight_.size() < max_in_flight &&
           request.documents_size() < options_.max_documents_per_message) {
      Pending pending;
      if (!retries_.empty() && retries_.begin()->first <= now) {
        pending = std::move(retries_.begin()->second);
        retries_.erase(retries_.begin());
      } else {
        if (absl::Status s = FillLookahead(); !s.ok()) return s;
        if (!lookahead_.has_value()) break;
        pending.wire_id = absl::StrCat(next_wire_id_++);
        pending.document = std::move(*lookahead_);
        lookahead_.reset();
      }
      ++pending.attempts;
      v1::Document* document = request.add_documents();
      document->set_id(pending.wire_id);
      document->set_text(pending.document.text());
      std::string key = pending.wire_id;
      in_flight_.emplace(std::move(key), std::move(pending));
    }
    if (request.documents_size() == 0) return absl::OkStatus();
    // Options go with the first message of each stream, and only with it.
    if (!options_sent_) *request.mutable_options() = options_.recognize;
    options_sent_ = true;
    if (!stream_->Write(request)) {
      // The stream is over; the reader sees its end and Loop() learns why from Finish().
      write_failed_ = true;
      return absl::OkStatus();
    }
  }
}

absl::Status BulkStream::HandleResponse(v1::RecognizeStreamResponse& response) {
  auto it = in_flight_.find(response.id());
  if (it == in_flight_.end()) {
    return absl::InternalError(
        absl::StrCat("the server answered document id \"", response.id(), "\", never sent"));
  }
  Pending pending = std::move(it->second);
  in_flight_.erase(it);

  BulkResult result;
  result.attempts = pending.attempts;
  switch (response.outcome_case()) {
    case v1::RecognizeStreamResponse::kResult:
      result.result = std::move(*response.mutable_result());
      result.result->set_id(pending.document.id());
      result.model_name = response.model_name();
      result.model_version = response.model_version();
      break;
    case v1::RecognizeStreamResponse::kError: {
      const absl::Status status = FromRpcStatus(response.error());
      if (IsRetryable(status) && pending.attempts < client_->options_.retry.max_attempts) {
        const int retry = pending.attempts;
        Retry(std::move(pending), status, retry);
        return absl::OkStatus();
      }
      result.result =
          pending.attempts <= 1
              ? status
              : absl::Status(status.code(), absl::StrCat(status.message(), " (gave up after ",
                                                         pending.attempts, " attempts)"));
      break;
    }
    case v1::RecognizeStreamResponse::OUTCOME_NOT_SET:
      result.result = absl::InternalError("the server sent neither a result nor an error");
      break;
  }
  result.document = std::move(pending.document);
  return sink_(std::move(result));
}

absl::Status BulkStream::Loop() {
  constexpr absl::Duration kPoll = absl::Milliseconds(100);
  const int max_attempts = client_->options_.retry.max_attempts;
  int stream_failures = 0;  // consecutive streams that failed without answering anything
  for (;;) {
    if (StopRequested()) return absl::CancelledError("stopped before the end of the input");

    if (stream_ == nullptr) {
      if (absl::Status s = FillLookahead(); !s.ok()) return s;
      if (!HasWork()) return absl::OkStatus();
      // After a failed stream, the backoff; with only retries left, the first one's time.
      absl::Time not_before = reopen_after_;
      if (!lookahead_.has_value() && in_flight_.empty()) {
        not_before = std::max(not_before, retries_.begin()->first);
      }
      if (const absl::Time now = absl::Now(); not_before > now) {
        absl::SleepFor(std::min(kPoll, not_before - now));
        continue;
      }
      OpenStream();
    }

    std::deque<v1::RecognizeStreamResponse> responses;
    bool read_done;
    {
      std::lock_guard<std::mutex> lock(inbox_->mu);
      responses.swap(inbox_->responses);
      read_done = inbox_->read_done;
    }
    for (v1::RecognizeStreamResponse& response : responses) {
      stream_failures = 0;
      if (absl::Status s = HandleResponse(response); !s.ok()) return s;
      if (StopRequested()) return absl::CancelledError("stopped before the end of the input");
    }

    if (read_done) {
      // Every response was queued before read_done was set, so all are handled by now.
      absl::Status status = CloseStream(/*cancel=*/false);
      if (status.ok() && in_flight_.empty()) continue;  // done, or more to send on a new stream
      if (status.ok()) {
        status = absl::UnavailableError(
            absl::StrCat("the stream ended with ", in_flight_.size(), " documents unanswered"));
      }
      ++stream_failures;
      if (!IsRetryable(status) || stream_failures >= max_attempts) {
        if (stream_failures <= 1) return status;
        return absl::Status(status.code(), absl::StrCat(status.message(), " (gave up after ",
                                                        stream_failures, " attempts)"));
      }
      // Send the unanswered documents again on a new stream, after a backoff.
      const absl::Duration wait = client_->backoff_.Delay(stream_failures);
      if (client_->options_.on_retry) {
        client_->options_.on_retry("RecognizeStream", stream_failures, status, wait);
      }
      reopen_after_ = absl::Now() + wait;
      for (auto& [wire_id, pending] : in_flight_) {
        retries_.emplace(reopen_after_, std::move(pending));
      }
      in_flight_.clear();
      continue;
    }

    if (absl::Status s = SendAvailable(); !s.ok()) return s;
    if (!writes_done_ && !write_failed_ && source_done_ && !HasWork()) {
      stream_->WritesDone();
      writes_done_ = true;
    }

    absl::Time until = absl::Now() + kPoll;
    if (!retries_.empty()) until = std::min(until, retries_.begin()->first);
    std::unique_lock<std::mutex> lock(inbox_->mu);
    inbox_->cv.wait_until(lock, absl::ToChronoTime(until),
                          [&] { return !inbox_->responses.empty() || inbox_->read_done; });
  }
}

absl::Status NerClient::RecognizeBulk(const DocumentSource& source, const ResultSink& sink,
                                      const BulkOptions& options) {
  BulkStream stream(this, source, sink, options);
  return stream.Run();
}

}  // namespace ner::client
