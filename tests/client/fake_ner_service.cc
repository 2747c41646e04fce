#include "tests/client/fake_ner_service.h"

#include <grpcpp/security/server_credentials.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace ner::client::testing {

void FakeNerService::Script(const std::string& method, std::vector<grpc::StatusCode> codes) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const grpc::StatusCode code : codes) scripts_[method].push_back(code);
}

std::vector<FakeNerService::Call> FakeNerService::Calls(const std::string& method) {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_[method];
}

void FakeNerService::FailDocuments(int n, grpc::StatusCode code) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_documents_ = n;
  document_code_ = code;
}

void FakeNerService::BreakFirstStreamAfter(int n) {
  std::lock_guard<std::mutex> lock(mu_);
  break_first_stream_after_ = n;
}

void FakeNerService::AddJob(const v1::TrainJob& job) {
  std::lock_guard<std::mutex> lock(mu_);
  jobs_.push_back(job);
}

int FakeNerService::jobs_started() {
  std::lock_guard<std::mutex> lock(mu_);
  return jobs_started_;
}

grpc::StatusCode FakeNerService::Answer(const std::string& method, grpc::ServerContext* context) {
  Call call;
  call.arrival = absl::Now();
  const auto it = context->client_metadata().find("authorization");
  if (it != context->client_metadata().end()) {
    call.authorization = std::string(it->second.data(), it->second.size());
  }
  call.has_deadline = context->deadline() < absl::ToChronoTime(absl::InfiniteFuture());
  std::lock_guard<std::mutex> lock(mu_);
  calls_[method].push_back(call);
  std::deque<grpc::StatusCode>& script = scripts_[method];
  if (script.empty()) return grpc::StatusCode::OK;
  const grpc::StatusCode code = script.front();
  script.pop_front();
  return code;
}

grpc::Status FakeNerService::Recognize(grpc::ServerContext* context,
                                       const v1::RecognizeRequest* request,
                                       v1::RecognizeResponse* response) {
  if (const grpc::StatusCode code = Answer("Recognize", context); code != grpc::StatusCode::OK) {
    return grpc::Status(code, "scripted failure");
  }
  for (const v1::Document& document : request->documents()) {
    response->add_results()->set_id(document.id());
  }
  response->set_model_name("fake");
  return grpc::Status::OK;
}

grpc::Status FakeNerService::RecognizeStream(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::RecognizeStreamResponse, v1::RecognizeStreamRequest>* stream) {
  if (const grpc::StatusCode code = Answer("RecognizeStream", context);
      code != grpc::StatusCode::OK) {
    return grpc::Status(code, "scripted failure");
  }
  int answered = 0;
  int limit;
  {
    std::lock_guard<std::mutex> lock(mu_);
    limit = streams_++ == 0 ? break_first_stream_after_ : -1;
  }
  v1::RecognizeStreamRequest request;
  while (stream->Read(&request)) {
    for (const v1::Document& document : request.documents()) {
      if (answered == limit) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "server went away");
      v1::RecognizeStreamResponse response;
      response.set_id(document.id());
      response.set_model_name("fake");
      int attempt;
      {
        std::lock_guard<std::mutex> lock(mu_);
        attempt = ++document_attempts_[document.text()];
      }
      if (attempt <= fail_documents_) {
        response.mutable_error()->set_code(static_cast<int>(document_code_));
        response.mutable_error()->set_message("queue full");
      } else {
        // One entity: the first character, typed by the text, so results can be checked.
        v1::DocumentResult* result = response.mutable_result();
        result->set_id(document.id());
        v1::Entity* entity = result->add_entities();
        entity->set_type("T");
        entity->set_text(document.text().substr(0, 1));
        entity->set_begin_char(0);
        entity->set_end_char(1);
      }
      if (!stream->Write(response)) return grpc::Status::OK;
      ++answered;
    }
  }
  return grpc::Status::OK;
}

grpc::Status FakeNerService::Train(grpc::ServerContext* context, const v1::TrainRequest* request,
                                   grpc::ServerWriter<v1::TrainEvent>* writer) {
  if (const grpc::StatusCode code = Answer("Train", context); code != grpc::StatusCode::OK) {
    return grpc::Status(code, "scripted failure");
  }
  v1::TrainJob job;
  {
    std::lock_guard<std::mutex> lock(mu_);
    job.set_job_id(absl::StrCat("job-", ++jobs_started_));
    *job.mutable_request() = *request;
    job.mutable_latest()->set_job_id(job.job_id());
    job.mutable_latest()->set_state(v1::TRAIN_JOB_STATE_RUNNING);
    jobs_.insert(jobs_.begin(), job);
  }
  if (lose_train_answer_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection reset");
  writer->Write(job.latest());
  if (break_train_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection reset");
  v1::TrainEvent done = job.latest();
  done.set_state(v1::TRAIN_JOB_STATE_SUCCEEDED);
  writer->Write(done);
  return grpc::Status::OK;
}

grpc::Status FakeNerService::WatchTrainJob(grpc::ServerContext* context,
                                           const v1::WatchTrainJobRequest* request,
                                           grpc::ServerWriter<v1::TrainEvent>* writer) {
  if (const grpc::StatusCode code = Answer("WatchTrainJob", context);
      code != grpc::StatusCode::OK) {
    return grpc::Status(code, "scripted failure");
  }
  v1::TrainEvent event;
  event.set_job_id(request->job_id());
  event.set_state(v1::TRAIN_JOB_STATE_RUNNING);
  writer->Write(event);
  event.set_state(v1::TRAIN_JOB_STATE_SUCCEEDED);
  event.set_message("watched to the end");
  writer->Write(event);
  return grpc::Status::OK;
}

grpc::Status FakeNerService::ListTrainJobs(grpc::ServerContext* context,
                                           const v1::ListTrainJobsRequest*,
                                           v1::ListTrainJobsResponse* response) {
  if (const grpc::StatusCode code = Answer("ListTrainJobs", context);
      code != grpc::StatusCode::OK) {
    return grpc::Status(code, "scripted failure");
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const v1::TrainJob& job : jobs_) *response->add_jobs() = job;
  return grpc::Status::OK;
}

grpc::Status FakeNerService::ListModels(grpc::ServerContext* context, const v1::ListModelsRequest*,
                                        v1::ListModelsResponse* response) {
  if (const grpc::StatusCode code = Answer("ListModels", context); code != grpc::StatusCode::OK) {
    return grpc::Status(code, "scripted failure");
  }
  response->set_default_model("fake");
  return grpc::Status::OK;
}

FakeServer::FakeServer() {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service_);
  server_ = builder.BuildAndStart();
  address_ = absl::StrCat("127.0.0.1:", port);
}

}  // namespace ner::client::testing
