#include "client/client_options.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace ner::client {

absl::Status RetryPolicy::Validate() const {
  if (max_attempts < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("retry.max_attempts must be >= 1, got ", max_attempts));
  }
  if (initial_backoff <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("retry.initial_backoff must be > 0, got ",
                                                   absl::FormatDuration(initial_backoff)));
  }
  if (!(backoff_multiplier >= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("retry.backoff_multiplier must be >= 1, got ", backoff_multiplier));
  }
  if (max_backoff < initial_backoff) {
    return absl::InvalidArgumentError(absl::StrCat(
        "retry.max_backoff (", absl::FormatDuration(max_backoff),
        ") must be >= retry.initial_backoff (", absl::FormatDuration(initial_backoff), ")"));
  }
  return absl::OkStatus();
}

absl::Status ClientOptions::Validate() const {
  if (target.empty()) return absl::InvalidArgumentError("target: the server address is empty");
  if (deadline.has_value() && *deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("deadline must be > 0, got ", absl::FormatDuration(*deadline)));
  }
  if (absl::Status s = retry.Validate(); !s.ok()) return s;
  if (train_restart_wait < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("train_restart_wait must be >= 0, got ",
                                                   absl::FormatDuration(train_restart_wait)));
  }
  if (tls.has_value() && tls->cert_chain_file.empty() != tls->private_key_file.empty()) {
    return absl::InvalidArgumentError(
        "tls: a client certificate needs its private key and the other way round (mutual TLS "
        "takes both files)");
  }
  if (max_receive_message_bytes < (1 << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_receive_message_bytes must be >= 1 MiB, got ", max_receive_message_bytes));
  }
  for (const char c : bearer_token) {
    // gRPC refuses metadata values with control characters; say so before any call.
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("bearer_token holds a control character");
    }
  }
  return absl::OkStatus();
}

absl::Status ReadTokenFile(const std::string& path, std::string* token) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int error = errno;
    const std::string message =
        absl::StrCat("cannot read token file ", path, ": ", std::strerror(error));
    if (error == EACCES) return absl::PermissionDeniedError(message);
    return absl::NotFoundError(message);
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  *token = std::string(absl::StripAsciiWhitespace(contents.str()));
  if (token->empty())
    return absl::InvalidArgumentError(absl::StrCat("token file ", path, " is empty"));
  return absl::OkStatus();
}

}  // namespace ner::client
