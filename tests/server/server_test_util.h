#ifndef NER_TESTS_SERVER_SERVER_TEST_UTIL_H_
#define NER_TESTS_SERVER_SERVER_TEST_UTIL_H_

#include <grpcpp/channel.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ner/v1/ner.grpc.pb.h"
#include "prometheus/registry.h"
#include "server/metrics.h"
#include "server/metrics_endpoint.h"
#include "server/model_registry.h"
#include "server/ner_server.h"
#include "server/server_config.h"

namespace ner::server::testing {

// A model root shared by the tests of one process, created on first use. It holds tiny
// randomly initialised nezha-df-bilstm-crf checkpoints (tests/testing/tiny_model.h):
//   tiny/      seed 7
//   tiny2/     seed 11 (other weights, so another version)
//   corrupt/   tiny with model.safetensors cut in half
//   data/      (the data root) dev.jsonl: three labelled documents
// Thread-compatible: call it from the test thread.
const std::string& TestModelRoot();

// Saves a tiny checkpoint with `seed` to `dir`.
absl::Status SaveTinyCheckpoint(const std::string& dir, uint64_t seed);

// A config for an in-process server: 127.0.0.1:0, no metrics endpoint, model root
// TestModelRoot(), data root its data/, default model "tiny".
ServerConfig TestConfig();

// A new model root with a copy of TestModelRoot()'s checkpoints and data, for servers whose
// state under the root (training jobs) must not meet another test's.
std::string FreshModelRoot();

// TestConfig() with training on, on a FreshModelRoot(): random encoders take tiny/vocab.txt,
// jobs one LibTorch thread.
ServerConfig TrainingConfig();

// A small bilstm-crf Train request on the three documents of data/dev.jsonl (train and dev),
// promoted ALWAYS under `output_model`.
v1::TrainRequest SmallTrainRequest(const std::string& output_model, int epochs = 3);

// The events of a Train or WatchTrainJob stream and its final status.
struct TrainStreamResult {
  std::vector<v1::TrainEvent> events;
  grpc::Status status;
};

// Reads `reader` to its end.
TrainStreamResult ReadTrainEvents(std::unique_ptr<grpc::ClientReader<v1::TrainEvent>> reader);

// The real server, in-process, with a client stub over a real channel to it.
class TestServer {
 public:
  // Loads config.default_model_path (when set) and starts serving; with `metrics_endpoint`
  // also serves /metrics on 127.0.0.1:0.
  static absl::StatusOr<std::unique_ptr<TestServer>> Start(const ServerConfig& config,
                                                           bool metrics_endpoint = false);
  ~TestServer();

  v1::NerService::Stub& stub() { return *stub_; }
  const std::string& address() const { return address_; }
  ModelRegistry& registry() { return *registry_; }
  NerServer& server() { return *server_; }
  // The /metrics port (metrics_endpoint only).
  int metrics_port() const;
  // The registry in the Prometheus text format.
  std::string MetricsText() const;
  // The value of `series` exactly as written in MetricsText (e.g. `ner_queue_depth` or
  // `ner_requests_total{code="OK",method="Recognize"}`), or nullopt when absent.
  std::optional<double> Metric(const std::string& series) const;

 private:
  TestServer() = default;

  std::shared_ptr<prometheus::Registry> prometheus_;
  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<MetricsEndpoint> endpoint_;
  std::unique_ptr<ModelRegistry> registry_;
  std::unique_ptr<NerServer> server_;
  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::NerService::Stub> stub_;
};

// TestServer::Start, or a test failure naming the error and abort(): no test goes on without
// its server.
std::unique_ptr<TestServer> StartOrDie(const ServerConfig& config, bool metrics_endpoint = false);

// A RecognizeRequest with one document per text, ids "d0", "d1", ...
v1::RecognizeRequest RecognizeRequestOf(const std::vector<std::string>& texts);

// Recognize through `server`'s stub, with a deadline `timeout` from now unless infinite.
grpc::Status CallRecognize(TestServer& server, const v1::RecognizeRequest& request,
                           v1::RecognizeResponse* response,
                           absl::Duration timeout = absl::InfiniteDuration());

// LoadModel of the checkpoint at `path` (relative to the model root) as `name`.
grpc::Status CallLoadModel(TestServer& server, const std::string& name, const std::string& path,
                           v1::ModelInfo* info);

// Polls `condition` every few milliseconds for up to 10 s; its last value.
bool Eventually(const std::function<bool()>& condition);

// A plain HTTP/1.0 GET of `path` on 127.0.0.1:`port`; the body.
absl::StatusOr<std::string> HttpGet(int port, const std::string& path);

}  // namespace ner::server::testing

#endif  // NER_TESTS_SERVER_SERVER_TEST_UTIL_H_
