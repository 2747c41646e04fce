#include "server/server_flags.h"

#include <optional>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "model/file_util.h"

// Serving.
ABSL_FLAG(std::string, listen_address, "0.0.0.0:50051", "gRPC address, host:port.");
ABSL_FLAG(std::optional<std::string>, metrics_address, "0.0.0.0:9090",
          "Prometheus endpoint http://ADDRESS/metrics; empty = none.");
ABSL_FLAG(std::string, model_root, ".",
          "Directory that checkpoint paths (--default_model, LoadModel) are relative to.");
ABSL_FLAG(std::string, data_root, ".", "Directory that Evaluate dataset paths are relative to.");
ABSL_FLAG(std::optional<std::string>, default_model, std::nullopt,
          "Checkpoint directory served at start-up, relative to --model_root; unset = start "
          "without one (NOT_SERVING until LoadModel loads --default_model_name).");
ABSL_FLAG(std::string, default_model_name, "default",
          "Name of the model used when a request names none.");
ABSL_FLAG(int, max_models, 16,
          "Most models served at once; LoadModel (or a training job's promotion) of a further "
          "name is RESOURCE_EXHAUSTED until UnloadModel frees one.");
ABSL_FLAG(std::string, device, "cpu", "cpu, cuda, cuda:N or auto.");
ABSL_FLAG(std::string, encoder_dtype, "float32",
          "Encoder dtype: float32, bfloat16, float16, or auto (bfloat16 on a CPU with AMX-BF16, "
          "float32 elsewhere; the container image's default). bfloat16 also runs the BiLSTM's "
          "products in bf16 on CPUs with AVX512-BF16, on AMX tiles where the CPU has AMX.");
ABSL_FLAG(std::optional<int>, intra_op_threads, std::nullopt,
          "LibTorch intra-op threads; unset = cores / --batcher_workers (at least 1).");
// Batching.
ABSL_FLAG(int, max_batch_size, 32, "Most pieces per model batch.");
ABSL_FLAG(std::optional<int64_t>, max_forward_tokens, std::nullopt,
          "Most padded tokens per forward pass within a batch (pieces sorted by length); unset "
          "= 2048 for transformer models, the whole batch for bilstm-crf; 0 = the whole batch.");
ABSL_FLAG(int, max_batch_tokens, 8192, "Most padded tokens per model batch.");
ABSL_FLAG(absl::Duration, max_queue_delay, absl::ZeroDuration(),
          "How long the oldest queued piece waits for its batch to fill; 0 = a free worker "
          "takes what is queued at once (batches still fill while the workers are busy).");
ABSL_FLAG(int, max_queue_items, 4096,
          "Most pieces queued; beyond it requests fail with RESOURCE_EXHAUSTED.");
ABSL_FLAG(std::optional<int>, batcher_workers, std::nullopt,
          "Batches run concurrently; unset = one per core.");
// Limits.
ABSL_FLAG(int, max_documents_per_request, 256,
          "Most documents per Recognize call or stream message.");
ABSL_FLAG(int64_t, max_document_bytes, 1 << 20, "Most UTF-8 bytes per document.");
ABSL_FLAG(int, stream_max_inflight, 64,
          "Documents of one stream (or evaluation) in flight at once.");
ABSL_FLAG(int, max_message_bytes, 64 << 20, "Largest request message, in bytes.");
ABSL_FLAG(int, blocking_threads, 2, "Threads for model loads and dataset reads.");
ABSL_FLAG(absl::Duration, drain_grace, absl::Seconds(10),
          "On SIGTERM/SIGINT, how long in-flight calls may take before they are cancelled.");
// Training jobs.
ABSL_FLAG(bool, enable_training, true, "Serve the Train RPC (background training jobs).");
ABSL_FLAG(int, train_max_jobs, 1, "Training jobs at once; more are RESOURCE_EXHAUSTED.");
ABSL_FLAG(bool, train_resume_interrupted, true,
          "At start-up, resume the training jobs a previous server on this --model_root left "
          "unfinished (shutdown, crash) from their last epoch-end checkpoint; false = record "
          "them as FAILED.");
ABSL_FLAG(int, train_retained_jobs, 64,
          "Finished training jobs listed by ListTrainJobs/GetTrainJob (and listed again after a "
          "restart); older ones are forgotten.");
ABSL_FLAG(bool, train_prune_job_dirs, false,
          "Delete a forgotten training job's directory under --model_root/jobs (its record and "
          "checkpoints), unless a served model was loaded from it; false = keep them all.");
ABSL_FLAG(int, train_threads, 1,
          "LibTorch threads of a training job (kept low so that serving keeps its cores).");
ABSL_FLAG(int, train_max_epochs, 100, "Most epochs a Train request may ask for.");
ABSL_FLAG(int64_t, train_max_documents, 1000000, "Most training documents per job.");
ABSL_FLAG(std::string, train_init, "",
          "Pretrained encoder (relative to --model_root) for Train requests without "
          "init_checkpoint; empty = a random encoder of --train_preset.");
ABSL_FLAG(std::string, train_vocab, "",
          "Vocabulary for Train requests without an init checkpoint (absolute, or relative to "
          "--model_root).");
ABSL_FLAG(std::string, train_preset, "nezha-tiny",
          "Encoder shape for Train requests without an init checkpoint.");
