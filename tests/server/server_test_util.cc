#include "tests/server/server_test_util.h"

#include <arpa/inet.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "model/checkpoint.h"
#include "prometheus/text_serializer.h"
#include "tests/testing/shared_data.h"
#include "tests/testing/tiny_model.h"

namespace ner::server::testing {
namespace {

namespace fs = std::filesystem;

absl::Status WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  out.close();
  return out ? absl::OkStatus() : absl::InternalError(absl::StrCat("cannot write ", path));
}

std::string BuildModelRoot() {
  const std::string root = ::ner::testing::MakeTempDir("server_models");
  for (const auto& [name, seed] : {std::pair<const char*, uint64_t>{"tiny", 7}, {"tiny2", 11}}) {
    if (absl::Status s = SaveTinyCheckpoint(root + "/" + name, seed); !s.ok()) {
      std::fprintf(stderr, "cannot save tiny checkpoint: %s\n", s.ToString().c_str());
      std::abort();
    }
  }
  fs::copy(root + "/tiny", root + "/corrupt", fs::copy_options::recursive);
  fs::resize_file(root + "/corrupt/model.safetensors",
                  fs::file_size(root + "/corrupt/model.safetensors") / 2);
  fs::create_directories(root + "/data");
  const absl::Status s = WriteFile(
      root + "/data/dev.jsonl",
      "{\"id\": \"a\", \"text\": \"张三在北京大学工作。\", \"entities\": [{\"start\": 0, \"end\": "
      "2, \"type\": \"PER\"}, {\"start\": 3, \"end\": 7, \"type\": \"ORG\"}]}\n"
      "{\"id\": \"b\", \"text\": \"李四去上海。\", \"entities\": [{\"start\": 0, \"end\": 2, "
      "\"type\": \"PER\"}, {\"start\": 3, \"end\": 5, \"type\": \"LOC\"}]}\n"
      "{\"id\": \"c\", \"text\": \"华为公司在中国。\", \"entities\": [{\"start\": 0, \"end\": 4, "
      "\"type\": \"ORG\"}]}\n");
  if (!s.ok()) std::abort();
  return root;
}

}  // namespace

const std::string& TestModelRoot() {
  static const std::string* root = new std::string(BuildModelRoot());
  return *root;
}

absl::Status SaveTinyCheckpoint(const std::string& dir, uint64_t seed) {
  model::Checkpoint checkpoint =
      ::ner::testing::TinyCheckpoint(model::Variant::kNezhaDfBiLstmCrf, seed);
  return model::SaveCheckpoint(dir, checkpoint);
}

ServerConfig TestConfig() {
  ServerConfig config;
  config.listen_address = "127.0.0.1:0";
  config.metrics_address = std::nullopt;
  config.model_root = TestModelRoot();
  config.data_root = TestModelRoot() + "/data";
  config.default_model_path = "tiny";
  config.intra_op_threads = 1;
  config.drain_grace = absl::Seconds(5);
  return config;
}

std::string FreshModelRoot() {
  const std::string root = ::ner::testing::MakeTempDir("server_models");
  for (const char* part : {"tiny", "tiny2", "corrupt", "data"}) {
    fs::copy(TestModelRoot() + "/" + part, root + "/" + part, fs::copy_options::recursive);
  }
  return root;
}

ServerConfig TrainingConfig() {
  ServerConfig config = TestConfig();
  // Its own model root: job records (jobs/) outlive the server and are recovered by the next
  // one on the same root.
  config.model_root = FreshModelRoot();
  config.data_root = config.model_root + "/data";
  config.training.vocab_path = "tiny/vocab.txt";  // relative to the model root
  config.training.threads = 1;
  return config;
}

v1::TrainRequest SmallTrainRequest(const std::string& output_model, int epochs) {
  v1::TrainRequest request;
  request.set_variant("bilstm-crf");
  request.mutable_train()->set_path("dev.jsonl");
  request.mutable_dev()->set_path("dev.jsonl");
  request.set_output_model(output_model);
  request.set_promote(v1::PROMOTE_POLICY_ALWAYS);
  v1::Hyperparameters* h = request.mutable_hyperparameters();
  h->set_epochs(epochs);
  h->set_batch_size(2);
  h->set_head_lr(1e-2);
  h->set_seed(5);
  h->mutable_adversarial()->set_method(v1::ADVERSARIAL_METHOD_FGM);
  return request;
}

TrainStreamResult ReadTrainEvents(std::unique_ptr<grpc::ClientReader<v1::TrainEvent>> reader) {
  TrainStreamResult result;
  v1::TrainEvent event;
  while (reader->Read(&event)) result.events.push_back(event);
  result.status = reader->Finish();
  return result;
}

