#include "bench/load/load_runner.h"

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bench/load/documents.h"
#include "client/status.h"
#include "ner/v1/ner.grpc.pb.h"

namespace ner::bench {
namespace {

using client::FromGrpcStatus;
using client::FromRpcStatus;
using client::StatusCodeName;

// State shared by the workers of one run.
struct Shared {
  const std::vector<std::string>* documents = nullptr;
  const LoadOptions* options = nullptr;
  absl::Time warm_end;
  absl::Time end;
  std::atomic<int64_t> next_document{0};
  std::atomic<int64_t> measured_documents{0};
  std::atomic<bool> stop{false};
};

// What one worker saw; merged when all are done.
struct WorkerResult {
  LoadResult load;
  absl::Time last_answer = absl::InfinitePast();
};

// Fills `documents` with the next documents to send (cycled) and returns whether this request
// is measured; false from `keep_going` means the run is over.
struct NextRequest {
  bool keep_going = false;
  bool measured = false;
};

NextRequest Next(Shared& shared, int worker, int64_t* sequence,
                 google::protobuf::RepeatedPtrField<v1::Document>* documents) {
  const absl::Time now = absl::Now();
  if (now >= shared.end || shared.stop.load()) return {};
  NextRequest next{true, now >= shared.warm_end};
  const int k = shared.options->documents_per_request;
  if (next.measured && shared.options->max_documents.has_value() &&
      shared.measured_documents.fetch_add(k) >= *shared.options->max_documents) {
    shared.stop.store(true);
    return {};
  }
  documents->Clear();
  const auto& texts = *shared.documents;
  for (int i = 0; i < k; ++i) {
    const int64_t index = shared.next_document.fetch_add(1) % static_cast<int64_t>(texts.size());
    v1::Document* document = documents->Add();
    document->set_id(absl::StrCat(worker, "-", (*sequence)++));
    document->set_text(texts[index]);
  }
  return next;
}

void RecordError(WorkerResult& result, absl::StatusCode code, int64_t documents) {
  result.load.errors[StatusCodeName(code)] += documents;
}

void RecordOk(WorkerResult& result, const v1::Document& document, const v1::DocumentResult& out) {
  ++result.load.documents_ok;
  result.load.characters_ok += CountCodePoints(document.text());
  result.load.entities += out.entities_size();
}

void RunUnaryWorker(Shared& shared, v1::NerService::Stub& stub, int worker,
                    WorkerResult& result) {
  int64_t sequence = 0;
  v1::RecognizeRequest request;
  if (!shared.options->model.empty()) request.mutable_options()->set_model(shared.options->model);
  for (;;) {
    const NextRequest next = Next(shared, worker, &sequence, request.mutable_documents());
    if (!next.keep_going) return;
    grpc::ClientContext context;
    if (shared.options->deadline) {
      context.set_deadline(absl::ToChronoTime(absl::Now() + *shared.options->deadline));
    }
    v1::RecognizeResponse response;
    const absl::Time start = absl::Now();
    const grpc::Status status = stub.Recognize(&context, request, &response);
    const absl::Time done = absl::Now();
    if (!next.measured) continue;
    result.last_answer = std::max(result.last_answer, done);
    if (!status.ok()) {
      RecordError(result, FromGrpcStatus(status).code(), request.documents_size());
      result.load.error_latencies_ms.push_back(absl::ToDoubleMilliseconds(done - start));
      continue;
    }
    for (int i = 0; i < request.documents_size() && i < response.results_size(); ++i) {
      RecordOk(result, request.documents(i), response.results(i));
    }
    result.load.latencies_ms.push_back(absl::ToDoubleMilliseconds(done - start));
  }
}

void RunStreamWorker(Shared& shared, v1::NerService::Stub& stub, int worker,
                     WorkerResult& result) {
  int64_t sequence = 0;
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<grpc::ClientReaderWriter<v1::RecognizeStreamRequest,
                                           v1::RecognizeStreamResponse>>
      stream;
  bool first_message = true;
  v1::RecognizeStreamRequest request;
  v1::RecognizeStreamResponse response;
  for (;;) {
    const NextRequest next = Next(shared, worker, &sequence, request.mutable_documents());
    if (!next.keep_going) break;
    if (stream == nullptr) {
      context = std::make_unique<grpc::ClientContext>();
      stream = stub.RecognizeStream(context.get());
      first_message = true;
    }
    request.clear_options();
    if (first_message && !shared.options->model.empty()) {
      request.mutable_options()->set_model(shared.options->model);
    }
    first_message = false;
    const absl::Time start = absl::Now();
    int answered = 0;
    bool broken = !stream->Write(request);
    while (!broken && answered < request.documents_size()) {
      if (!stream->Read(&response)) {
        broken = true;
        break;
      }
      ++answered;
      if (!next.measured) continue;
      if (response.has_error()) {
        RecordError(result, FromRpcStatus(response.error()).code(), 1);
      } else {
        // Answers may come in any order: find the document by its id.
        for (const v1::Document& document : request.documents()) {
          if (document.id() == response.id()) RecordOk(result, document, response.result());
        }
      }
    }
    const absl::Time done = absl::Now();
    if (broken) {
      const grpc::Status status = stream->Finish();
      stream.reset();
      if (next.measured) {
        RecordError(result, status.ok() ? absl::StatusCode::kUnknown : FromGrpcStatus(status).code(),
                    request.documents_size() - answered);
      }
    }
    if (!next.measured) continue;
    result.last_answer = std::max(result.last_answer, done);
    if (!broken) result.load.latencies_ms.push_back(absl::ToDoubleMilliseconds(done - start));
  }
  if (stream != nullptr) {
    stream->WritesDone();
    stream->Finish().IgnoreError();
  }
}

}  // namespace

absl::Status LoadOptions::Validate() const {
  if (concurrency < 1) return absl::InvalidArgumentError("concurrency must be >= 1");
  if (documents_per_request < 1) {
    return absl::InvalidArgumentError("documents_per_request must be >= 1");
  }
  if (warmup < absl::ZeroDuration()) return absl::InvalidArgumentError("warmup must be >= 0");
  if (duration <= absl::ZeroDuration()) return absl::InvalidArgumentError("duration must be > 0");
  if (max_documents.has_value() && *max_documents < 1) {
    return absl::InvalidArgumentError("max_documents must be >= 1");
  }
  if (deadline.has_value() && *deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("deadline must be > 0");
  }
  return absl::OkStatus();
}

absl::StatusOr<LoadResult> RunLoad(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                                   const std::vector<std::string>& documents,
                                   const LoadOptions& options) {
  if (absl::Status valid = options.Validate(); !valid.ok()) return valid;
  if (documents.empty()) return absl::InvalidArgumentError("no documents to send");
  if (channels.empty()) return absl::InvalidArgumentError("no channels");
  std::vector<std::unique_ptr<v1::NerService::Stub>> stubs;
  for (const auto& channel : channels) stubs.push_back(v1::NerService::NewStub(channel));

  Shared shared;
  shared.documents = &documents;
  shared.options = &options;
  shared.warm_end = absl::Now() + options.warmup;
  shared.end = shared.warm_end + options.duration;
  std::vector<WorkerResult> results(options.concurrency);
  std::vector<std::thread> workers;
  workers.reserve(options.concurrency);
  for (int w = 0; w < options.concurrency; ++w) {
    v1::NerService::Stub& stub = *stubs[w % stubs.size()];
    workers.emplace_back([&shared, &stub, &results, &options, w] {
      if (options.mode == CallMode::kUnary) {
        RunUnaryWorker(shared, stub, w, results[w]);
      } else {
        RunStreamWorker(shared, stub, w, results[w]);
      }
    });
  }
  for (std::thread& worker : workers) worker.join();

  LoadResult total;
  absl::Time last = shared.warm_end;
  for (WorkerResult& r : results) {
    total.documents_ok += r.load.documents_ok;
    total.characters_ok += r.load.characters_ok;
    total.entities += r.load.entities;
    for (const auto& [code, n] : r.load.errors) total.errors[code] += n;
    total.latencies_ms.insert(total.latencies_ms.end(), r.load.latencies_ms.begin(),
                              r.load.latencies_ms.end());
    total.error_latencies_ms.insert(total.error_latencies_ms.end(),
                                    r.load.error_latencies_ms.begin(),
                                    r.load.error_latencies_ms.end());
    last = std::max(last, r.last_answer);
  }
  total.elapsed = last - shared.warm_end;
  return total;
}

}  // namespace ner::bench
