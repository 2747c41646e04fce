#ifndef NER_SERVER_CALL_GATE_H_
#define NER_SERVER_CALL_GATE_H_

#include <cstdint>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace ner::server {

// Admits calls and counts those in progress; once closed it refuses new ones, so that a draining
// server can answer late calls with UNAVAILABLE (which clients retry elsewhere) while the calls
// it admitted finish. gRPC's own Server::Shutdown cannot be used for that phase: a call that
// reaches it after Shutdown began, before the client saw the GOAWAY, is ended CANCELLED, which
// clients do not retry (grpc/grpc#41785). Thread-safe.
class CallGate {
 public:
  // OK, and the call is counted until Leave(); UNAVAILABLE once Close() was called.
  absl::Status Enter();
  // Ends a call Enter() admitted.
  void Leave();
  // Refuses every later Enter(). Idempotent.
  void Close();
  // Waits until no admitted call is in progress, or until `deadline`; whether none is.
  bool AwaitIdle(absl::Time deadline);
  // Admitted calls not yet left.
  int64_t in_progress() const;

  // For calls that would otherwise run on through a drain (a stream waiting for its client's
  // next message): `on_close` is called once, when the gate closes, on the closing thread and
  // with no lock of the gate held (so it may call Leave, and remove itself). Returns a handle
  // for RemoveCloseListener, or 0, without registering, when the gate is closed already.
  int64_t AddCloseListener(std::function<void()> on_close);
  // Unregisters a listener; a no-op for 0 or one already called. Never blocks on a listener.
  void RemoveCloseListener(int64_t handle);

 private:
  mutable absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  int64_t in_progress_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t next_listener_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<int64_t, std::function<void()>> listeners_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ner::server

#endif  // NER_SERVER_CALL_GATE_H_
