// `ner-server`: the gRPC NER service. Wiring only (see ../shared/STYLE.md): flags -> runtime ->
// metrics -> model registry -> server -> wait for SIGTERM/SIGINT -> drain -> exit 0.
// `ner-server probe --address HOST:PORT` checks grpc.health.v1 and exits 0 when SERVING (for a
// Docker HEALTHCHECK); `--address http://HOST:PORT/readyz` asks the metrics port instead.

#include <c10/core/ScalarType.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "model/log.h"
#include "model/runtime.h"
#include "prometheus/registry.h"
#include "server/health_probe.h"
#include "server/metrics.h"
#include "server/metrics_endpoint.h"
#include "server/model_registry.h"
#include "server/ner_server.h"
#include "server/server_flags.h"
#include "server/signals.h"

namespace {

int Fail(const absl::Status& status) {
  ner::LogError(status.ToString());
  return 1;
}

int Probe() {
  const ner::server::ProbeOptions options = ner::server::ProbeOptionsFromFlags();
  // http://HOST:PORT/PATH asks the metrics port (/readyz, /healthz): for a TLS gRPC port.
  const bool http = absl::StartsWith(options.address, "http://");
  std::string reason;
  absl::StatusOr<ner::server::HealthState> state =
      http ? ner::server::CheckHttpHealth(options.address, options.timeout, &reason)
           : ner::server::CheckHealth(options.address, options.service, options.timeout);
  if (!state.ok()) {
    std::fprintf(stderr, "%s: %s\n", options.address.c_str(), state.status().ToString().c_str());
    return 1;
  }
  std::printf("%s%s%s\n", ner::server::HealthStateName(*state), reason.empty() ? "" : ": ",
              reason.c_str());
  return *state == ner::server::HealthState::kServing ? 0 : 1;
}

int Serve() {
  absl::StatusOr<ner::server::ServerConfig> config = ner::server::ServerConfigFromFlags();
  if (!config.ok()) return Fail(config.status());

  if (absl::Status s = ner::model::ConfigureRuntime(config->ModelRuntimeOptions()); !s.ok()) {
    return Fail(s);
  }
  const ner::model::RuntimeInfo runtime = ner::model::GetRuntimeInfo();
  ner::LogInfo(ner::model::DescribeRuntime(runtime));
  if (runtime.slow_blas) ner::LogWarning("the reference BLAS is ~25x slower than OpenBLAS");

  auto prometheus_registry = std::make_shared<prometheus::Registry>();
  ner::server::ServerMetrics metrics(*prometheus_registry);
  std::unique_ptr<ner::server::MetricsEndpoint> metrics_endpoint;
  if (config->metrics_address.has_value()) {
    absl::StatusOr<std::unique_ptr<ner::server::MetricsEndpoint>> started =
        ner::server::MetricsEndpoint::Start(*config->metrics_address, prometheus_registry);
    if (!started.ok()) return Fail(started.status());
    metrics_endpoint = *std::move(started);
    ner::LogInfo(absl::StrCat("metrics on http://", *config->metrics_address, "/metrics"));
  }

  absl::StatusOr<ner::server::ModelRegistryOptions> registry_options = config->RegistryOptions();
  if (!registry_options.ok()) return Fail(registry_options.status());
  ner::LogInfo(absl::StrCat("models run on ", registry_options->load.device.str(), " in ",
                            c10::toString(registry_options->load.encoder_dtype),
                            " (--encoder_dtype=", config->encoder_dtype, ")"));
  absl::StatusOr<std::unique_ptr<ner::server::ModelRegistry>> registry =
      ner::server::ModelRegistry::Create(*registry_options, &metrics);
  if (!registry.ok()) return Fail(registry.status());
  if (config->default_model_path.has_value()) {
    if (auto loaded = (*registry)->Load(config->default_model_name, *config->default_model_path);
        !loaded.ok()) {
      return Fail(loaded.status());
    }
  }

  absl::StatusOr<std::unique_ptr<ner::server::NerServer>> server =
      ner::server::NerServer::Start(*config, registry->get(), &metrics);
  if (!server.ok()) return Fail(server.status());
  ner::LogInfo(absl::StrCat(
      "serving ner.v1.NerService on ", config->listen_address, " (port ", (*server)->port(), "), ",
      config->tls_cert_file.empty() ? "plaintext"
                                    : (config->tls_client_ca_file.empty() ? "TLS" : "mutual TLS"),
      config->auth_token.empty() ? ", no bearer token"
                                 : ", bearer token required for Train, "
                                   "CancelTrainJob, Evaluate, LoadModel",
      config->enable_training
          ? absl::StrCat(", training: up to ", config->training.max_concurrent_jobs, " job(s) of ",
                         config->training.threads, " thread(s)")
          : ", training off"));

  if (metrics_endpoint != nullptr) {
    ner::server::NerServer* s = server->get();
    metrics_endpoint->SetHealth([s] { return s->live(); }, [s] { return s->ready(); });
  }

  const int signal = ner::server::WaitForTerminationSignal();
  ner::LogInfo(absl::StrCat("signal ", signal, ": shutting down"));
  (*server)->Shutdown(config->drain_grace);
  // The server goes before the endpoint: its probes answer 503 from here on.
  if (metrics_endpoint != nullptr) metrics_endpoint->SetHealth(nullptr, nullptr);
  ner::LogInfo("drained; bye");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Before any thread starts, so that every thread inherits the blocked mask.
  ner::server::BlockTerminationSignals();
  absl::SetProgramUsageMessage(
      "The NER gRPC service.\n\nusage: ner-server [FLAGS]\n       ner-server probe "
      "--address HOST:PORT   (exit 0 when SERVING)\n       ner-server probe "
      "--address http://HOST:METRICS_PORT/readyz\n\nRun `ner-server --helpfull` for all flags.");
  const std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() == 2 && std::string(positional[1]) == "probe") return Probe();
  if (positional.size() > 1) {
    std::fprintf(stderr, "ner-server: unexpected argument '%s'\n", positional[1]);
    return 2;
  }
  return Serve();
}
