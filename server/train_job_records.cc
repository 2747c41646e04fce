#include "server/train_job_records.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <system_error>
#include <tuple>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "model/file_util.h"
#include "model/log.h"
#include "server/train_request.h"

namespace ner::server {
namespace {

namespace fs = std::filesystem;

constexpr char kRecordFile[] = "job.pb";
constexpr char kDeletingPrefix[] = ".deleting-";

// The order of records: by creation time, then id (ids made in one second differ).
using RecordKey = std::tuple<int64_t, int32_t, std::string>;
RecordKey KeyOf(const v1::TrainJob& job) {
  return RecordKey(job.created_at().seconds(), job.created_at().nanos(), job.job_id());
}

}  // namespace

TrainJobRecords::TrainJobRecords(std::string model_root) : model_root_(std::move(model_root)) {}

TrainJobRecords::~TrainJobRecords() {
  if (lock_fd_ >= 0) close(lock_fd_);  // releases the flock
}

std::string TrainJobRecords::JobDir(absl::string_view job_id) const {
  return (fs::path(model_root_) / "jobs" / std::string(job_id)).string();
}

absl::Status TrainJobRecords::Write(const v1::TrainJob& job) const {
  const std::string dir = JobDir(job.job_id());
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create '", dir, "': ", ec.message()));
  return model::WriteFileAtomically((fs::path(dir) / kRecordFile).string(),
                                    job.SerializeAsString());
}

absl::Status TrainJobRecords::Remove(absl::string_view job_id) const {
  const fs::path dir = JobDir(job_id);
  const fs::path doomed = JobDir(absl::StrCat(kDeletingPrefix, job_id));
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat("no job directory '", dir.string(), "'"));
  }
  fs::rename(dir, doomed, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("cannot rename '", dir.string(), "' to '",
                                            doomed.string(), "': ", ec.message()));
  }
  fs::remove_all(doomed, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot delete '", doomed.string(), "': ", ec.message()));
  }
  return absl::OkStatus();
}

absl::Status TrainJobRecords::Lock() {
  if (lock_fd_ >= 0) return absl::OkStatus();
  const fs::path jobs_dir = fs::path(model_root_) / "jobs";
  std::error_code ec;
  fs::create_directories(jobs_dir, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot create '", jobs_dir.string(), "': ", ec.message()));
  }
  const std::string path = (jobs_dir / ".lock").string();
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("cannot open '", path, "': ", std::strerror(errno)));
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    close(fd);
    if (error == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat("another server holds '", path, "'"));
    }
    return absl::InternalError(absl::StrCat("cannot lock '", path, "': ", std::strerror(error)));
  }
  lock_fd_ = fd;
  // Deletions that a crash interrupted (Remove): listed first, deleted after.
  std::vector<fs::path> doomed;
  for (fs::directory_iterator it(jobs_dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (absl::StartsWith(it->path().filename().string(), kDeletingPrefix)) {
      doomed.push_back(it->path());
    }
  }
  for (const fs::path& path : doomed) {
    fs::remove_all(path, ec);
    if (ec) {
      LogWarning(
          absl::StrCat("training jobs: cannot delete '", path.string(), "': ", ec.message()));
    }
  }
  return absl::OkStatus();
}

TrainJobRecords::Scan TrainJobRecords::ReadAll(int max_finished) const {
  const fs::path jobs_dir = fs::path(model_root_) / "jobs";
  Scan scan;
  std::map<RecordKey, v1::TrainJob> finished;  // the newest max_finished so far
  std::error_code ec;
  if (!fs::exists(jobs_dir, ec)) return scan;  // no job has run under this root
  for (fs::directory_iterator it(jobs_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::directory_entry& entry = *it;
    if (absl::StartsWith(entry.path().filename().string(), ".")) continue;  // .lock, .deleting-*
    const fs::path path = entry.path() / kRecordFile;
    std::error_code entry_ec;
    if (!entry.is_directory(entry_ec) || !fs::exists(path, entry_ec)) continue;  // not a job's
    absl::StatusOr<std::string> bytes = model::ReadFileToString(path.string());
    v1::TrainJob record;
    std::string problem;
    if (!bytes.ok()) {
      problem = std::string(bytes.status().message());
    } else if (!record.ParseFromString(*bytes)) {
      problem = "not a job record";
    } else if (record.job_id() != entry.path().filename().string()) {
      problem = absl::StrCat("the record is job '", record.job_id(), "'s, not this directory's");
    }
    if (!problem.empty()) {
      LogWarning(absl::StrCat("training jobs: skipping '", path.string(), "': ", problem));
      continue;
    }
    ++scan.found;
    if (!IsFinalState(record.latest().state())) {
      scan.jobs.push_back(std::move(record));
      continue;
    }
    RecordKey key = KeyOf(record);
    finished.emplace(std::move(key), std::move(record));
    if (finished.size() > static_cast<size_t>(std::max(max_finished, 0))) {
      scan.older_finished.push_back(finished.begin()->second.job_id());
      finished.erase(finished.begin());
    }
  }
  if (ec) {
    LogWarning(
        absl::StrCat("training jobs: cannot list '", jobs_dir.string(), "': ", ec.message()));
  }
  for (auto& [key, record] : finished) scan.jobs.push_back(std::move(record));
  std::sort(scan.jobs.begin(), scan.jobs.end(),
            [](const v1::TrainJob& a, const v1::TrainJob& b) { return KeyOf(a) < KeyOf(b); });
  return scan;
}

}  // namespace ner::server
