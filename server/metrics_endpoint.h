#ifndef NER_SERVER_METRICS_ENDPOINT_H_
#define NER_SERVER_METRICS_ENDPOINT_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/registry.h"

namespace ner::server {

// Serves a Prometheus registry, and the process metrics of process_metrics.h, in the text
// exposition format at http://ADDRESS/metrics, from one thread, one short connection at a time
// (scrapes are rare and cheap), and the server's health for probes that cannot use gRPC's (TLS on
// the gRPC port; plain HTTP checks):
//   GET /healthz  200 "ok" while the process runs and does not drain, else 503 (liveness);
//   GET /readyz   200 "ready" while it can take traffic, else 503 with the reason (readiness).
// Until SetHealth is called (the model is still loading) /healthz is 200 and /readyz 503.
//
// Why not prometheus-cpp's Exposer: Debian's civetweb under it starts its threads with a fixed
// 100 KiB stack, and in a process that has loaded LibTorch (and its many libraries' static TLS)
// pthread_create refuses such a small stack, so the Exposer cannot start at all. The registry,
// families and text serialisation are prometheus-cpp's; only the HTTP listener is ours.
class MetricsEndpoint {
 public:
  // Listens on `address` ("host:port", "[v6]:port"; port 0 picks a free one). UNAVAILABLE when
  // it cannot be bound, INVALID_ARGUMENT when it is not host:port.
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(
      const std::string& address, std::shared_ptr<prometheus::Registry> registry);

  // Stops listening and joins the thread.
  ~MetricsEndpoint();
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  // The port it listens on.
  int port() const { return port_; }

  // Where /healthz and /readyz get their answers from: `live` (not draining) and `ready`
  // (serving with a default model, not draining). Called on the endpoint's thread; both must
  // stay callable until SetHealth is called again (e.g. with null functions, which answer 503
  // for both: a server on its way out). Thread-safe: returns once no call of the old ones runs.
  void SetHealth(std::function<bool()> live, std::function<bool()> ready);

 private:
  MetricsEndpoint(int listen_fd, int wake_read_fd, int wake_write_fd, int port,
                  std::shared_ptr<prometheus::Registry> registry);
  void Loop();
  void Serve(int connection) const;

  const int listen_fd_;
  const int wake_read_fd_;  // readable once the destructor asks the loop to stop
  const int wake_write_fd_;
  const int port_;
  const std::shared_ptr<prometheus::Registry> registry_;
  mutable absl::Mutex health_mu_;  // held while a health function runs
  bool health_set_ ABSL_GUARDED_BY(health_mu_) = false;
  std::function<bool()> live_ ABSL_GUARDED_BY(health_mu_);
  std::function<bool()> ready_ ABSL_GUARDED_BY(health_mu_);
  std::thread thread_;
};

}  // namespace ner::server

#endif  // NER_SERVER_METRICS_ENDPOINT_H_
