#include "model/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace ner::model {
namespace {

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  const int err = errno;
  const std::string message = absl::StrCat(what, " '", path, "': ", std::strerror(err));
  return err == ENOSPC ? absl::ResourceExhaustedError(message) : absl::InternalError(message);
}

}  // namespace

absl::StatusOr<std::string> ReadFileToString(const std::string& path, int64_t max_bytes) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError(absl::StrCat("'", path, "' is a directory, not a file"));
  }
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open '", path, "'"));
  const std::streamoff size = in.tellg();
  if (size < 0) return absl::InternalError(absl::StrCat("cannot size '", path, "'"));
  if (size > max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("'", path, "' is ", size, " bytes, over the limit of ", max_bytes));
  }
  std::string contents(static_cast<size_t>(size), '\0');
  in.seekg(0);
  if (!in.read(contents.data(), size)) {
    return absl::InternalError(absl::StrCat("cannot read '", path, "'"));
  }
  return contents;
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents) {
  static std::atomic<int> counter{0};
  const std::filesystem::path target(path);
  const std::string temp = absl::StrCat(path, ".tmp.", ::getpid(), ".", counter++);
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot create", temp);
  absl::Status status;
  size_t written = 0;
  while (status.ok() && written < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      status = ErrnoError("cannot write", temp);
    } else {
      written += static_cast<size_t>(n);
    }
  }
  if (status.ok() && ::fsync(fd) != 0) status = ErrnoError("cannot fsync", temp);
  if (::close(fd) != 0 && status.ok()) status = ErrnoError("cannot close", temp);
  if (status.ok() && ::rename(temp.c_str(), path.c_str()) != 0) {
    status = ErrnoError("cannot rename onto", path);
  }
  if (!status.ok()) {
    ::unlink(temp.c_str());
    return status;
  }
  // Make the rename itself durable.
  const std::string dir = target.has_parent_path() ? target.parent_path().string() : ".";
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return absl::OkStatus();
}

}  // namespace ner::model
