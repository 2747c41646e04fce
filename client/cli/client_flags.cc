// The flags shared by every `ner-client` command: how to reach the server, and recognition
// options.

#include <google/protobuf/util/json_util.h>

#include <atomic>
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/cli/commands.h"
#include "client/status.h"

ABSL_FLAG(std::string, address, "localhost:50051", "The server, host:port.");
ABSL_FLAG(std::string, token_file, "",
          "File holding the bearer token (sent as 'authorization: Bearer <token>').");
ABSL_FLAG(bool, tls, false, "Use TLS with the system's root certificates.");
ABSL_FLAG(std::string, tls_ca_file, "", "PEM CA bundle of the server's certificate (implies TLS).");
ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM client certificate chain for mutual TLS (with --tls_key_file; implies TLS).");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls_cert_file.");
ABSL_FLAG(std::string, tls_server_name, "",
          "Name to check the server's certificate against instead of the address's host.");
ABSL_FLAG(std::optional<absl::Duration>, timeout, std::nullopt,
          "Deadline of each attempt of a call, e.g. 30s. Default: 30s, none for train, "
          "evaluate and load; streams (bulk, train) never have one.");
ABSL_FLAG(int, retries, 4,
          "Retries of a call failing UNAVAILABLE or RESOURCE_EXHAUSTED (exponential backoff "
          "with jitter); 0 = none.");
ABSL_FLAG(absl::Duration, train_restart_wait, absl::Minutes(2),
          "How long train and watch wait for a server that restarts under the job (it resumes "
          "there), retrying beyond --retries; 0 = --retries only.");
ABSL_FLAG(bool, verbose, false, "Log every retry on stderr.");
ABSL_FLAG(bool, json, false, "Print JSON (one object per line) instead of tables.");

ABSL_FLAG(std::string, model, "", "Model to use; empty = the server's default model.");
ABSL_FLAG(std::string, types, "", "Keep only these entity types, comma-separated (e.g. PER,ORG).");
ABSL_FLAG(double, min_score, 0, "Drop entities scoring below this, in [0, 1].");

namespace ner::client::cli {
namespace {

std::atomic<int> exit_code{0};

}  // namespace

void SetExitCode(int code) { exit_code = code; }
int ExitCode() { return exit_code; }

absl::StatusOr<std::unique_ptr<NerClient>> ClientFromFlags(
    std::optional<absl::Duration> default_deadline) {
  ClientOptions options;
  options.target = absl::GetFlag(FLAGS_address);
  options.deadline =
      absl::GetFlag(FLAGS_timeout).has_value() ? absl::GetFlag(FLAGS_timeout) : default_deadline;
  const int retries = absl::GetFlag(FLAGS_retries);
  if (retries < 0) {
    return absl::InvalidArgumentError(absl::StrCat("--retries must be >= 0, got ", retries));
  }
  options.retry.max_attempts = retries + 1;
  options.train_restart_wait = absl::GetFlag(FLAGS_train_restart_wait);
  if (const std::string path = absl::GetFlag(FLAGS_token_file); !path.empty()) {
    if (absl::Status s = ReadTokenFile(path, &options.bearer_token); !s.ok()) return s;
  }
  TlsOptions tls;
  tls.root_ca_file = absl::GetFlag(FLAGS_tls_ca_file);
  tls.cert_chain_file = absl::GetFlag(FLAGS_tls_cert_file);
  tls.private_key_file = absl::GetFlag(FLAGS_tls_key_file);
  tls.override_hostname = absl::GetFlag(FLAGS_tls_server_name);
  if (absl::GetFlag(FLAGS_tls) || !tls.root_ca_file.empty() || !tls.cert_chain_file.empty() ||
      !tls.private_key_file.empty()) {
    options.tls = tls;
  } else if (!tls.override_hostname.empty()) {
    return absl::InvalidArgumentError("--tls_server_name needs TLS (--tls or --tls_ca_file)");
  }
  if (absl::GetFlag(FLAGS_verbose)) {
    options.on_retry = [](absl::string_view method, int attempt, const absl::Status& status,
                          absl::Duration wait) {
      std::fprintf(stderr, "ner-client: %s attempt %d failed (%s: %s); retrying in %s\n",
                   std::string(method).c_str(), attempt, StatusCodeName(status.code()),
                   std::string(status.message()).c_str(), absl::FormatDuration(wait).c_str());
    };
  }
  return NerClient::Create(std::move(options));
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) return "{}";
  return json;
}

v1::RecognizeOptions RecognizeOptionsFromFlags() {
  v1::RecognizeOptions options;
  options.set_model(absl::GetFlag(FLAGS_model));
  for (absl::string_view type :
       absl::StrSplit(absl::GetFlag(FLAGS_types), ',', absl::SkipWhitespace())) {
    options.add_entity_types(std::string(type));
  }
  options.set_min_score(static_cast<float>(absl::GetFlag(FLAGS_min_score)));
  return options;
}

}  // namespace ner::client::cli
