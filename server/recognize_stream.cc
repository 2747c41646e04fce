#include "server/recognize_stream.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/status_util.h"

namespace ner::server {

RecognizeStreamReactor::RecognizeStreamReactor(grpc::CallbackServerContext* context,
                                               const ServiceContext& service)
    : context_(context),
      service_(service),
      scope_(service.metrics, service.gate, RpcMethod::kRecognizeStream) {
  if (!scope_.admission().ok()) {
    absl::MutexLock lock(&mu_);
    fatal_ = scope_.admission();  // Step() finishes with it at once, reading nothing.
  } else if (service_.gate != nullptr) {
    close_hook_ = std::make_shared<CloseHook>();
    // Held while registering: a listener called meanwhile waits until the hook is complete.
    absl::MutexLock hook_lock(&close_hook_->mu);
    close_hook_->reactor = this;
    close_hook_->listener =
        service_.gate->AddCloseListener([hook = close_hook_] { OnGateClosed(hook); });
    if (close_hook_->listener == 0) {  // closed since this call was admitted
      absl::MutexLock lock(&mu_);
      draining_ = true;
    }
  }
  Step();  // The first read.
}

void RecognizeStreamReactor::OnGateClosed(const std::shared_ptr<CloseHook>& hook) {
  RecognizeStreamReactor* reactor = nullptr;
  {
    absl::MutexLock hook_lock(&hook->mu);
    if (hook->reactor == nullptr) return;  // finished already
    absl::MutexLock lock(&hook->reactor->mu_);
    if (hook->reactor->finished_) return;
    hook->reactor->draining_ = true;
    // Keeps the call from finishing, and so the reactor alive, until it is stepped below.
    ++hook->reactor->starting_ops_;
    reactor = hook->reactor;
  }
  reactor->mu_.Lock();
  --reactor->starting_ops_;
  reactor->StepAndUnlock();
}

void RecognizeStreamReactor::OnReadDone(bool ok) {
  if (ok) {
    // reading_ stays true while the message is handled, so no other read starts meanwhile:
    // messages are handled one at a time, in order.
    v1::RecognizeStreamRequest request;
    std::vector<MalformedDocument> malformed;
    absl::Status status = ParseRequest(ToBytes(request_), &request, &malformed);
    if (status.ok()) status = HandleMessage(request, malformed);
    absl::MutexLock lock(&mu_);
    if (!status.ok() && fatal_.ok()) fatal_ = std::move(status);
    reading_ = false;
  } else {
    absl::MutexLock lock(&mu_);
    reading_ = false;
    read_closed_ = true;
  }
  Step();
}

absl::Status RecognizeStreamReactor::HandleMessage(
    const v1::RecognizeStreamRequest& request, const std::vector<MalformedDocument>& malformed) {
  v1::RecognizeOptions options;
  {
    absl::MutexLock lock(&mu_);
    if (got_first_message_ && request.has_options()) {
      return absl::InvalidArgumentError("options may be set on the first message of a stream only");
    }
    if (!got_first_message_) {
      got_first_message_ = true;
      options_ = request.options();
    }
    options = options_;
  }
  if (request.documents_size() > service_.limits.max_documents) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a stream message has ", request.documents_size(),
        " documents, more than the server's limit of ", service_.limits.max_documents));
  }
  // Resolved per message, so a long stream moves on to a reloaded model.
  absl::StatusOr<std::shared_ptr<const ServedModel>> model =
      service_.registry->Get(options.model());
  if (!model.ok()) return model.status();
  absl::StatusOr<EntityFilter> filter = EntityFilter::Create(options, **model);
  if (!filter.ok()) return filter.status();
  auto shared_filter = std::make_shared<const EntityFilter>(*std::move(filter));

  for (const MalformedDocument& document : malformed) {
    {
      absl::MutexLock lock(&mu_);
      ++in_flight_;
    }
    AddError(document.id, model->get(), document.status);
  }

  for (int i = 0; i < request.documents_size(); ++i) {
    const v1::Document& document = request.documents(i);
    const std::string& id = document.id();
    bool duplicate = false;
    {
      absl::MutexLock lock(&mu_);
      ++in_flight_;  // Every document gets exactly one response.
      duplicate = !id.empty() && !ids_.insert(id).second;
    }
    if (id.empty()) {
      AddError(id, model->get(), absl::InvalidArgumentError("a streamed document needs an id"));
      continue;
    }
    if (duplicate) {
      AddError(id, model->get(),
               absl::InvalidArgumentError(
                   absl::StrCat("id \"", id, "\" is already in flight on this stream")));
      continue;
    }
    absl::StatusOr<model::PreparedDocument> prepared =
        PrepareDocument(document, i, **model, service_.limits);
    absl::Status status = prepared.status();
    if (prepared.ok()) {
      const int64_t characters = prepared->decoded.size();
      std::vector<model::PreparedDocument> documents;
      documents.push_back(*std::move(prepared));
      Submission submission;
      submission.model = *model;
      submission.deadline = DeadlineOf(*context_);
      submission.is_cancelled = [this] { return abandoned_.load(std::memory_order_relaxed); };
      submission.done = [this, id, model = *model, shared_filter,
                         characters](RecognizeResult result) {
        OnRecognized(id, characters, model, shared_filter, std::move(result));
      };
      {
        absl::MutexLock lock(&mu_);
        // The stream has already finished (cancelled while this message was being handled):
        // nobody will read the answer, and a completion could outlive the reactor.
        if (finished_) return absl::OkStatus();
        ++submitted_;
      }
      status = service_.queue->Submit(std::move(documents), std::move(submission));
      if (!status.ok()) {
        absl::MutexLock lock(&mu_);
        --submitted_;
      }
    }
    if (!status.ok()) {
      {
        absl::MutexLock lock(&mu_);
        ids_.erase(id);
      }
      AddError(id, model->get(), status);
    }
  }
  return absl::OkStatus();
}

