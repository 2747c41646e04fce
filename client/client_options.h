#ifndef NER_CLIENT_CLIENT_OPTIONS_H_
#define NER_CLIENT_CLIENT_OPTIONS_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace ner::client {

// Retries with capped exponential backoff. Only UNAVAILABLE (server starting, draining,
// unreachable) and RESOURCE_EXHAUSTED (queue or job slots full) are retried; every other code
// is returned at once. The wait before retry n (n = 1 after the first failure) is
//   ceiling(n) = min(max_backoff, initial_backoff * multiplier^(n-1)),
// slept in full (full_jitter = false) or drawn uniformly from [0, ceiling(n)) ("full jitter",
// which spreads the retries of many clients that failed together).
struct RetryPolicy {
  // Attempts per call, the first included; >= 1 (1 = never retry).
  int max_attempts = 5;
  // Ceiling of the first wait, > 0.
  absl::Duration initial_backoff = absl::Milliseconds(100);
  // Growth of the ceiling per retry, >= 1.
  double backoff_multiplier = 2.0;
  // Largest ceiling, >= initial_backoff.
  absl::Duration max_backoff = absl::Seconds(5);
  // Draw each wait uniformly from [0, ceiling) instead of waiting the ceiling.
  bool full_jitter = true;

  // INVALID_ARGUMENT naming the first bad field.
  absl::Status Validate() const;
};

// TLS to the server. PEM files are read when the client is created.
struct TlsOptions {
  // CA bundle that signed the server's certificate; empty = the system's roots.
  std::string root_ca_file;
  // Client certificate chain and its private key, for mutual TLS; both or neither.
  std::string cert_chain_file;
  std::string private_key_file;
  // Name checked against the server's certificate instead of the target's host (for a
  // certificate issued to another name, e.g. tests); empty = the target's host.
  std::string override_hostname;
};

// How NerClient talks to the server. Plain data with defaults.
struct ClientOptions {
  // The server, host:port (any gRPC target, e.g. "dns:///ner.internal:50051").
  std::string target = "localhost:50051";
  // Deadline of each attempt of a unary call; nullopt = none. Streams (RecognizeBulk, Train,
  // WatchTrainJob) have no deadline: they last as long as their work.
  std::optional<absl::Duration> deadline = absl::Seconds(30);
  // Retries of UNAVAILABLE and RESOURCE_EXHAUSTED.
  RetryPolicy retry;
  // How long Train and WatchTrainJob keep trying to reach the server after it said it is
  // restarting under the job (a TRAIN_PHASE_INTERRUPTED event: the job resumes when a server
  // starts again on its model root): UNAVAILABLE is retried at the policy's backoff until then,
  // beyond retry.max_attempts. >= 0; zero = the policy's attempts only.
  absl::Duration train_restart_wait = absl::Minutes(2);
  // TLS; nullopt = plaintext.
  std::optional<TlsOptions> tls;
  // Sent as "authorization: Bearer <token>" on every call when non-empty. The server needs it
  // for Train, CancelTrainJob, Evaluate and LoadModel when it has a token configured.
  std::string bearer_token;
  // Largest response message accepted, in bytes, >= 1 MiB (gRPC's default is 4 MiB).
  int max_receive_message_bytes = 64 << 20;
  // Called before each retry with the RPC name, the failed attempt (1-based), its status and
  // the wait; may be empty. Called on the calling thread. For logs and tests.
  std::function<void(absl::string_view method, int attempt, const absl::Status& status,
                     absl::Duration wait)>
      on_retry;

  // INVALID_ARGUMENT naming the first bad field. Does not read the TLS files.
  absl::Status Validate() const;
};

// Reads a bearer token file: its contents without surrounding whitespace; INVALID_ARGUMENT when
// that is empty, NOT_FOUND / PERMISSION_DENIED when it cannot be read.
absl::Status ReadTokenFile(const std::string& path, std::string* token);

}  // namespace ner::client

#endif  // NER_CLIENT_CLIENT_OPTIONS_H_
