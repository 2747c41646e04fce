#include "server/server_config.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "model/device.h"

namespace ner::server {

absl::Status ServerConfig::Validate() const {
  if (listen_address.empty()) return absl::InvalidArgumentError("listen_address is empty");
  if (metrics_address.has_value() && metrics_address->empty()) {
    return absl::InvalidArgumentError("metrics_address is empty (leave it unset to disable)");
  }
  if (data_root.empty()) return absl::InvalidArgumentError("data_root is empty");
  if (default_model_path.has_value() && default_model_path->empty()) {
    return absl::InvalidArgumentError(
        "default_model_path is empty (leave it unset to start without a model)");
  }
  // model_root, default_model_name, device, encoder dtype, max_forward_tokens.
  absl::StatusOr<ModelRegistryOptions> registry = RegistryOptions();
  if (!registry.ok()) return registry.status();
  if (absl::Status s = registry->Validate(); !s.ok()) return s;
  if (absl::Status s = batcher.Validate(); !s.ok()) return s;
  if (limits.max_documents < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_documents_per_request must be >= 1, got ", limits.max_documents));
  }
  if (limits.max_document_bytes < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_document_bytes must be >= 1, got ", limits.max_document_bytes));
  }
  if (max_stream_inflight_documents < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_stream_inflight_documents must be >= 1, got ", max_stream_inflight_documents));
  }
  if (max_message_bytes < (1 << 20)) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_message_bytes must be >= 1 MiB, got ", max_message_bytes));
  }
  if (blocking_threads < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("blocking_threads must be >= 1, got ", blocking_threads));
  }
  if (drain_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("drain_grace must be >= 0, got ", absl::FormatDuration(drain_grace)));
  }
  if (training.max_concurrent_jobs < 1 || training.threads < 1 || training.max_retained_jobs < 1 ||
      training.max_epochs < 1) {
    return absl::InvalidArgumentError(
        "train_max_jobs, train_threads, train_max_epochs and train_retained_jobs must be >= 1");
  }
  if (tls_cert_file.empty() != tls_key_file.empty()) {
    return absl::InvalidArgumentError("tls_cert_file and tls_key_file go together");
  }
  if (!tls_client_ca_file.empty() && tls_cert_file.empty()) {
    return absl::InvalidArgumentError("tls_client_ca_file (mutual TLS) needs tls_cert_file");
  }
  if (keepalive_time <= absl::ZeroDuration() || keepalive_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("keepalive_time and keepalive_timeout must be > 0");
  }
  return ModelRuntimeOptions().Validate();
}

absl::StatusOr<model::LoadOptions> ServerConfig::ModelLoadOptions() const {
  absl::StatusOr<torch::Device> parsed_device = model::ParseDevice(device);
  if (!parsed_device.ok()) {
    return absl::Status(parsed_device.status().code(),
                        absl::StrCat("device: ", parsed_device.status().message()));
  }
  absl::StatusOr<torch::Dtype> dtype = model::ParseDtype(encoder_dtype, *parsed_device);
  if (!dtype.ok()) {
    return absl::Status(dtype.status().code(),
                        absl::StrCat("encoder_dtype: ", dtype.status().message()));
  }
  model::LoadOptions options;
  options.device = *parsed_device;
  options.encoder_dtype = *dtype;
  return options;
}

absl::StatusOr<ModelRegistryOptions> ServerConfig::RegistryOptions() const {
  absl::StatusOr<model::LoadOptions> load = ModelLoadOptions();
  if (!load.ok()) return load.status();
  ModelRegistryOptions options;
  options.model_root = model_root;
  options.load = *load;
  options.default_model_name = default_model_name;
  options.max_forward_tokens = max_forward_tokens;
  options.max_models = max_models;
  return options;
}

model::RuntimeOptions ServerConfig::ModelRuntimeOptions() const {
  model::RuntimeOptions options;
  // Each worker runs its batch on its own intra-op thread team; together they fill the cores
  // without oversubscribing them (docs/performance.md, "Threading").
  options.intra_op_threads = intra_op_threads.value_or(
      std::max(1, model::OnlineCores() / std::max(1, batcher.num_workers)));
  return options;
}

}  // namespace ner::server
