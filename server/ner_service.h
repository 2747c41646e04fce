#ifndef NER_SERVER_NER_SERVICE_H_
#define NER_SERVER_NER_SERVICE_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ner/v1/ner.grpc.pb.h"
#include "server/blocking_pool.h"
#include "server/call_gate.h"
#include "server/inference_queue.h"
#include "server/metrics.h"
#include "server/model_registry.h"
#include "server/recognize_request.h"
#include "server/train_jobs.h"

namespace ner::server {

// What the service needs; the pointers are not owned and must outlive the service.
struct ServiceContext {
  ModelRegistry* registry = nullptr;
  InferenceQueue* queue = nullptr;
  // Runs blocking work (LoadModel, dataset reads) off gRPC's threads.
  BlockingPool* blocking = nullptr;
  ServerMetrics* metrics = nullptr;
  // Admits each call, and refuses new ones (UNAVAILABLE) while the server drains; null admits
  // every call.
  CallGate* gate = nullptr;
  RequestLimits limits;
  // Documents of one stream or evaluation in flight at once.
  int max_stream_inflight_documents = 64;
  // Directory Evaluate dataset paths are relative to.
  std::string data_root = ".";
  // Called after LoadModel changed the registry (e.g. to update the health status).
  std::function<void()> on_models_changed;
  // Training jobs; null = the training RPCs answer UNIMPLEMENTED.
  TrainJobManager* jobs = nullptr;
  // When non-empty, Train, CancelTrainJob, Evaluate, LoadModel and UnloadModel need the metadata
  // "authorization: Bearer <auth_token>" (UNAUTHENTICATED otherwise).
  std::string auth_token;
};

// Recognize, RecognizeStream, Train and WatchTrainJob take raw bytes (see wire_format.h); the
// others are typed.
using NerServiceBase = v1::NerService::WithRawCallbackMethod_Recognize<
    v1::NerService::WithRawCallbackMethod_RecognizeStream<
        v1::NerService::WithCallbackMethod_Evaluate<v1::NerService::WithRawCallbackMethod_Train<
            v1::NerService::WithCallbackMethod_GetTrainJob<
                v1::NerService::WithRawCallbackMethod_WatchTrainJob<
                    v1::NerService::WithCallbackMethod_CancelTrainJob<
                        v1::NerService::WithCallbackMethod_ListTrainJobs<
                            v1::NerService::WithCallbackMethod_ListModels<
                                v1::NerService::WithCallbackMethod_GetModel<
                                    v1::NerService::WithCallbackMethod_LoadModel<
                                        v1::NerService::WithCallbackMethod_UnloadModel<
                                            v1::NerService::Service>>>>>>>>>>>>;

// ner.v1.NerService on gRPC's callback API: no thread blocks per request. A handler validates
// and prepares the request on the gRPC thread, queues its pieces and returns; the RPC is
// finished by whichever thread completes it (a batcher worker, the blocking pool). Training
// runs as background jobs (train_jobs.h); Train and WatchTrainJob stream their events.
// Train, CancelTrainJob, Evaluate, LoadModel and UnloadModel need the bearer token when one is
// configured. Thread-safe.
class NerService final : public NerServiceBase {
 public:
  explicit NerService(ServiceContext context) : context_(std::move(context)) {}

  // A v1::RecognizeRequest in, a v1::RecognizeResponse out.
  grpc::ServerUnaryReactor* Recognize(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  // v1::RecognizeStreamRequest messages in, v1::RecognizeStreamResponse messages out.
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* RecognizeStream(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* Evaluate(grpc::CallbackServerContext* context,
                                     const v1::EvaluateRequest* request,
                                     v1::EvaluateResponse* response) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* context,
                                       const v1::ListModelsRequest* request,
                                       v1::ListModelsResponse* response) override;
  grpc::ServerUnaryReactor* GetModel(grpc::CallbackServerContext* context,
                                     const v1::GetModelRequest* request,
                                     v1::ModelInfo* response) override;
  grpc::ServerUnaryReactor* LoadModel(grpc::CallbackServerContext* context,
                                      const v1::LoadModelRequest* request,
                                      v1::ModelInfo* response) override;
  grpc::ServerUnaryReactor* UnloadModel(grpc::CallbackServerContext* context,
                                        const v1::UnloadModelRequest* request,
                                        v1::ModelInfo* response) override;
  // A v1::TrainRequest in, v1::TrainEvent messages out.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Train(grpc::CallbackServerContext* context,
                                                    const grpc::ByteBuffer* request) override;
  grpc::ServerUnaryReactor* GetTrainJob(grpc::CallbackServerContext* context,
                                        const v1::GetTrainJobRequest* request,
                                        v1::TrainJob* response) override;
  // A v1::WatchTrainJobRequest in, v1::TrainEvent messages out.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchTrainJob(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) override;
  grpc::ServerUnaryReactor* CancelTrainJob(grpc::CallbackServerContext* context,
                                           const v1::CancelTrainJobRequest* request,
                                           v1::TrainJob* response) override;
  grpc::ServerUnaryReactor* ListTrainJobs(grpc::CallbackServerContext* context,
                                          const v1::ListTrainJobsRequest* request,
                                          v1::ListTrainJobsResponse* response) override;

 private:
  // OK when no token is configured or the call carries it; UNAUTHENTICATED otherwise.
  absl::Status Authorize(const grpc::CallbackServerContext& context) const;
  // LoadModel and UnloadModel: after admission and the token, runs `change` on the blocking
  // pool and finishes the call with the model it returns (ModelInfo.serving = `serving`).
  grpc::ServerUnaryReactor* ChangeModels(
      grpc::CallbackServerContext* context, RpcMethod method, v1::ModelInfo* response,
      std::function<absl::StatusOr<std::shared_ptr<const ServedModel>>()> change, bool serving);

  const ServiceContext context_;
};

}  // namespace ner::server

#endif  // NER_SERVER_NER_SERVICE_H_
