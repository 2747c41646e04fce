#include "server/health_probe.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "server/host_port.h"
#include "server/status_util.h"

namespace ner::server {
namespace {

// HealthCheckRequest { string service = 1; }
std::string EncodeRequest(const std::string& service) {
  std::string bytes;
  if (service.empty()) return bytes;  // proto3 omits the default
  bytes.push_back('\x0a');            // field 1, length-delimited
  for (size_t n = service.size();; n >>= 7) {
    if (n < 0x80) {
      bytes.push_back(static_cast<char>(n));
      break;
    }
    bytes.push_back(static_cast<char>((n & 0x7f) | 0x80));
  }
  return bytes + service;
}

// HealthCheckResponse { ServingStatus status = 1; }: one varint field; other fields skipped
// only when they are varints, which is all this message has.
absl::StatusOr<HealthState> DecodeResponse(const std::string& bytes) {
  uint64_t status = 0;  // UNKNOWN when absent
  size_t i = 0;
  while (i < bytes.size()) {
    const auto key = static_cast<unsigned char>(bytes[i++]);
    if ((key & 7) != 0) return absl::InternalError("unexpected field in HealthCheckResponse");
    uint64_t value = 0;
    int shift = 0;
    while (true) {
      if (i >= bytes.size() || shift > 63) {
        return absl::InternalError("truncated HealthCheckResponse");
      }
      const auto byte = static_cast<unsigned char>(bytes[i++]);
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      shift += 7;
      if ((byte & 0x80) == 0) break;
    }
    if ((key >> 3) == 1) status = value;
  }
  if (status > 3) return HealthState::kUnknown;
  return static_cast<HealthState>(status);
}

}  // namespace

const char* HealthStateName(HealthState state) {
  switch (state) {
    case HealthState::kUnknown:
      return "UNKNOWN";
    case HealthState::kServing:
      return "SERVING";
    case HealthState::kNotServing:
      return "NOT_SERVING";
    case HealthState::kServiceUnknown:
      return "SERVICE_UNKNOWN";
  }
  return "UNKNOWN";
}

absl::StatusOr<HealthState> CheckHealth(const std::string& address, const std::string& service,
                                        absl::Duration timeout) {
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  const std::string request_bytes = EncodeRequest(service);
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  if (!status.ok()) return FromGrpcStatus(status);
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return absl::InternalError("unreadable health response");
  std::string bytes;
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return DecodeResponse(bytes);
}

absl::StatusOr<HealthState> CheckHttpHealth(const std::string& url, absl::Duration timeout,
                                            std::string* reason) {
  constexpr absl::string_view kScheme = "http://";
  if (!absl::StartsWith(url, kScheme)) {
    return absl::InvalidArgumentError(absl::StrCat("'", url, "' is not an http:// URL"));
  }
  const std::string rest = url.substr(kScheme.size());
  const size_t slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  const std::string path = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string host, port;
  if (!SplitHostPort(authority, &host, &port)) {
    return absl::InvalidArgumentError(absl::StrCat("'", url, "' has no host:port"));
  }

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return absl::UnavailableError(absl::StrCat("'", authority, "': ", ::gai_strerror(rc)));
  }
  // Linux bounds connect, send and recv by these timeouts.
  const int64_t micros = absl::ToInt64Microseconds(timeout);
  timeval limit{static_cast<time_t>(micros / 1000000), static_cast<suseconds_t>(micros % 1000000)};
  int fd = -1;
  int error = 0;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      error = errno;
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0) {
    if (error == EINPROGRESS || error == EAGAIN) {
      return absl::DeadlineExceededError(absl::StrCat("no connection to ", authority));
    }
    return absl::UnavailableError(
        absl::StrCat("cannot connect to ", authority, ": ", std::strerror(error)));
  }
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: ", authority, "\r\n\r\n");
  std::string reply;
  bool timed_out = false;
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    timed_out = errno == EAGAIN || errno == EWOULDBLOCK;
  } else {
    char buffer[4096];
    while (reply.size() < 65536) {
      const ssize_t got = ::recv(fd, buffer, sizeof(buffer), 0);
      if (got < 0) timed_out = errno == EAGAIN || errno == EWOULDBLOCK;
      if (got <= 0) break;
      reply.append(buffer, static_cast<size_t>(got));
    }
  }
  ::close(fd);
  if (timed_out) return absl::DeadlineExceededError(absl::StrCat("no answer from ", url));
  // "HTTP/1.x NNN Reason\r\n...\r\n\r\nbody"
  int code = 0;
  const size_t line_end = reply.find("\r\n");
  const size_t body = reply.find("\r\n\r\n");
  if (!absl::StartsWith(reply, "HTTP/1.") || line_end == std::string::npos ||
      body == std::string::npos || reply.size() < 12 ||
      !absl::SimpleAtoi(reply.substr(9, 3), &code)) {
    return absl::InternalError(absl::StrCat("not an HTTP answer from ", url));
  }
  if (reason != nullptr) {
    const std::string text = reply.substr(body + 4);
    *reason = text.substr(0, text.find('\n'));
  }
  return code == 200 ? HealthState::kServing : HealthState::kNotServing;
}

}  // namespace ner::server
