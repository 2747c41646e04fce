#ifndef NER_SERVER_HEALTH_PROBE_H_
#define NER_SERVER_HEALTH_PROBE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ner::server {

// grpc.health.v1 serving states (HealthCheckResponse.ServingStatus).
enum class HealthState { kUnknown = 0, kServing = 1, kNotServing = 2, kServiceUnknown = 3 };

// Calls grpc.health.v1.Health/Check on `address` (host:port, plaintext) for `service` (empty =
// the whole server) and returns the state. The messages are encoded by hand over the generic
// stub, since Debian ships neither health.proto nor its generated code. Errors are the call's
// (UNAVAILABLE when nothing listens, DEADLINE_EXCEEDED after `timeout`, NOT_FOUND for a
// service the server does not know) or INTERNAL for an unreadable answer. Thread-safe.
absl::StatusOr<HealthState> CheckHealth(const std::string& address, const std::string& service,
                                        absl::Duration timeout);

// GETs `url` ("http://HOST:PORT/PATH", e.g. the server's http://127.0.0.1:9090/readyz) with
// HTTP/1.0: kServing for a 200, kNotServing for any other status. UNAVAILABLE when nothing
// answers, DEADLINE_EXCEEDED after `timeout`, INVALID_ARGUMENT for a URL it cannot use (only
// plain http), INTERNAL for an answer that is not HTTP. `reason`, when not null, gets the first
// line of the body (e.g. "draining"). Thread-safe.
absl::StatusOr<HealthState> CheckHttpHealth(const std::string& url, absl::Duration timeout,
                                            std::string* reason = nullptr);

// "SERVING", "NOT_SERVING", ...
const char* HealthStateName(HealthState state);

}  // namespace ner::server

#endif  // NER_SERVER_HEALTH_PROBE_H_