// Security and transport.
ABSL_FLAG(std::string, auth_token_file, "",
          "File holding the bearer token that Train, CancelTrainJob, Evaluate and LoadModel "
          "require; empty = no token.");
ABSL_FLAG(std::string, tls_cert_file, "", "PEM certificate chain; with --tls_key_file, TLS.");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls_cert_file.");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "PEM CA bundle; when set, clients need a certificate it signed (mutual TLS).");
ABSL_FLAG(absl::Duration, keepalive_time, absl::Seconds(60),
          "Interval of HTTP/2 keepalive pings to idle clients.");
ABSL_FLAG(absl::Duration, keepalive_timeout, absl::Seconds(20),
          "How long a keepalive ping may go unanswered before the connection is closed.");
// `ner-server probe`.
ABSL_FLAG(std::string, address, "127.0.0.1:50051",
          "probe: the server to check: host:port (gRPC health, plaintext), or "
          "http://host:port/readyz (or /healthz) on the metrics port.");
ABSL_FLAG(std::string, service, "", "probe: the service to check; empty = the whole server.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(2), "probe: how long to wait for an answer.");

namespace ner::server {

absl::StatusOr<ServerConfig> ServerConfigFromFlags() {
  ServerConfig config;
  config.listen_address = absl::GetFlag(FLAGS_listen_address);
  config.metrics_address = absl::GetFlag(FLAGS_metrics_address);
  if (config.metrics_address.has_value() && config.metrics_address->empty()) {
    config.metrics_address = std::nullopt;
  }
  config.model_root = absl::GetFlag(FLAGS_model_root);
  config.data_root = absl::GetFlag(FLAGS_data_root);
  config.default_model_path = absl::GetFlag(FLAGS_default_model);
  config.default_model_name = absl::GetFlag(FLAGS_default_model_name);
  config.max_models = absl::GetFlag(FLAGS_max_models);
  config.device = absl::GetFlag(FLAGS_device);
  config.encoder_dtype = absl::GetFlag(FLAGS_encoder_dtype);
  config.intra_op_threads = absl::GetFlag(FLAGS_intra_op_threads);
  config.batcher.max_batch_size = absl::GetFlag(FLAGS_max_batch_size);
  config.max_forward_tokens = absl::GetFlag(FLAGS_max_forward_tokens);
  config.batcher.max_batch_tokens = absl::GetFlag(FLAGS_max_batch_tokens);
  config.batcher.max_queue_delay = absl::GetFlag(FLAGS_max_queue_delay);
  config.batcher.max_queue_items = absl::GetFlag(FLAGS_max_queue_items);
  config.batcher.num_workers = absl::GetFlag(FLAGS_batcher_workers).value_or(model::OnlineCores());
  config.limits.max_documents = absl::GetFlag(FLAGS_max_documents_per_request);
  config.limits.max_document_bytes = absl::GetFlag(FLAGS_max_document_bytes);
  config.max_stream_inflight_documents = absl::GetFlag(FLAGS_stream_max_inflight);
  config.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  config.blocking_threads = absl::GetFlag(FLAGS_blocking_threads);
  config.drain_grace = absl::GetFlag(FLAGS_drain_grace);
  config.enable_training = absl::GetFlag(FLAGS_enable_training);
  config.training.max_concurrent_jobs = absl::GetFlag(FLAGS_train_max_jobs);
  config.training.resume_interrupted = absl::GetFlag(FLAGS_train_resume_interrupted);
  config.training.max_retained_jobs = absl::GetFlag(FLAGS_train_retained_jobs);
  config.training.prune_forgotten_jobs = absl::GetFlag(FLAGS_train_prune_job_dirs);
  config.training.threads = absl::GetFlag(FLAGS_train_threads);
  config.training.max_epochs = absl::GetFlag(FLAGS_train_max_epochs);
  config.training.max_train_documents = absl::GetFlag(FLAGS_train_max_documents);
  config.training.default_init = absl::GetFlag(FLAGS_train_init);
  config.training.vocab_path = absl::GetFlag(FLAGS_train_vocab);
  config.training.preset = absl::GetFlag(FLAGS_train_preset);
  if (const std::string path = absl::GetFlag(FLAGS_auth_token_file); !path.empty()) {
    absl::StatusOr<std::string> token = model::ReadFileToString(path, 4096);
    if (!token.ok()) {
      return absl::Status(token.status().code(),
                          absl::StrCat("auth_token_file: ", token.status().message()));
    }
    config.auth_token = std::string(absl::StripAsciiWhitespace(*token));
    if (config.auth_token.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("auth_token_file '", path, "' is empty"));
    }
  }
  config.tls_cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  config.tls_key_file = absl::GetFlag(FLAGS_tls_key_file);
  config.tls_client_ca_file = absl::GetFlag(FLAGS_tls_client_ca_file);
  config.keepalive_time = absl::GetFlag(FLAGS_keepalive_time);
  config.keepalive_timeout = absl::GetFlag(FLAGS_keepalive_timeout);
  if (absl::Status s = config.Validate(); !s.ok()) return s;
  return config;
}

ProbeOptions ProbeOptionsFromFlags() {
  ProbeOptions options;
  options.address = absl::GetFlag(FLAGS_address);
  options.service = absl::GetFlag(FLAGS_service);
  options.timeout = absl::GetFlag(FLAGS_timeout);
  return options;
}

}  // namespace ner::server
