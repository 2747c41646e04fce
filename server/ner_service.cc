#include "server/ner_service.h"

#include <memory>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "server/evaluation.h"
#include "server/proto_convert.h"
#include "server/recognize_stream.h"
#include "server/rpc_scope.h"
#include "server/train_stream.h"
#include "server/wire_format.h"

namespace ner::server {
namespace {

// Counts what a finished Recognize returns.
void RecordRecognized(ServerMetrics& metrics, const v1::RecognizeResponse& response,
                      int64_t characters) {
  metrics.DocumentsRecognized(response.results_size(), characters);
  absl::flat_hash_map<absl::string_view, int64_t> by_type;
  for (const v1::DocumentResult& result : response.results()) {
    for (const v1::Entity& entity : result.entities()) ++by_type[entity.type()];
  }
  for (const auto& [type, count] : by_type) metrics.EntitiesReturned(type, count);
}

// Equal strings, in time independent of where they differ (for secrets).
bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i]);
  }
  return diff == 0;
}

absl::Status TrainingUnavailable() {
  return absl::UnimplementedError("this server does not run training jobs");
}

}  // namespace

absl::Status NerService::Authorize(const grpc::CallbackServerContext& context) const {
  if (context_.auth_token.empty()) return absl::OkStatus();
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return absl::UnauthenticatedError(
        "this call needs a bearer token: metadata 'authorization: Bearer <token>'");
  }
  const absl::string_view value(it->second.data(), it->second.size());
  constexpr absl::string_view kPrefix = "Bearer ";
  if (value.size() < kPrefix.size() || value.substr(0, kPrefix.size()) != kPrefix ||
      !ConstantTimeEquals(value.substr(kPrefix.size()), context_.auth_token)) {
    // The token itself is never logged or echoed.
    return absl::UnauthenticatedError("the bearer token is not valid");
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* NerService::Recognize(grpc::CallbackServerContext* context,
                                                const grpc::ByteBuffer* request_bytes,
                                                grpc::ByteBuffer* response_bytes) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto scope = std::make_shared<RpcScope>(context_.metrics, context_.gate, RpcMethod::kRecognize);
  auto fail = [&](const absl::Status& status) {
    reactor->Finish(scope->End(status));
    return reactor;
  };
  if (!scope->admission().ok()) return fail(scope->admission());

  // Everything is validated, and every document prepared, before anything is queued.
  auto request = std::make_shared<v1::RecognizeRequest>();
  std::vector<MalformedDocument> malformed;
  if (absl::Status s = ParseRequest(ToBytes(*request_bytes), request.get(), &malformed); !s.ok()) {
    return fail(s);
  }
  if (!malformed.empty()) return fail(malformed.front().status);
  absl::StatusOr<std::shared_ptr<const ServedModel>> model =
      context_.registry->Get(request->options().model());
  if (!model.ok()) return fail(model.status());
  absl::StatusOr<EntityFilter> filter = EntityFilter::Create(request->options(), **model);
  if (!filter.ok()) return fail(filter.status());
  absl::StatusOr<std::vector<model::PreparedDocument>> documents =
      PrepareDocuments(request->documents(), **model, context_.limits);
  if (!documents.ok()) return fail(documents.status());
  int64_t characters = 0;
  for (const model::PreparedDocument& document : *documents) characters += document.decoded.size();

  Submission submission;
  submission.model = *model;
  submission.deadline = DeadlineOf(*context);
  submission.is_cancelled = [context] { return context->IsCancelled(); };
  submission.done = [reactor, scope, request, response_bytes, filter = *std::move(filter),
                     model = *model, characters,
                     metrics = context_.metrics](RecognizeResult result) {
    if (!result.ok()) {
      reactor->Finish(scope->End(result.status()));
      return;
    }
    v1::RecognizeResponse response;
    response.set_model_name(model->name);
    response.set_model_version(model->version);
    for (size_t i = 0; i < result->size(); ++i) {
      FillDocumentResult(request->documents(static_cast<int>(i)).id(), (*result)[i], filter,
                         response.add_results());
    }
    RecordRecognized(*metrics, response, characters);
    *response_bytes = ToByteBuffer(response);
    reactor->Finish(scope->End(absl::OkStatus()));
  };
  // On success `done` finishes the call (perhaps already, for blank documents); on failure it
  // is never called.
  if (absl::Status status = context_.queue->Submit(*std::move(documents), std::move(submission));
      !status.ok()) {
    return fail(status);
  }
  return reactor;
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* NerService::RecognizeStream(
    grpc::CallbackServerContext* context) {
  return new RecognizeStreamReactor(context, context_);
}

grpc::ServerUnaryReactor* NerService::Evaluate(grpc::CallbackServerContext* context,
                                               const v1::EvaluateRequest* request,
                                               v1::EvaluateResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::Status s = Authorize(*context); !s.ok()) {
    RpcScope scope(context_.metrics, context_.gate, RpcMethod::kEvaluate);
    reactor->Finish(scope.End(scope.admission().ok() ? s : scope.admission()));
    return reactor;
  }
  StartEvaluation(context_, context, request, response, reactor);
  return reactor;
}

