#include "server/evaluation.h"

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "model/dataset.h"
#include "model/metrics.h"
#include "server/dataset_source.h"
#include "server/proto_convert.h"
#include "server/rpc_scope.h"

namespace ner::server {
namespace {

// The state of one evaluation. Documents are prepared and submitted by Pump(), which runs on
// whichever thread made room (the starting thread, or a batcher worker completing a document);
// a trampoline keeps it from recursing when a completion runs inline.
class EvaluationRun : public std::enable_shared_from_this<EvaluationRun> {
 public:
  EvaluationRun(const ServiceContext& service, grpc::CallbackServerContext* context,
                v1::EvaluateResponse* response, grpc::ServerUnaryReactor* reactor)
      : service_(service),
        context_(context),
        response_(response),
        reactor_(reactor),
        scope_(service.metrics, service.gate, RpcMethod::kEvaluate) {}

  // OK, or why the call is refused (the server drains).
  const absl::Status& admission() const { return scope_.admission(); }

  // Ends the call with `status` before any document was submitted.
  void Fail(const absl::Status& status) { reactor_->Finish(scope_.End(status)); }

  // Scores `documents` (validated) with `model`.
  void Start(std::shared_ptr<const ServedModel> model, std::vector<model::Document> documents) {
    if (documents.empty()) {
      Fail(absl::InvalidArgumentError("the dataset has no documents"));
      return;
    }
    model_ = std::move(model);
    documents_ = std::move(documents);
    Pump();
  }

 private:
  void Pump() {
    {
      absl::MutexLock lock(&mu_);
      if (pumping_) {
        repump_ = true;
        return;
      }
      pumping_ = true;
    }
    while (true) {
      size_t index = 0;
      {
        absl::MutexLock lock(&mu_);
        // finished_ first: once the call is finished gRPC may free context_ at any moment (a
        // completion can get here after another thread finished the call).
        const bool can_submit = !finished_ && error_.ok() && next_ < documents_.size() &&
                                in_flight_ < service_.max_stream_inflight_documents &&
                                !context_->IsCancelled();
        if (!can_submit) {
          if (repump_) {
            repump_ = false;
            continue;
          }
          pumping_ = false;
          break;
        }
        index = next_++;
        ++in_flight_;
      }
      absl::Status status = Submit(index);
      if (!status.ok()) {
        absl::MutexLock lock(&mu_);
        RecordErrorLocked(std::move(status));
        --in_flight_;
      }
    }
    MaybeFinish();
  }

  absl::Status Submit(size_t index) {
    const model::Document& document = documents_[index];
    absl::StatusOr<model::PreparedDocument> prepared = model_->recognizer->Prepare(document.text);
    if (!prepared.ok()) {
      return absl::Status(
          prepared.status().code(),
          absl::StrCat("document \"", document.id, "\": ", prepared.status().message()));
    }
    std::vector<model::PreparedDocument> batch;
    batch.push_back(*std::move(prepared));
    Submission submission;
    submission.model = model_;
    submission.deadline = DeadlineOf(*context_);
    // Once one document failed the call fails: the others need not run.
    submission.is_cancelled = [this] {
      return failed_.load(std::memory_order_relaxed) || context_->IsCancelled();
    };
    submission.done = [self = shared_from_this(), index](RecognizeResult result) {
      self->OnDocumentDone(index, std::move(result));
    };
    return service_.queue->Submit(std::move(batch), std::move(submission));
  }

  void OnDocumentDone(size_t index, RecognizeResult result) {
    {
      absl::MutexLock lock(&mu_);
      --in_flight_;
      if (result.ok()) {
        std::vector<model::EntitySpan> predicted;
        for (const model::RecognizedEntity& entity : result->front()) {
          predicted.push_back({entity.begin_char, entity.end_char, entity.type});
        }
        scores_.Add(documents_[index].entities, predicted);
      } else {
        RecordErrorLocked(result.status());
      }
    }
    Pump();
  }

  void RecordErrorLocked(absl::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (error_.ok()) error_ = std::move(status);
    failed_.store(true, std::memory_order_relaxed);
  }

  void MaybeFinish() {
    absl::Status status;
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || in_flight_ > 0) return;
      const bool cancelled = context_->IsCancelled();
      if (error_.ok() && !cancelled && next_ < documents_.size()) return;
      finished_ = true;
      status = error_;
      if (status.ok() && cancelled) status = absl::CancelledError("the call was cancelled");
      if (status.ok()) {
        response_->set_model_name(model_->name);
        response_->set_model_version(model_->version);
        FillEvaluateResponse(scores_, response_);
      }
    }
    reactor_->Finish(scope_.End(status));
  }

  const ServiceContext& service_;
  grpc::CallbackServerContext* const context_;
  v1::EvaluateResponse* const response_;
  grpc::ServerUnaryReactor* const reactor_;
  RpcScope scope_;
  std::shared_ptr<const ServedModel> model_;
  std::vector<model::Document> documents_;  // fixed once started
  std::atomic<bool> failed_{false};         // error_ is set; polled by the batcher

  absl::Mutex mu_;
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;    // first document not yet submitted
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;  // submitted and not yet done
  bool pumping_ ABSL_GUARDED_BY(mu_) = false;
  bool repump_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  model::EntityMetrics scores_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

void StartEvaluation(const ServiceContext& service, grpc::CallbackServerContext* context,
                     const v1::EvaluateRequest* request, v1::EvaluateResponse* response,
                     grpc::ServerUnaryReactor* reactor) {
  auto run = std::make_shared<EvaluationRun>(service, context, response, reactor);
  if (!run->admission().ok()) return run->Fail(run->admission());
  absl::StatusOr<std::shared_ptr<const ServedModel>> model =
      service.registry->Get(request->model());
  if (!model.ok()) return run->Fail(model.status());

  const v1::Dataset& dataset = request->dataset();
  if (dataset.source_case() == v1::Dataset::kInlineDocuments) {
    absl::StatusOr<model::Dataset> documents = LoadRequestDataset(dataset, service.data_root);
    if (!documents.ok()) return run->Fail(documents.status());
    return run->Start(*std::move(model), std::move(documents->documents));
  }
  // Reading a file blocks: not on the gRPC thread.
  service.blocking->Schedule(
      [run, model = *std::move(model), dataset = dataset, root = service.data_root] {
        absl::StatusOr<model::Dataset> read = LoadRequestDataset(dataset, root);
        if (!read.ok()) return run->Fail(read.status());
        run->Start(model, std::move(read->documents));
      });
}

}  // namespace ner::server
