#include "server/ner_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/str_cat.h"
#include "model/file_util.h"
#include "model/log.h"

namespace ner::server {
namespace {

constexpr const char* kServiceName = "ner.v1.NerService";
constexpr const char* kLivenessService = "liveness";

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* what) {
  absl::StatusOr<std::string> text = model::ReadFileToString(path, 1 << 20);
  if (!text.ok()) {
    return absl::Status(text.status().code(), absl::StrCat(what, ": ", text.status().message()));
  }
  return text;
}

// Plaintext, TLS, or mutual TLS, from the config's files.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const ServerConfig& config) {
  if (config.tls_cert_file.empty()) return grpc::InsecureServerCredentials();
  absl::StatusOr<std::string> cert = ReadPem(config.tls_cert_file, "tls_cert_file");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPem(config.tls_key_file, "tls_key_file");
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back({*key, *cert});
  if (!config.tls_client_ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadPem(config.tls_client_ca_file, "tls_client_ca_file");
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
    options.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

}  // namespace

absl::StatusOr<std::unique_ptr<NerServer>> NerServer::Start(const ServerConfig& config,
                                                            ModelRegistry* registry,
                                                            ServerMetrics* metrics) {
  if (absl::Status s = config.Validate(); !s.ok()) return s;
  if (registry == nullptr || metrics == nullptr) {
    return absl::InvalidArgumentError("NerServer needs a model registry and metrics");
  }
  std::unique_ptr<NerServer> server(new NerServer(registry));
  server->blocking_ = std::make_unique<BlockingPool>(config.blocking_threads);
  absl::StatusOr<std::unique_ptr<InferenceQueue>> queue =
      InferenceQueue::Create(config.batcher, metrics);
  if (!queue.ok()) return queue.status();
  server->queue_ = *std::move(queue);
  metrics->SetQueueCapacity(config.batcher.max_queue_items);

  ServiceContext context;
  context.registry = registry;
  context.queue = server->queue_.get();
  context.blocking = server->blocking_.get();
  context.metrics = metrics;
  context.gate = &server->gate_;
  context.limits = config.limits;
  context.max_stream_inflight_documents = config.max_stream_inflight_documents;
  context.data_root = config.data_root;
  context.on_models_changed = [s = server.get()] { s->UpdateHealth(); };
  context.auth_token = config.auth_token;
  if (config.enable_training) {
    TrainJobsOptions training = config.training;
    training.model_root = config.model_root;
    training.data_root = config.data_root;
    server->jobs_ = std::make_unique<TrainJobManager>(std::move(training), registry, metrics,
                                                      [s = server.get()] { s->UpdateHealth(); });
    context.jobs = server->jobs_.get();
  }
  server->service_ = std::make_unique<NerService>(std::move(context));

  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      ServerCredentialsFor(config);
  if (!credentials.ok()) return credentials.status();

  // Both apply to servers built from now on; not thread-safe, but servers are built one at a
  // time.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen_address, *credentials, &server->port_);
  builder.RegisterService(server->service_.get());
  builder.SetMaxReceiveMessageSize(config.max_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             static_cast<int>(absl::ToInt64Milliseconds(config.keepalive_time)));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             static_cast<int>(absl::ToInt64Milliseconds(config.keepalive_timeout)));
  // Clients may ping idle connections (e.g. long-lived streams between documents), but not
  // more often than every 10 seconds.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve gRPC on '", config.listen_address, "'"));
  }
  // "liveness" answers SERVING as long as the process serves gRPC at all (with or without a
  // model), for liveness probes; "" and the service name follow the default model (readiness).
  if (grpc::HealthCheckServiceInterface* health = server->server_->GetHealthCheckService()) {
    health->SetServingStatus(kLivenessService, true);
  }
  server->UpdateHealth();
  // Jobs an earlier server on this model root left unfinished resume now (train_jobs.h).
  if (server->jobs_ != nullptr) server->jobs_->Recover();
  return server;
}

NerServer::~NerServer() { Shutdown(absl::ZeroDuration()); }

void NerServer::UpdateHealth() {
  absl::MutexLock lock(&mu_);
  if (shut_down_ || server_ == nullptr) return;
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (health == nullptr) return;
  const bool serving = registry_->HasDefaultModel();
  health->SetServingStatus("", serving);
  health->SetServingStatus(kServiceName, serving);
}

bool NerServer::live() {
  absl::MutexLock lock(&mu_);
  return !shut_down_;
}

bool NerServer::ready() { return live() && registry_->HasDefaultModel(); }

void NerServer::Shutdown(absl::Duration grace) {
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return;
    shut_down_ = true;
  }
  if (server_ != nullptr) {
    // NOT_SERVING for good, so load balancers move away before the listener closes.
    if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
      health->Shutdown();
    }
    // Training jobs stop at their next step and stay recorded as unfinished, to resume from
    // their last epoch-end checkpoints at the next start; their Train streams end UNAVAILABLE.
    if (jobs_ != nullptr) jobs_->Shutdown();
    // New calls are refused from here on, with UNAVAILABLE, while the admitted ones finish. Only
    // then does gRPC shut down: a call that reaches gRPC's shutdown is ended CANCELLED, which
    // clients do not retry (call_gate.h).
    const absl::Time deadline = absl::Now() + grace;
    const int64_t in_progress = gate_.in_progress();
    // Streams waiting for their client's next message answer what they have read and end now.
    gate_.Close();
    LogInfo(absl::StrCat("draining: new calls are refused; ", in_progress,
                         " calls in progress have ", absl::FormatDuration(grace)));
    if (!gate_.AwaitIdle(deadline)) {
      LogInfo(absl::StrCat("the grace is over; ending ", gate_.in_progress(),
                           " calls still in progress"));
      // What still waits in the queue (a batching delay longer than the grace) is dropped now,
      // its calls ending UNAVAILABLE, which clients retry; without this, gRPC's cancellation
      // below would wait for the pieces' batch to form.
      if (queue_ != nullptr) queue_->Shutdown(/*drain=*/false);
    }
    // Stops listening and waits for the calls gRPC still has (a health watch, a stream, a call
    // between gRPC and the gate); past the deadline they are cancelled at once.
    server_->Shutdown(absl::ToChronoTime(deadline));
    server_->Wait();
  }
  // No call is left; drain whatever evaluation work remains and stop the workers.
  if (queue_ != nullptr) queue_->Shutdown(/*drain=*/true);
  blocking_.reset();  // Runs what is scheduled (nothing, by now) and joins.
}

}  // namespace ner::server
