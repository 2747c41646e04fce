// `ner-bench`: drives a running NER server with a closed-loop load and reports throughput,
// latency percentiles, errors by status code, and the server's batch statistics read from its
// metrics endpoint. Wiring only: flags -> LoadOptions -> RunLoad -> report. See
// docs/performance.md.

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/load/documents.h"
#include "bench/load/load_runner.h"
#include "bench/load/metrics_scrape.h"
#include "bench/load/report.h"
#include "model/file_util.h"

ABSL_FLAG(std::string, address, "localhost:50051", "The server, HOST:PORT.");
ABSL_FLAG(std::string, tls_ca_file, "", "Use TLS, trusting this CA bundle (PEM).");
ABSL_FLAG(std::string, metrics_address, "",
          "The server's metrics endpoint HOST:PORT; empty = no server-side statistics.");
ABSL_FLAG(std::string, input, "",
          "Texts to send; empty = People's Daily test set under NER_SHARED_DIR (../shared).");
ABSL_FLAG(std::string, format, "column", "Format of --input: lines, jsonl, column.");
ABSL_FLAG(int, min_chars, 0,
          "Join consecutive texts until each has at least this many characters (0 = as read).");
ABSL_FLAG(std::string, mode, "unary", "unary (Recognize) or stream (RecognizeStream).");
ABSL_FLAG(int, concurrency, 1, "Workers, each with one request outstanding.");
ABSL_FLAG(int, channels, 1, "gRPC channels (connections), shared round robin by the workers.");
ABSL_FLAG(int, docs_per_request, 1, "Documents per request or stream message.");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(2), "Unmeasured time at the start.");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "Measured time.");
ABSL_FLAG(int64_t, max_documents, 0, "Stop after this many measured documents (0 = no bound).");
ABSL_FLAG(absl::Duration, deadline, absl::Seconds(30), "Deadline of each unary call.");
ABSL_FLAG(std::string, model, "", "Model name; empty = the server's default.");
ABSL_FLAG(std::string, json, "", "Also write the report as one JSON object to this file.");

namespace {

using ner::bench::CallMode;

int Fail(const std::string& message) {
  std::fprintf(stderr, "ner-bench: %s\n", message.c_str());
  return 1;
}

// User + system CPU time of this process so far.
double CpuSeconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + 1e-6 * t.tv_usec; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

std::string DefaultInput() {
  const char* shared = std::getenv("NER_SHARED_DIR");
  return absl::StrCat(shared != nullptr && *shared != '\0' ? shared : "../shared",
                      "/data/peoples-daily/test.txt");
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Load generator of the NER service.\n\nusage: ner-bench --address HOST:PORT "
      "[--metrics_address HOST:PORT] [--mode unary|stream] [--concurrency C] [--duration 10s] "
      "[--input FILE --format lines|jsonl|column] [--json FILE]");
  absl::ParseCommandLine(argc, argv);

  std::string input = absl::GetFlag(FLAGS_input);
  std::string format_name = absl::GetFlag(FLAGS_format);
  if (input.empty()) {
    input = DefaultInput();
    format_name = "column";
  }
  auto format = ner::bench::ParseTextFormat(format_name);
  if (!format.ok()) return Fail(std::string(format.status().message()));
  auto documents = ner::bench::ReadDocuments(input, *format, absl::GetFlag(FLAGS_min_chars));
  if (!documents.ok()) return Fail(std::string(documents.status().message()));

  ner::bench::LoadOptions options;
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode != "unary" && mode != "stream") return Fail("--mode must be unary or stream");
  options.mode = mode == "unary" ? CallMode::kUnary : CallMode::kStream;
  options.concurrency = absl::GetFlag(FLAGS_concurrency);
  options.documents_per_request = absl::GetFlag(FLAGS_docs_per_request);
  options.warmup = absl::GetFlag(FLAGS_warmup);
  options.duration = absl::GetFlag(FLAGS_duration);
  if (absl::GetFlag(FLAGS_max_documents) > 0) {
    options.max_documents = absl::GetFlag(FLAGS_max_documents);
  }
  options.deadline = absl::GetFlag(FLAGS_deadline);
  options.model = absl::GetFlag(FLAGS_model);
  if (absl::Status valid = options.Validate(); !valid.ok()) {
    return Fail(std::string(valid.message()));
  }
  const int n_channels = absl::GetFlag(FLAGS_channels);
  if (n_channels < 1) return Fail("--channels must be >= 1");

  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!absl::GetFlag(FLAGS_tls_ca_file).empty()) {
    auto ca = ner::model::ReadFileToString(absl::GetFlag(FLAGS_tls_ca_file));
    if (!ca.ok()) return Fail(std::string(ca.status().message()));
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = *ca;
    credentials = grpc::SslCredentials(ssl);
  }
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < n_channels; ++i) {
    grpc::ChannelArguments arguments;
    arguments.SetInt("ner.bench.channel", i);  // distinct arguments = distinct connections
    arguments.SetMaxReceiveMessageSize(64 << 20);
    channels.push_back(
        grpc::CreateCustomChannel(absl::GetFlag(FLAGS_address), credentials, arguments));
  }

  const std::string metrics_address = absl::GetFlag(FLAGS_metrics_address);
  ner::bench::MetricSamples before;
  if (!metrics_address.empty()) {
    auto scraped = ner::bench::ScrapeMetrics(metrics_address);
    if (!scraped.ok()) return Fail(std::string(scraped.status().message()));
    before = *std::move(scraped);
  }
  const absl::Time started = absl::Now();
  const double cpu_before = CpuSeconds();
  auto result = ner::bench::RunLoad(channels, *documents, options);
  const double cpu_used = CpuSeconds() - cpu_before;
  const absl::Duration window = absl::Now() - started;
  if (!result.ok()) return Fail(std::string(result.status().message()));

  ner::bench::RunReport report;
  report.target = absl::GetFlag(FLAGS_address);
  report.options = options;
  report.channels = n_channels;
  report.distinct_documents = static_cast<int64_t>(documents->size());
  report.result = *std::move(result);
  report.window = window;
  report.client_cpu_seconds = cpu_used;
  if (!metrics_address.empty()) {
    auto after = ner::bench::ScrapeMetrics(metrics_address);
    if (!after.ok()) return Fail(std::string(after.status().message()));
    report.server = ner::bench::BatchStatsBetween(before, *after);
  }
  std::fputs(ner::bench::FormatReport(report).c_str(), stdout);
  if (!absl::GetFlag(FLAGS_json).empty()) {
    const absl::Status written = ner::model::WriteFileAtomically(
        absl::GetFlag(FLAGS_json), ner::bench::ReportJson(report) + "\n");
    if (!written.ok()) return Fail(std::string(written.message()));
  }
  return 0;
}