grpc::ServerUnaryReactor* NerService::ListModels(grpc::CallbackServerContext* context,
                                                 const v1::ListModelsRequest* /*request*/,
                                                 v1::ListModelsResponse* response) {
  RpcScope scope(context_.metrics, context_.gate, RpcMethod::kListModels);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (scope.admission().ok()) {
    for (const std::shared_ptr<const ServedModel>& model : context_.registry->List()) {
      *response->add_models() = ToModelInfo(*model);
    }
    response->set_default_model(context_.registry->default_model_name());
  }
  reactor->Finish(scope.End(scope.admission()));
  return reactor;
}

grpc::ServerUnaryReactor* NerService::GetModel(grpc::CallbackServerContext* context,
                                               const v1::GetModelRequest* request,
                                               v1::ModelInfo* response) {
  RpcScope scope(context_.metrics, context_.gate, RpcMethod::kGetModel);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!scope.admission().ok()) {
    reactor->Finish(scope.End(scope.admission()));
    return reactor;
  }
  absl::StatusOr<std::shared_ptr<const ServedModel>> model =
      context_.registry->Get(request->name());
  if (model.ok()) *response = ToModelInfo(**model);
  reactor->Finish(scope.End(model.status()));
  return reactor;
}

grpc::ServerUnaryReactor* NerService::ChangeModels(
    grpc::CallbackServerContext* context, RpcMethod method, v1::ModelInfo* response,
    std::function<absl::StatusOr<std::shared_ptr<const ServedModel>>()> change, bool serving) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto scope = std::make_shared<RpcScope>(context_.metrics, context_.gate, method);
  absl::Status s = scope->admission();
  if (s.ok()) s = Authorize(*context);
  if (!s.ok()) {
    reactor->Finish(scope->End(s));
    return reactor;
  }
  // A load reads and self-tests a checkpoint, an unload waits for a load in progress: seconds
  // of blocking work, so not on this thread.
  context_.blocking->Schedule(
      [this, reactor, scope, response, serving, change = std::move(change)] {
        absl::StatusOr<std::shared_ptr<const ServedModel>> model = change();
        if (model.ok()) {
          *response = ToModelInfo(**model);
          response->set_serving(serving);
          if (context_.on_models_changed) context_.on_models_changed();
        }
        reactor->Finish(scope->End(model.status()));
      });
  return reactor;
}

grpc::ServerUnaryReactor* NerService::LoadModel(grpc::CallbackServerContext* context,
                                                const v1::LoadModelRequest* request,
                                                v1::ModelInfo* response) {
  return ChangeModels(
      context, RpcMethod::kLoadModel, response,
      [this, request] { return context_.registry->Load(request->name(), request->path()); },
      /*serving=*/true);
}

