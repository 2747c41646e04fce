#ifndef NER_TESTS_CLIENT_FAKE_NER_SERVICE_H_
#define NER_TESTS_CLIENT_FAKE_NER_SERVICE_H_

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "ner/v1/ner.grpc.pb.h"

namespace ner::client::testing {

// A scripted ner.v1.NerService for client tests: each method answers the codes queued for it
// (one per call, OK once the queue is empty) and records every call. Thread-safe.
class FakeNerService final : public v1::NerService::Service {
 public:
  // A call as the server saw it.
  struct Call {
    absl::Time arrival;
    std::string authorization;  // the metadata value, "" when absent
    bool has_deadline = false;
  };

  // Queues the answers of the next calls of `method` ("Recognize", "Train", ...).
  void Script(const std::string& method, std::vector<grpc::StatusCode> codes);
  // Calls of `method` so far.
  std::vector<Call> Calls(const std::string& method);

  // RecognizeStream: the first `n` attempts of each document (by text) get an in-band `code`.
  void FailDocuments(int n, grpc::StatusCode code);
  // RecognizeStream: the first stream ends with UNAVAILABLE after answering `n` documents.
  void BreakFirstStreamAfter(int n);
  // Train: after its first event the stream breaks (UNAVAILABLE); the job goes on.
  void BreakTrainAfterFirstEvent() { break_train_ = true; }
  // Train: the job is accepted (listed by ListTrainJobs) but the call fails UNAVAILABLE before
  // any event reaches the client.
  void LoseTrainAnswer() { lose_train_answer_ = true; }
  // Jobs that exist from the start.
  void AddJob(const v1::TrainJob& job);
  // Training jobs started.
  int jobs_started();

  grpc::Status Recognize(grpc::ServerContext* context, const v1::RecognizeRequest* request,
                         v1::RecognizeResponse* response) override;
  grpc::Status RecognizeStream(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::RecognizeStreamResponse, v1::RecognizeStreamRequest>* stream)
      override;
  grpc::Status Train(grpc::ServerContext* context, const v1::TrainRequest* request,
                     grpc::ServerWriter<v1::TrainEvent>* writer) override;
  grpc::Status WatchTrainJob(grpc::ServerContext* context, const v1::WatchTrainJobRequest* request,
                             grpc::ServerWriter<v1::TrainEvent>* writer) override;
  grpc::Status ListTrainJobs(grpc::ServerContext* context, const v1::ListTrainJobsRequest* request,
                             v1::ListTrainJobsResponse* response) override;
  grpc::Status ListModels(grpc::ServerContext* context, const v1::ListModelsRequest* request,
                          v1::ListModelsResponse* response) override;

 private:
  // Records the call and pops its scripted code.
  grpc::StatusCode Answer(const std::string& method, grpc::ServerContext* context);

  std::mutex mu_;
  std::map<std::string, std::deque<grpc::StatusCode>> scripts_;
  std::map<std::string, std::vector<Call>> calls_;
  std::map<std::string, int> document_attempts_;
  int fail_documents_ = 0;
  grpc::StatusCode document_code_ = grpc::StatusCode::OK;
  int break_first_stream_after_ = -1;
  int streams_ = 0;
  bool break_train_ = false;
  bool lose_train_answer_ = false;
  std::vector<v1::TrainJob> jobs_;
  int jobs_started_ = 0;
};

// The fake on 127.0.0.1 (a free port).
class FakeServer {
 public:
  FakeServer();
  ~FakeServer() { server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1))); }
  FakeNerService& service() { return service_; }
  const std::string& address() const { return address_; }

 private:
  FakeNerService service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

}  // namespace ner::client::testing

#endif  // NER_TESTS_CLIENT_FAKE_NER_SERVICE_H_
