#ifndef NER_BENCH_LOAD_LOAD_RUNNER_H_
#define NER_BENCH_LOAD_LOAD_RUNNER_H_

// A closed-loop gRPC load generator: `concurrency` workers, each sending one request and
// waiting for its answer before the next, over unary Recognize or one RecognizeStream per worker.
// No retries: every failure is counted under its status code.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace grpc {
class Channel;
}

namespace ner::bench {

enum class CallMode { kUnary, kStream };

struct LoadOptions {
  // Workers, each with one request outstanding; >= 1.
  int concurrency = 1;
  CallMode mode = CallMode::kUnary;
  // Documents per request (unary) or per stream message; >= 1.
  int documents_per_request = 1;
  // Requests started in the first `warmup` are sent but not measured.
  absl::Duration warmup = absl::Seconds(2);
  // Measured time after the warm-up; no new request starts after it.
  absl::Duration duration = absl::Seconds(10);
  // Stop earlier after this many measured documents; nullopt = time bound only.
  std::optional<int64_t> max_documents;
  // Deadline of each unary call; nullopt = none.
  std::optional<absl::Duration> deadline = absl::Seconds(30);
  // RecognizeOptions.model; empty = the server's default model.
  std::string model;

  // INVALID_ARGUMENT naming the first bad field.
  absl::Status Validate() const;
};

struct LoadResult {
  // Measured documents answered without error, and their code points.
  int64_t documents_ok = 0;
  int64_t characters_ok = 0;
  int64_t entities = 0;
  // Failed measured documents by gRPC status code name (e.g. "RESOURCE_EXHAUSTED").
  std::map<std::string, int64_t> errors;
  // Latency of each measured request (all its documents answered), in milliseconds.
  std::vector<double> latencies_ms;
  // Latency of each measured request that failed as a whole (e.g. rejected with
  // RESOURCE_EXHAUSTED: a full queue must answer at once, not after a timeout).
  std::vector<double> error_latencies_ms;
  // Time from the end of the warm-up to the last measured answer.
  absl::Duration elapsed;
};

// Drives `channels` (round robin over the workers) with `documents` (cycled) until the
// duration or the document bound is reached. INVALID_ARGUMENT for bad options or no documents.
absl::StatusOr<LoadResult> RunLoad(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                                   const std::vector<std::string>& documents,
                                   const LoadOptions& options);

}  // namespace ner::bench

#endif  // NER_BENCH_LOAD_LOAD_RUNNER_H_
