#ifndef NER_SERVER_SERVER_CONFIG_H_
#define NER_SERVER_SERVER_CONFIG_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "model/checkpoint.h"
#include "model/runtime.h"
#include "server/batching_policy.h"
#include "server/model_registry.h"
#include "server/recognize_request.h"
#include "server/train_jobs.h"

namespace ner::server {

// Everything `ner-server` is configured with, parsed once from flags (server_flags.h) or built
// by a test. Plain data with defaults.
struct ServerConfig {
  // gRPC address, host:port; port 0 picks a free port (see NerServer::port()).
  std::string listen_address = "0.0.0.0:50051";
  // Prometheus text endpoint (http://ADDRESS/metrics); nullopt = no endpoint.
  std::optional<std::string> metrics_address = "0.0.0.0:9090";
  // Directory that checkpoint paths (LoadModel, the default model) are relative to.
  std::string model_root = ".";
  // Directory that dataset paths (Evaluate) are relative to.
  std::string data_root = ".";
  // Checkpoint served at start-up, relative to model_root; nullopt = none, the server then
  // reports NOT_SERVING until LoadModel loads `default_model_name`.
  std::optional<std::string> default_model_path;
  // The name requests without a model name are served by.
  std::string default_model_name = "default";
  // Most models served at once (LoadModel of a further name is RESOURCE_EXHAUSTED), >= 1.
  int max_models = 16;
  // "cpu", "cuda", "cuda:N" or "auto" (model/device.h).
  std::string device = "cpu";
  // Encoder dtype: "float32", "bfloat16" or "float16" (model/device.h).
  std::string encoder_dtype = "float32";
  // Dynamic batching; num_workers is the number of batches run concurrently.
  BatcherOptions batcher;
  // Most padded tokens per forward pass inside a batch (pieces sorted by length); nullopt = per
  // model (2048 for transformer variants, the whole batch for bilstm-crf); 0 = whole batch.
  std::optional<int64_t> max_forward_tokens;
  // Documents per request and bytes per document.
  RequestLimits limits;
  // Documents of one RecognizeStream (or Evaluate) in flight at once, >= 1: the stream stops
  // reading while at the limit, so its memory is bounded whatever the corpus size.
  int max_stream_inflight_documents = 64;
  // Largest request message accepted, in bytes, >= 1 MiB.
  int max_message_bytes = 64 << 20;
  // LibTorch intra-op threads; nullopt = one per core.
  std::optional<int> intra_op_threads;
  // Threads for blocking work off the gRPC threads (model loads, dataset reads), >= 1.
  int blocking_threads = 2;
  // On SIGTERM, how long in-flight RPCs may take to finish before they are cancelled, >= 0.
  absl::Duration drain_grace = absl::Seconds(10);

  // Training jobs (Train RPC); its model_root and data_root are the ones above.
  bool enable_training = true;
  TrainJobsOptions training;

  // Security. When non-empty, Train, CancelTrainJob, Evaluate and LoadModel need
  // "authorization: Bearer <auth_token>" (read from --auth_token_file).
  std::string auth_token;
  // TLS: PEM files of the server's certificate chain and private key; both empty = plaintext.
  std::string tls_cert_file;
  std::string tls_key_file;
  // PEM CA bundle; when set, clients must present a certificate it signed (mutual TLS).
  std::string tls_client_ca_file;
  // HTTP/2 keepalive pings to idle clients, and how long to wait for their answer.
  absl::Duration keepalive_time = absl::Seconds(60);
  absl::Duration keepalive_timeout = absl::Seconds(20);

  // INVALID_ARGUMENT naming the first bad field; FAILED_PRECONDITION for a device that is not
  // there (model/device.h).
  absl::Status Validate() const;

  // The parsed device and dtype. Errors as Validate().
  absl::StatusOr<model::LoadOptions> ModelLoadOptions() const;
  // The model registry's settings (root, device, dtype, default name). Errors as Validate().
  absl::StatusOr<ModelRegistryOptions> RegistryOptions() const;
  // The LibTorch settings.
  model::RuntimeOptions ModelRuntimeOptions() const;
};

}  // namespace ner::server

#endif  // NER_SERVER_SERVER_CONFIG_H_
