#ifndef NER_SERVER_RPC_SCOPE_H_
#define NER_SERVER_RPC_SCOPE_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <chrono>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/metrics.h"
#include "server/status_util.h"

namespace ner::server {

// Times one RPC from its start and records it in the metrics when it ends. Not thread-safe: End()
// is called once, by whoever finishes the RPC.
class RpcScope {
 public:
  // `metrics` (not owned) must outlive the scope.
  RpcScope(ServerMetrics* metrics, RpcMethod method)
      : metrics_(metrics), method_(method), start_(absl::Now()) {
    metrics_->RpcStarted();
  }

  // Records the RPC's outcome and returns it as the gRPC status to finish with (the one
  // status mapping, status_util). Call exactly once.
  grpc::Status End(const absl::Status& status) {
    metrics_->RpcFinished(method_, status.code(), absl::Now() - start_);
    return ToGrpcStatus(status);
  }

 private:
  ServerMetrics* const metrics_;
  const RpcMethod method_;
  const absl::Time start_;
};

// The call's deadline as an absl::Time; InfiniteFuture when the client set none.
inline absl::Time DeadlineOf(const grpc::ServerContextBase& context) {
  const std::chrono::system_clock::time_point deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

}  // namespace ner::server

#endif  // NER_SERVER_RPC_SCOPE_H_