void RecognizeStreamReactor::AddError(const std::string& id, const ServedModel* model,
                                      const absl::Status& status) {
  v1::RecognizeStreamResponse response;
  response.set_id(id);
  *response.mutable_error() = ToRpcStatusProto(status);
  if (model != nullptr) {
    response.set_model_name(model->name);
    response.set_model_version(model->version);
  }
  absl::MutexLock lock(&mu_);
  pending_.push_back(std::move(response));
}

void RecognizeStreamReactor::OnRecognized(const std::string& id, int64_t characters,
                                          const std::shared_ptr<const ServedModel>& model,
                                          const std::shared_ptr<const EntityFilter>& filter,
                                          RecognizeResult result) {
  v1::RecognizeStreamResponse response;
  response.set_id(id);
  response.set_model_name(model->name);
  response.set_model_version(model->version);
  if (result.ok()) {
    FillDocumentResult(id, result->front(), *filter, response.mutable_result());
    service_.metrics->DocumentsRecognized(1, characters);
    for (const v1::Entity& entity : response.result().entities()) {
      service_.metrics->EntitiesReturned(entity.type(), 1);
    }
  } else {
    *response.mutable_error() = ToRpcStatusProto(result.status());
  }
  mu_.Lock();
  --submitted_;
  ids_.erase(id);
  pending_.push_back(std::move(response));
  StepAndUnlock();  // Not Step(): see StepAndUnlock.
}

void RecognizeStreamReactor::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    --in_flight_;
    if (!ok) write_failed_ = true;
  }
  Step();
}

void RecognizeStreamReactor::OnCancel() {
  cancelled_.store(true, std::memory_order_relaxed);
  abandoned_.store(true, std::memory_order_relaxed);
  Step();
}

void RecognizeStreamReactor::OnDone() { delete this; }

RecognizeStreamReactor::Actions RecognizeStreamReactor::NextActionsLocked() {
  Actions actions;
  if (finished_) return actions;
  const bool ending = cancelled_.load(std::memory_order_relaxed) || write_failed_ || !fatal_.ok();
  if (ending) {
    abandoned_.store(true, std::memory_order_relaxed);
    // Nobody will read these: drop them (the documents still in the queue are dropped by the
    // batcher, seeing IsCancelled).
    in_flight_ -= static_cast<int64_t>(pending_.size());
    pending_.clear();
  }
  if (!writing_ && !pending_.empty()) {
    writing_ = true;
    writing_response_ = ToByteBuffer(pending_.front());
    pending_.pop_front();
    actions.write = &writing_response_;
  }
  if (!ending && !draining_ && !reading_ && !read_closed_ &&
      in_flight_ < service_.max_stream_inflight_documents) {
    reading_ = true;
    actions.read = true;
  }
  // Finish once nothing is queued, written or about to start. A read may still be outstanding
  // when the stream ends early or drains: Finish completes it (with ok = false).
  const bool quiet = !writing_ && pending_.empty() && submitted_ == 0 && starting_ops_ == 0;
  const bool read_all = read_closed_ && !reading_;
  if (quiet && (ending || read_all || draining_)) {
    finished_ = true;
    actions.finish = true;
    if (cancelled_.load(std::memory_order_relaxed) || write_failed_) {
      actions.status = absl::CancelledError("the stream was cancelled");
    } else if (!fatal_.ok() || read_all) {
      actions.status = fatal_;
    } else {
      actions.status = absl::UnavailableError(
          "the server is shutting down; every document read on this stream has been answered, "
          "send the others to another replica");
    }
  }
  return actions;
}

void RecognizeStreamReactor::Step() {
  mu_.Lock();
  StepAndUnlock();
}

void RecognizeStreamReactor::StepAndUnlock() {
  while (true) {
    const Actions actions = NextActionsLocked();
    if (!actions.read && actions.write == nullptr && !actions.finish) {
      mu_.Unlock();
      return;
    }
    // While starting_ops_ > 0 no other thread finishes the call, so `this` stays alive.
    if (!actions.finish) ++starting_ops_;
    mu_.Unlock();
    if (actions.finish) {
      if (close_hook_ != nullptr) {
        int64_t listener = 0;
        {
          absl::MutexLock lock(&close_hook_->mu);
          close_hook_->reactor = nullptr;
          listener = close_hook_->listener;
        }
        service_.gate->RemoveCloseListener(listener);
      }
      // The last use of `this`: OnDone (and delete) may follow at once.
      Finish(scope_.End(actions.status));
      return;
    }
    if (actions.write != nullptr) StartWrite(actions.write);
    if (actions.read) StartRead(&request_);
    mu_.Lock();
    --starting_ops_;
    // Loop: another thread may have skipped finishing while this one was starting operations.
  }
}

}  // namespace ner::server
