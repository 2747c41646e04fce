#include "server/metrics_endpoint.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "prometheus/text_serializer.h"
#include "server/host_port.h"
#include "server/process_metrics.h"

namespace ner::server {
namespace {

bool WriteAll(int fd, const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(
    const std::string& address, std::shared_ptr<prometheus::Registry> registry) {
  std::string host, port;
  if (!SplitHostPort(address, &host, &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address '", address, "' is not host:port"));
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (const int rc =
          ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
      rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address '", address, "': ", ::gai_strerror(rc)));
  }
  int fd = -1;
  std::string error = "no address";
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, 16) != 0) {
      error = std::strerror(errno);
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("cannot serve metrics on '", address, "': ", error));
  }
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
  const int bound_port =
      ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  int wake[2];
  if (::pipe2(wake, O_CLOEXEC) != 0) {
    ::close(fd);
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  std::unique_ptr<MetricsEndpoint> endpoint(
      new MetricsEndpoint(fd, wake[0], wake[1], bound_port, std::move(registry)));
  endpoint->thread_ = std::thread([e = endpoint.get()] { e->Loop(); });
  return endpoint;
}

MetricsEndpoint::MetricsEndpoint(int listen_fd, int wake_read_fd, int wake_write_fd, int port,
                                 std::shared_ptr<prometheus::Registry> registry)
    : listen_fd_(listen_fd),
      wake_read_fd_(wake_read_fd),
      wake_write_fd_(wake_write_fd),
      port_(port),
      registry_(std::move(registry)) {}

MetricsEndpoint::~MetricsEndpoint() {
  const char stop = 0;
  (void)!::write(wake_write_fd_, &stop, 1);
  thread_.join();
  ::close(listen_fd_);
  ::close(wake_read_fd_);
  ::close(wake_write_fd_);
}

void MetricsEndpoint::Loop() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_read_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int connection = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (connection < 0) continue;
    Serve(connection);
    ::close(connection);
  }
}

void MetricsEndpoint::Serve(int connection) const {
  // A client that stalls must not hold the endpoint for long.
  timeval timeout{5, 0};
  ::setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ::setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  std::string request;
  char buffer[2048];
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < 16384) {
    const ssize_t n = ::recv(connection, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    request.append(buffer, static_cast<size_t>(n));
  }
  auto is_get = [&request](absl::string_view path) {
    const std::string prefix = absl::StrCat("GET ", path);
    return absl::StartsWith(request, absl::StrCat(prefix, " ")) ||
           absl::StartsWith(request, absl::StrCat(prefix, "?"));
  };
  std::string status = "404 Not Found";
  std::string body = "try /metrics, /healthz or /readyz\n";
  if (is_get("/metrics")) {
    status = "200 OK";
    std::vector<prometheus::MetricFamily> families = registry_->Collect();
    for (prometheus::MetricFamily& family : CollectProcessMetrics()) {
      families.push_back(std::move(family));
    }
    body = prometheus::TextSerializer().Serialize(families);
  } else if (is_get("/healthz") || is_get("/readyz")) {
    const bool readiness = is_get("/readyz");
    absl::MutexLock lock(&health_mu_);
    if (!health_set_) {
      // Loading the default model: alive, not ready.
      status = readiness ? "503 Service Unavailable" : "200 OK";
      body = readiness ? "starting\n" : "ok\n";
    } else if (!(live_ && live_())) {
      status = "503 Service Unavailable";
      body = "draining\n";
    } else if (readiness && !(ready_ && ready_())) {
      status = "503 Service Unavailable";
      body = "no default model\n";
    } else {
      status = "200 OK";
      body = readiness ? "ready\n" : "ok\n";
    }
  } else if (!absl::StartsWith(request, "GET ")) {
    status = "405 Method Not Allowed";
    body = "GET only\n";
  }
  WriteAll(connection, absl::StrCat("HTTP/1.1 ", status,
                                    "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8"
                                    "\r\nContent-Length: ",
                                    body.size(), "\r\nConnection: close\r\n\r\n", body));
}

void MetricsEndpoint::SetHealth(std::function<bool()> live, std::function<bool()> ready) {
  absl::MutexLock lock(&health_mu_);
  health_set_ = true;
  live_ = std::move(live);
  ready_ = std::move(ready);
}

}  // namespace ner::server
