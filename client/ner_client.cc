#include "client/ner_client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/status.h"

namespace ner::client {
namespace {

absl::StatusOr<std::string> ReadPemFile(const std::string& what, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int error = errno;
    const std::string message =
        absl::StrCat("cannot read ", what, " ", path, ": ", std::strerror(error));
    if (error == EACCES) return absl::PermissionDeniedError(message);
    return absl::NotFoundError(message);
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (contents.str().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " ", path, " is empty"));
  }
  return contents.str();
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials(
    const std::optional<TlsOptions>& tls) {
  if (!tls.has_value()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  if (!tls->root_ca_file.empty()) {
    absl::StatusOr<std::string> roots = ReadPemFile("TLS root CA file", tls->root_ca_file);
    if (!roots.ok()) return roots.status();
    ssl.pem_root_certs = *std::move(roots);
  }
  if (!tls->cert_chain_file.empty()) {
    absl::StatusOr<std::string> chain = ReadPemFile("TLS certificate file", tls->cert_chain_file);
    if (!chain.ok()) return chain.status();
    absl::StatusOr<std::string> key = ReadPemFile("TLS key file", tls->private_key_file);
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *std::move(chain);
    ssl.pem_private_key = *std::move(key);
  }
  return grpc::SslCredentials(ssl);
}

}  // namespace

bool IsFinalTrainState(v1::TrainJobState state) {
  return state == v1::TRAIN_JOB_STATE_SUCCEEDED || state == v1::TRAIN_JOB_STATE_FAILED ||
         state == v1::TRAIN_JOB_STATE_CANCELLED;
}

absl::StatusOr<std::unique_ptr<NerClient>> NerClient::Create(ClientOptions options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials = Credentials(options.tls);
  if (!credentials.ok()) return credentials.status();
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  // gRPC's own reconnection backoff (1 s growing to 120 s by default) would make retries fail
  // fast with the last connection error long after the server is back: keep it within ours.
  const int initial_ms = static_cast<int>(
      std::max<int64_t>(1, absl::ToInt64Milliseconds(options.retry.initial_backoff)));
  const int max_ms = static_cast<int>(std::clamp<int64_t>(
      absl::ToInt64Milliseconds(options.retry.max_backoff), initial_ms, 120000));
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, initial_ms);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, initial_ms);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, max_ms);
  if (options.tls.has_value() && !options.tls->override_hostname.empty()) {
    args.SetSslTargetNameOverride(options.tls->override_hostname);
  }
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(options.target, *credentials, args);
  return std::unique_ptr<NerClient>(new NerClient(std::move(channel), std::move(options)));
}

absl::StatusOr<std::unique_ptr<NerClient>> NerClient::Create(std::shared_ptr<grpc::Channel> channel,
                                                             ClientOptions options) {
  if (channel == nullptr) return absl::InvalidArgumentError("channel is null");
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  return std::unique_ptr<NerClient>(new NerClient(std::move(channel), std::move(options)));
}

NerClient::NerClient(std::shared_ptr<grpc::Channel> channel, ClientOptions options)
    : options_(std::move(options)),
      channel_(std::move(channel)),
      stub_(v1::NerService::NewStub(channel_)),
      backoff_(options_.retry) {}

void NerClient::PrepareContext(grpc::ClientContext* context, bool unary) const {
  if (!options_.bearer_token.empty()) {
    context->AddMetadata("authorization", absl::StrCat("Bearer ", options_.bearer_token));
  }
  if (unary && options_.deadline.has_value()) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + *options_.deadline));
  }
}

void NerClient::WaitBeforeRetry(absl::string_view method, int retry, const absl::Status& status) {
  const absl::Duration wait = backoff_.Delay(retry);
  if (options_.on_retry) options_.on_retry(method, retry, status, wait);
  absl::SleepFor(wait);
}

template <typename Response>
absl::StatusOr<Response> NerClient::CallUnary(
    absl::string_view method,
    const std::function<grpc::Status(grpc::ClientContext*, Response*)>& call) {
  const int max_attempts = options_.retry.max_attempts;
  for (int attempt = 1;; ++attempt) {
    grpc::ClientContext context;
    PrepareContext(&context, /*unary=*/true);
    Response response;
    const absl::Status status = FromGrpcStatus(call(&context, &response));
    if (status.ok()) return response;
    if (!IsRetryable(status) || attempt >= max_attempts) {
      if (attempt == 1) return status;
      return absl::Status(
          status.code(), absl::StrCat(status.message(), " (gave up after ", attempt, " attempts)"));
    }
    WaitBeforeRetry(method, attempt, status);
  }
}

