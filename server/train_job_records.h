#ifndef NER_SERVER_TRAIN_JOB_RECORDS_H_
#define NER_SERVER_TRAIN_JOB_RECORDS_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "ner/v1/ner.pb.h"

namespace ner::server {

// The on-disk records that let training jobs outlive the server process: one
// <model_root>/jobs/<job_id>/job.pb per job (a serialised v1::TrainJob, replaced atomically),
// next to the job's checkpoints, and <model_root>/jobs/.lock, whose flock says which process
// owns the jobs under the root (TrainJobManager recovers them only while it holds it).
// Write() and JobDir() are thread-safe; Lock() and ReadAll() are for start-up, one thread.
class TrainJobRecords {
 public:
  explicit TrainJobRecords(std::string model_root);
  // Releases the lock, if held.
  ~TrainJobRecords();

  TrainJobRecords(const TrainJobRecords&) = delete;
  TrainJobRecords& operator=(const TrainJobRecords&) = delete;

  // <model_root>/jobs/<job_id>: the job's record and checkpoints.
  std::string JobDir(absl::string_view job_id) const;

  // Replaces the record of `job` (named by job.job_id(), which ReadAll checks against the
  // directory), creating its directory.
  absl::Status Write(const v1::TrainJob& job) const;

  // Deletes the job's directory, record and checkpoints: it is renamed to
  // jobs/.deleting-<job_id> first, so that a crash part-way leaves no half job behind (the
  // next Lock() finishes the deletion). NOT_FOUND when there is no such directory.
  absl::Status Remove(absl::string_view job_id) const;

  // Takes the exclusive lock on <model_root>/jobs/.lock until destruction, creating the
  // directory and the file, then finishes deletions a crash interrupted. FAILED_PRECONDITION
  // when another holder has it (another process, or another TrainJobRecords on the same root:
  // flock locks belong to an open file); another error when the directory or the file cannot
  // be made (a read-only model root). OK at once if this object holds it already.
  absl::Status Lock();
  bool locked() const { return lock_fd_ >= 0; }

  struct Scan {
    // All unfinished jobs and the newest `max_finished` finished ones, oldest first (by
    // created_at, then id).
    std::vector<v1::TrainJob> jobs;
    // Valid records found, counting the finished ones beyond max_finished.
    size_t found = 0;
    // The ids of those finished ones beyond max_finished (not in `jobs`).
    std::vector<std::string> older_finished;
  };
  // Reads the records under <model_root>/jobs, holding at most `max_finished` finished ones
  // in memory at a time (records carry their requests, inline datasets included). Records that
  // cannot be read or parsed, or that name another job than their directory, are skipped with
  // a warning in the log; so is a directory that cannot be listed to the end.
  Scan ReadAll(int max_finished) const;

 private:
  const std::string model_root_;
  int lock_fd_ = -1;
};

}  // namespace ner::server

#endif  // NER_SERVER_TRAIN_JOB_RECORDS_H_