absl::StatusOr<std::unique_ptr<TestServer>> TestServer::Start(const ServerConfig& config,
                                                              bool metrics_endpoint) {
  std::unique_ptr<TestServer> t(new TestServer());
  t->prometheus_ = std::make_shared<prometheus::Registry>();
  t->metrics_ = std::make_unique<ServerMetrics>(*t->prometheus_);
  if (metrics_endpoint) {
    absl::StatusOr<std::unique_ptr<MetricsEndpoint>> endpoint =
        MetricsEndpoint::Start("127.0.0.1:0", t->prometheus_);
    if (!endpoint.ok()) return endpoint.status();
    t->endpoint_ = *std::move(endpoint);
  }
  absl::StatusOr<ModelRegistryOptions> options = config.RegistryOptions();
  if (!options.ok()) return options.status();
  absl::StatusOr<std::unique_ptr<ModelRegistry>> registry =
      ModelRegistry::Create(*options, t->metrics_.get());
  if (!registry.ok()) return registry.status();
  t->registry_ = *std::move(registry);
  if (config.default_model_path.has_value()) {
    if (auto loaded = t->registry_->Load(config.default_model_name, *config.default_model_path);
        !loaded.ok()) {
      return loaded.status();
    }
  }
  absl::StatusOr<std::unique_ptr<NerServer>> server =
      NerServer::Start(config, t->registry_.get(), t->metrics_.get());
  if (!server.ok()) return server.status();
  t->server_ = *std::move(server);
  if (t->endpoint_ != nullptr) {
    NerServer* s = t->server_.get();
    t->endpoint_->SetHealth([s] { return s->live(); }, [s] { return s->ready(); });
  }
  t->address_ = absl::StrCat("127.0.0.1:", t->server_->port());
  t->channel_ = grpc::CreateChannel(t->address_, grpc::InsecureChannelCredentials());
  t->stub_ = v1::NerService::NewStub(t->channel_);
  return t;
}

TestServer::~TestServer() {
  if (endpoint_ != nullptr) endpoint_->SetHealth(nullptr, nullptr);  // the server goes first
  stub_.reset();
  channel_.reset();
  server_.reset();  // Drains before the registry and metrics go.
}

int TestServer::metrics_port() const { return endpoint_ == nullptr ? 0 : endpoint_->port(); }

std::string TestServer::MetricsText() const {
  return prometheus::TextSerializer().Serialize(prometheus_->Collect());
}

std::optional<double> TestServer::Metric(const std::string& series) const {
  std::istringstream lines(MetricsText());
  std::string line;
  const std::string prefix = series + " ";
  while (std::getline(lines, line)) {
    if (line.rfind(prefix, 0) == 0) return std::stod(line.substr(prefix.size()));
  }
  return std::nullopt;
}

std::unique_ptr<TestServer> StartOrDie(const ServerConfig& config, bool metrics_endpoint) {
  absl::StatusOr<std::unique_ptr<TestServer>> server = TestServer::Start(config, metrics_endpoint);
  if (!server.ok()) {
    ADD_FAILURE() << server.status();
    std::abort();
  }
  return *std::move(server);
}

v1::RecognizeRequest RecognizeRequestOf(const std::vector<std::string>& texts) {
  v1::RecognizeRequest request;
  for (size_t i = 0; i < texts.size(); ++i) {
    v1::Document* document = request.add_documents();
    document->set_id(absl::StrCat("d", i));
    document->set_text(texts[i]);
  }
  return request;
}

grpc::Status CallRecognize(TestServer& server, const v1::RecognizeRequest& request,
                           v1::RecognizeResponse* response, absl::Duration timeout) {
  grpc::ClientContext context;
  if (timeout != absl::InfiniteDuration()) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
  return server.stub().Recognize(&context, request, response);
}

grpc::Status CallLoadModel(TestServer& server, const std::string& name, const std::string& path,
                           v1::ModelInfo* info) {
  grpc::ClientContext context;
  v1::LoadModelRequest request;
  request.set_name(name);
  request.set_path(path);
  return server.stub().LoadModel(&context, request, info);
}

bool Eventually(const std::function<bool()>& condition) {
  const absl::Time end = absl::Now() + absl::Seconds(10);
  while (absl::Now() < end) {
    if (condition()) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return condition();
}

absl::StatusOr<std::string> HttpGet(int port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket() failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("cannot connect to port ", port));
  }
  const std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
  if (::send(fd, request.data(), request.size(), 0) != static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return absl::InternalError("send() failed");
  }
  std::string reply;
  char buffer[4096];
  ssize_t got;
  while ((got = ::recv(fd, buffer, sizeof(buffer), 0)) > 0) reply.append(buffer, got);
  ::close(fd);
  const size_t body = reply.find("\r\n\r\n");
  if (reply.rfind("HTTP/1.", 0) != 0 || body == std::string::npos) {
    return absl::InternalError(absl::StrCat("not an HTTP reply: ", reply.substr(0, 100)));
  }
  if (reply.find(" 200 ") == std::string::npos || reply.find(" 200 ") > body) {
    return absl::InternalError(absl::StrCat("HTTP error: ", reply.substr(0, reply.find('\r'))));
  }
  return reply.substr(body + 4);
}

}  // namespace ner::server::testing
