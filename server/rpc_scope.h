#ifndef NER_SERVER_RPC_SCOPE_H_
#define NER_SERVER_RPC_SCOPE_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <chrono>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/call_gate.h"
#include "server/metrics.h"
#include "server/status_util.h"

namespace ner::server {

// Times one RPC from its start and records it in the metrics when it ends; admits it through
// the server's CallGate, so a draining server waits for it and refuses calls that come later.
// The handler checks admission() first and, when it is not OK, ends the call with it at once.
// Not thread-safe: End() is called once, by whoever finishes the RPC.
class RpcScope {
 public:
  // `metrics` (not owned) must outlive the scope, and so must `gate` (not owned; null admits
  // every call).
  RpcScope(ServerMetrics* metrics, CallGate* gate, RpcMethod method)
      : metrics_(metrics),
        gate_(gate),
        method_(method),
        start_(absl::Now()),
        admission_(gate == nullptr ? absl::OkStatus() : gate->Enter()) {
    metrics_->RpcStarted();
  }
  // Leaves the gate if End() was never called, so a call finished on some unforeseen path does
  // not hold a drain up until its grace runs out.
  ~RpcScope() { LeaveGate(); }
  RpcScope(const RpcScope&) = delete;
  RpcScope& operator=(const RpcScope&) = delete;

  // OK when the call may go on; UNAVAILABLE when the server drains.
  const absl::Status& admission() const { return admission_; }

  // Records the RPC's outcome and returns it as the gRPC status to finish with (the one
  // status mapping, status_util). Call exactly once.
  grpc::Status End(const absl::Status& status) {
    metrics_->RpcFinished(method_, status.code(), absl::Now() - start_);
    LeaveGate();
    return ToGrpcStatus(status);
  }

 private:
  void LeaveGate() {
    if (gate_ != nullptr && admission_.ok() && !left_) gate_->Leave();
    left_ = true;
  }

  ServerMetrics* const metrics_;
  CallGate* const gate_;
  const RpcMethod method_;
  const absl::Time start_;
  const absl::Status admission_;
  bool left_ = false;
};

// The call's deadline as an absl::Time; InfiniteFuture when the client set none.
inline absl::Time DeadlineOf(const grpc::ServerContextBase& context) {
  const std::chrono::system_clock::time_point deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

}  // namespace ner::server

#endif  // NER_SERVER_RPC_SCOPE_H_
