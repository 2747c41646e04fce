#ifndef NER_SERVER_NER_SERVER_H_
#define NER_SERVER_NER_SERVER_H_

#include <grpcpp/server.h>

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/blocking_pool.h"
#include "server/call_gate.h"
#include "server/inference_queue.h"
#include "server/metrics.h"
#include "server/model_registry.h"
#include "server/ner_service.h"
#include "server/server_config.h"

namespace ner::server {

// The running gRPC server: ner.v1.NerService and grpc.health.v1.Health on one port, over an
// inference queue. Health ("" and "ner.v1.NerService") is SERVING while a default model is
// loaded and the server is not draining; the "liveness" service is SERVING from the start until
// draining (for liveness probes, which must not fail just because no model is loaded yet). Used by
// main and, in-process, by the integration tests. Thread-safe.
class NerServer {
 public:
  // Starts serving on config.listen_address (port 0 picks one). `registry` and `metrics` (not
  // owned) must outlive the server. INVALID_ARGUMENT for a bad config, UNAVAILABLE when the
  // address cannot be bound.
  static absl::StatusOr<std::unique_ptr<NerServer>> Start(const ServerConfig& config,
                                                          ModelRegistry* registry,
                                                          ServerMetrics* metrics);

  // Shutdown(absl::ZeroDuration()).
  ~NerServer();
  NerServer(const NerServer&) = delete;
  NerServer& operator=(const NerServer&) = delete;

  // The port gRPC listens on.
  int port() const { return port_; }

  // Drains: health turns NOT_SERVING, training jobs stop, new calls are refused with UNAVAILABLE
  // (clients retry them elsewhere) while the calls in progress get `grace` to finish; then gRPC
  // shuts down, cancelling whatever is left at the deadline. Returns when every call has been
  // finished. Idempotent; later calls return at once.
  void Shutdown(absl::Duration grace);

  // Sets the health status from the registry (SERVING iff a default model is loaded), unless
  // draining.
  void UpdateHealth();

  // Not draining (the "liveness" health service's answer).
  bool live();
  // Not draining, with a default model loaded (the "" health service's answer).
  bool ready();

 private:
  NerServer(ModelRegistry* registry) : registry_(registry) {}

  ModelRegistry* const registry_;
  int port_ = 0;
  CallGate gate_;
  std::unique_ptr<BlockingPool> blocking_;
  std::unique_ptr<InferenceQueue> queue_;
  std::unique_ptr<TrainJobManager> jobs_;
  std::unique_ptr<NerService> service_;
  std::unique_ptr<grpc::Server> server_;

  absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace ner::server

#endif  // NER_SERVER_NER_SERVER_H_
