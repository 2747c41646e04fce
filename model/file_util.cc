#include "model/file_util.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace ner::model {
namespace {

// Out of storage (a full disk, a quota, a file size limit) is RESOURCE_EXHAUSTED: the caller may
// free space and retry; anything else is INTERNAL.
absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  const int err = errno;
  const std::string message = absl::StrCat(what, " '", path, "': ", std::strerror(err));
  return err == ENOSPC || err == EDQUOT || err == EFBIG ? absl::ResourceExhaustedError(message)
                                                        : absl::InternalError(message);
}

void FsyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

absl::StatusOr<std::string> ReadFileToString(const std::string& path, int64_t max_bytes) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError(absl::StrCat("'", path, "' is a directory, not a file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open '", path, "'"));
  // The size the file reports, read at once below. Pseudo-files (/proc) cannot seek to their
  // end and report none, and a file may grow while it is read: either way the rest is read on
  // to the end after it (for a regular file, one read that meets the end at once).
  in.seekg(0, std::ios::end);
  const std::streamoff size = in ? std::max<std::streamoff>(in.tellg(), 0) : 0;
  in.clear();
  in.seekg(0);
  if (size > max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("'", path, "' is ", size, " bytes, over the limit of ", max_bytes));
  }
  std::string contents(static_cast<size_t>(size), '\0');
  if (!in.read(contents.data(), size)) {
    return absl::InternalError(absl::StrCat("cannot read '", path, "'"));
  }
  char buffer[1 << 16];
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
    if (static_cast<int64_t>(contents.size()) + in.gcount() > max_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("'", path, "' is over the limit of ", max_bytes, " bytes"));
    }
    contents.append(buffer, static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) return absl::InternalError(absl::StrCat("cannot read '", path, "'"));
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

absl::Status ReplaceDirectoryAtomically(
    const std::string& dir, const std::function<absl::Status(const std::string& temp_dir)>& fill) {
  namespace fs = std::filesystem;
  static std::atomic<int> counter{0};
  fs::path target = fs::absolute(fs::path(dir).lexically_normal());
  if (target.filename().empty()) target = target.parent_path();
  std::error_code ec;
  if (fs::exists(target, ec) && !fs::is_directory(target, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("'", target.string(), "' exists and is not a directory"));
  }
  fs::create_directories(target.parent_path(), ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot create '", target.parent_path().string(), "': ", ec.message()));
  }
  const std::string temp = absl::StrCat(target.string(), ".tmp.", ::getpid(), ".", counter++);
  fs::remove_all(temp, ec);
  if (!fs::create_directory(temp, ec) || ec) {
    return absl::InternalError(absl::StrCat("cannot create '", temp, "': ", ec.message()));
  }
  auto fail = [&temp](absl::Status status) {
    std::error_code ignored;
    fs::remove_all(temp, ignored);
    return status;
  };
  if (absl::Status s = fill(temp); !s.ok()) return fail(s);
  FsyncDirectory(temp);
  const std::string target_string = target.string();
  if (!fs::exists(target, ec)) {
    if (::rename(temp.c_str(), target_string.c_str()) != 0) {
      return fail(ErrnoError("cannot rename the temp directory onto", target_string));
    }
  } else if (::renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, target_string.c_str(),
                         RENAME_EXCHANGE) != 0) {
    return fail(ErrnoError("cannot swap the temp directory into", target_string));
  }
  FsyncDirectory(target.parent_path().string());
  fs::remove_all(temp, ec);  // After an exchange it holds the previous contents.
  return absl::OkStatus();
}

}  // namespace ner::model