absl::StatusOr<v1::RecognizeResponse> NerClient::Recognize(const v1::RecognizeRequest& request) {
  return CallUnary<v1::RecognizeResponse>(
      "Recognize", [&](grpc::ClientContext* context, v1::RecognizeResponse* response) {
        return stub_->Recognize(context, request, response);
      });
}

absl::StatusOr<v1::DocumentResult> NerClient::RecognizeText(absl::string_view text,
                                                            const v1::RecognizeOptions& options) {
  v1::RecognizeRequest request;
  v1::Document* document = request.add_documents();
  document->set_id("0");
  document->set_text(std::string(text));
  *request.mutable_options() = options;
  absl::StatusOr<v1::RecognizeResponse> response = Recognize(request);
  if (!response.ok()) return response.status();
  if (response->results_size() != 1) {
    return absl::InternalError(absl::StrCat("the server answered one document with ",
                                            response->results_size(), " results"));
  }
  return std::move(*response->mutable_results(0));
}

absl::StatusOr<v1::TrainJob> NerClient::GetTrainJob(const std::string& job_id) {
  v1::GetTrainJobRequest request;
  request.set_job_id(job_id);
  return CallUnary<v1::TrainJob>("GetTrainJob",
                                 [&](grpc::ClientContext* context, v1::TrainJob* response) {
                                   return stub_->GetTrainJob(context, request, response);
                                 });
}

absl::StatusOr<v1::TrainJob> NerClient::CancelTrainJob(const std::string& job_id) {
  v1::CancelTrainJobRequest request;
  request.set_job_id(job_id);
  return CallUnary<v1::TrainJob>("CancelTrainJob",
                                 [&](grpc::ClientContext* context, v1::TrainJob* response) {
                                   return stub_->CancelTrainJob(context, request, response);
                                 });
}

absl::StatusOr<std::vector<v1::TrainJob>> NerClient::ListTrainJobs() {
  absl::StatusOr<v1::ListTrainJobsResponse> response = CallUnary<v1::ListTrainJobsResponse>(
      "ListTrainJobs", [&](grpc::ClientContext* context, v1::ListTrainJobsResponse* response) {
        return stub_->ListTrainJobs(context, v1::ListTrainJobsRequest(), response);
      });
  if (!response.ok()) return response.status();
  return std::vector<v1::TrainJob>(response->jobs().begin(), response->jobs().end());
}

absl::StatusOr<v1::EvaluateResponse> NerClient::Evaluate(const v1::EvaluateRequest& request) {
  return CallUnary<v1::EvaluateResponse>(
      "Evaluate", [&](grpc::ClientContext* context, v1::EvaluateResponse* response) {
        return stub_->Evaluate(context, request, response);
      });
}

absl::StatusOr<v1::ListModelsResponse> NerClient::ListModels() {
  return CallUnary<v1::ListModelsResponse>(
      "ListModels", [&](grpc::ClientContext* context, v1::ListModelsResponse* response) {
        return stub_->ListModels(context, v1::ListModelsRequest(), response);
      });
}

absl::StatusOr<v1::ModelInfo> NerClient::GetModel(const std::string& name) {
  v1::GetModelRequest request;
  request.set_name(name);
  return CallUnary<v1::ModelInfo>("GetModel",
                                  [&](grpc::ClientContext* context, v1::ModelInfo* response) {
                                    return stub_->GetModel(context, request, response);
                                  });
}

absl::StatusOr<v1::ModelInfo> NerClient::LoadModel(const std::string& name,
                                                   const std::string& path) {
  v1::LoadModelRequest request;
  request.set_name(name);
  request.set_path(path);
  return CallUnary<v1::ModelInfo>("LoadModel",
                                  [&](grpc::ClientContext* context, v1::ModelInfo* response) {
                                    return stub_->LoadModel(context, request, response);
                                  });
}

absl::StatusOr<v1::ModelInfo> NerClient::UnloadModel(const std::string& name) {
  v1::UnloadModelRequest request;
  request.set_name(name);
  return CallUnary<v1::ModelInfo>("UnloadModel",
                                  [&](grpc::ClientContext* context, v1::ModelInfo* response) {
                                    return stub_->UnloadModel(context, request, response);
                                  });
}

}  // namespace ner::client