grpc::ServerUnaryReactor* NerService::UnloadModel(grpc::CallbackServerContext* context,
                                                  const v1::UnloadModelRequest* request,
                                                  v1::ModelInfo* response) {
  return ChangeModels(
      context, RpcMethod::kUnloadModel, response,
      [this, request] { return context_.registry->Unload(request->name()); },
      /*serving=*/false);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* NerService::Train(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request_bytes) {
  auto scope = std::make_unique<RpcScope>(context_.metrics, context_.gate, RpcMethod::kTrain);
  absl::Status status = scope->admission();
  if (status.ok()) status = Authorize(*context);
  if (status.ok() && context_.jobs == nullptr) status = TrainingUnavailable();
  v1::TrainRequest request;
  if (status.ok()) status = ParseMessage(ToBytes(*request_bytes), &request);
  if (!status.ok()) return FailedTrainEventStream(std::move(scope), status);
  absl::StatusOr<std::string> job_id = context_.jobs->Submit(request);
  if (!job_id.ok()) return FailedTrainEventStream(std::move(scope), job_id.status());
  return StartTrainEventStream(context_.jobs, std::move(scope), *job_id);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* NerService::WatchTrainJob(
    grpc::CallbackServerContext* /*context*/, const grpc::ByteBuffer* request_bytes) {
  auto scope =
      std::make_unique<RpcScope>(context_.metrics, context_.gate, RpcMethod::kWatchTrainJob);
  absl::Status status = scope->admission();
  if (status.ok() && context_.jobs == nullptr) status = TrainingUnavailable();
  v1::WatchTrainJobRequest request;
  if (status.ok()) status = ParseMessage(ToBytes(*request_bytes), &request);
  if (!status.ok()) return FailedTrainEventStream(std::move(scope), status);
  return StartTrainEventStream(context_.jobs, std::move(scope), request.job_id());
}

grpc::ServerUnaryReactor* NerService::GetTrainJob(grpc::CallbackServerContext* context,
                                                  const v1::GetTrainJobRequest* request,
                                                  v1::TrainJob* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  RpcScope scope(context_.metrics, context_.gate, RpcMethod::kGetTrainJob);
  absl::Status status = scope.admission();
  if (status.ok() && context_.jobs == nullptr) status = TrainingUnavailable();
  if (!status.ok()) {
    reactor->Finish(scope.End(status));
    return reactor;
  }
  absl::StatusOr<v1::TrainJob> job = context_.jobs->Get(request->job_id());
  if (job.ok()) *response = *std::move(job);
  reactor->Finish(scope.End(job.status()));
  return reactor;
}

grpc::ServerUnaryReactor* NerService::CancelTrainJob(grpc::CallbackServerContext* context,
                                                     const v1::CancelTrainJobRequest* request,
                                                     v1::TrainJob* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  RpcScope scope(context_.metrics, context_.gate, RpcMethod::kCancelTrainJob);
  absl::Status status = scope.admission();
  if (status.ok()) status = Authorize(*context);
  if (status.ok() && context_.jobs == nullptr) status = TrainingUnavailable();
  if (status.ok()) {
    absl::StatusOr<v1::TrainJob> job = context_.jobs->Cancel(request->job_id());
    if (job.ok()) *response = *std::move(job);
    status = job.status();
  }
  reactor->Finish(scope.End(status));
  return reactor;
}

grpc::ServerUnaryReactor* NerService::ListTrainJobs(grpc::CallbackServerContext* context,
                                                    const v1::ListTrainJobsRequest* /*request*/,
                                                    v1::ListTrainJobsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  RpcScope scope(context_.metrics, context_.gate, RpcMethod::kListTrainJobs);
  absl::Status status = scope.admission();
  if (status.ok() && context_.jobs == nullptr) status = TrainingUnavailable();
  if (!status.ok()) {
    reactor->Finish(scope.End(status));
    return reactor;
  }
  for (v1::TrainJob& job : context_.jobs->List()) *response->add_jobs() = std::move(job);
  reactor->Finish(scope.End(absl::OkStatus()));
  return reactor;
}

}  // namespace ner::server
