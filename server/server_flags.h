#ifndef NER_SERVER_SERVER_FLAGS_H_
#define NER_SERVER_SERVER_FLAGS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/server_config.h"

namespace ner::server {

// The `ner-server` flags, read once after absl::ParseCommandLine. Linked into the binary only.

// The server's configuration, validated (ServerConfig::Validate).
absl::StatusOr<ServerConfig> ServerConfigFromFlags();

// `ner-server probe`: which server to ask and how long to wait.
struct ProbeOptions {
  std::string address = "127.0.0.1:50051";  // host:port
  std::string service;                      // empty = the whole server
  absl::Duration timeout = absl::Seconds(2);
};
ProbeOptions ProbeOptionsFromFlags();

}  // namespace ner::server

#endif  // NER_SERVER_SERVER_FLAGS_H_
