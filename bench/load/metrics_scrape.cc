#include "bench/load/metrics_scrape.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace ner::bench {
namespace {

// Connects to `host`:`port`; the socket or -1.
int Connect(const std::string& host, const std::string& port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0) return -1;
  int fd = -1;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(found);
  return fd;
}

}  // namespace

absl::StatusOr<MetricSamples> ScrapeMetrics(const std::string& host_port) {
  const size_t colon = host_port.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("metrics address \"", host_port,
                                                   "\" is not HOST:PORT"));
  }
  std::string host = host_port.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);  // [::1]:9090
  }
  const int fd = Connect(host, host_port.substr(colon + 1));
  if (fd < 0) return absl::UnavailableError(absl::StrCat("cannot connect to ", host_port));
  const std::string request =
      absl::StrCat("GET /metrics HTTP/1.0\r\nHost: ", host, "\r\n\r\n");
  std::string reply;
  bool sent = ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
              static_cast<ssize_t>(request.size());
  char buffer[8192];
  ssize_t got;
  while (sent && (got = ::recv(fd, buffer, sizeof(buffer), 0)) > 0) reply.append(buffer, got);
  ::close(fd);
  if (!sent) return absl::UnavailableError(absl::StrCat("cannot send to ", host_port));
  const size_t body = reply.find("\r\n\r\n");
  const size_t status_end = reply.find("\r\n");
  if (reply.rfind("HTTP/1.", 0) != 0 || body == std::string::npos) {
    return absl::InternalError(absl::StrCat("not an HTTP reply from ", host_port));
  }
  if (reply.substr(0, status_end).find(" 200") == std::string::npos) {
    return absl::InternalError(
        absl::StrCat(host_port, "/metrics answered ", reply.substr(0, status_end)));
  }
  return ParsePrometheusText(absl::string_view(reply).substr(body + 4));
}

}  // namespace ner::bench
