#ifndef NER_SERVER_TRAIN_JOBS_H_
#define NER_SERVER_TRAIN_JOBS_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ner/v1/ner.pb.h"
#include "server/metrics.h"
#include "server/model_registry.h"
#include "server/train_job_records.h"

namespace ner::server {

struct TrainJobsOptions {
  // Checkpoint paths (init checkpoints, job outputs) are relative to it. Job outputs go to
  // <model_root>/jobs/<job_id>/{best,last}.
  std::string model_root = ".";
  // Dataset paths are relative to it.
  std::string data_root = ".";
  // Default encoder checkpoint for requests without init_checkpoint, relative to model_root;
  // empty = none (a random encoder of `preset`'s shape with `vocab_path`).
  std::string default_init;
  // Vocabulary of models trained without an init checkpoint (absolute, or relative to
  // model_root); empty = such requests are INVALID_ARGUMENT.
  std::string vocab_path;
  // Encoder shape for requests that set none.
  std::string preset = "nezha-tiny";
  // Jobs training at once, >= 1; more are RESOURCE_EXHAUSTED.
  int max_concurrent_jobs = 1;
  // Finished jobs remembered for GetTrainJob/ListTrainJobs (oldest forgotten first), >= 1.
  int max_retained_jobs = 64;
  // Whether a finished job's directory under <model_root>/jobs (its record and checkpoints) is
  // deleted when the job is forgotten, at start-up or when a new job starts; a directory that a
  // served model was loaded from is kept. Off: jobs/ keeps every job's checkpoints.
  bool prune_forgotten_jobs = false;
  // LibTorch intra-op threads of a training thread, >= 1, so that serving keeps its cores.
  int threads = 1;
  // Limits of one request.
  int max_epochs = 100;
  int64_t max_train_documents = 1'000'000;
  int64_t max_train_characters = 100'000'000;
  // What Recover() does with jobs that a previous server on this model root left unfinished
  // (stopped by a shutdown or a crash): resume them from their last epoch-end snapshot (true),
  // or record them as FAILED (ABORTED) with their checkpoints left as they are (false).
  bool resume_interrupted = true;
};

// Runs Train requests as background jobs, one thread each. A job outlives the RPC that started
// it: the Train stream and WatchTrainJob streams only watch it. Each job reads its datasets,
// builds the model (model/train_setup.h), trains with model::Train (events become v1::TrainEvent
// snapshots), then promotes the best checkpoint to serving under the request's output_model per
// its policy. Thread-safe.
//
// A job also outlives the server process. Its record, <model_root>/jobs/<job_id>/job.pb (a
// v1::TrainJob, replaced atomically), is written when the job starts, when a shutdown
// interrupts it and when it ends; Recover() reads the records back at start-up, so finished jobs
// stay listed and unfinished ones (a shutdown, a crash) resume from their last epoch-end
// snapshot, losing at most the epoch in progress. One manager at a time owns a model root's
// jobs (an flock on jobs/.lock); another one on the same root runs its own jobs but recovers
// none.
class TrainJobManager {
 public:
  // Receives a job's events (full snapshots, in order; the last one has a final state). Called
  // on the job's thread or the subscribing thread, never under the manager's locks.
  using Listener = std::function<void(const v1::TrainEvent&)>;

  // `registry` and `metrics` (not owned; metrics may be null) must outlive the manager.
  // `on_models_changed` runs after a promotion.
  TrainJobManager(TrainJobsOptions options, ModelRegistry* registry, ServerMetrics* metrics,
                  std::function<void()> on_models_changed = {});
  // Interrupts every running job and waits for it (Shutdown()), then releases the model root's
  // jobs.
  ~TrainJobManager();

  TrainJobManager(const TrainJobManager&) = delete;
  TrainJobManager& operator=(const TrainJobManager&) = delete;

  // Validates `request` and starts a job. INVALID_ARGUMENT for a bad request (naming the field),
  // RESOURCE_EXHAUSTED when max_concurrent_jobs are running, UNAVAILABLE after Shutdown().
  // Dataset and checkpoint problems surface later, as the job's FAILED state.
  absl::StatusOr<std::string> Submit(const v1::TrainRequest& request);

  // NOT_FOUND for an unknown (or forgotten) id.
  absl::StatusOr<v1::TrainJob> Get(absl::string_view job_id) const;
  // Newest first.
  std::vector<v1::TrainJob> List() const;
  // Asks a job to stop; it ends CANCELLED at its next step, leaving its last checkpoints intact.
  // A finished job is returned as it is. NOT_FOUND for an unknown id.
  absl::StatusOr<v1::TrainJob> Cancel(absl::string_view job_id);

  // Calls `listener` with the job's latest event now and with every later one, until the final
  // one. Returns a handle for Unsubscribe. NOT_FOUND for an unknown id.
  absl::StatusOr<int64_t> Subscribe(absl::string_view job_id, Listener listener);
  // Stops calls to the listener (a call in progress may still finish).
  void Unsubscribe(absl::string_view job_id, int64_t handle);

  // Reads the job records under <model_root>/jobs once, at start-up: finished jobs are listed
  // again (the newest max_retained_jobs), unfinished ones are resumed (or failed, per
  // resume_interrupted; beyond max_concurrent_jobs they fail as well). Does nothing when another
  // manager holds the model root's jobs or the directory cannot be created (a read-only model
  // root); unreadable records are skipped. Each of these is logged. Returns the jobs resumed.
  int Recover();

  // Jobs running now.
  int RunningJobs() const;
  // Refuses new jobs, interrupts the running ones at their next step and waits for their
  // threads. An interrupted job publishes a TRAIN_PHASE_INTERRUPTED event (its streams end) and
  // keeps its record unfinished, so that the next Recover() on this model root resumes it.
  void Shutdown();

 private:
  struct Job;
  void Run(std::shared_ptr<Job> job);
  absl::Status RunTraining(Job& job);
  // Starts `job`'s thread and registers it; the caller counted it in running_.
  void StartLocked(std::shared_ptr<Job> job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Replaces the job's record: its request and times with `latest` as its state.
  absl::Status WriteRecord(const Job& job, const v1::TrainEvent& latest,
                           std::optional<absl::Time> finished_at) const;
  // Records `event` as the job's latest and tells its listeners.
  void Publish(Job& job, v1::TrainEvent event);
  v1::TrainEvent LatestEvent(const Job& job) const;
  // Forgets the oldest finished jobs beyond max_retained_jobs (queued in forgotten_ for
  // PruneForgotten when pruning is on).
  void ForgetOldJobsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Deletes the directories of the jobs in forgotten_ that no served model comes from.
  void PruneForgotten() ABSL_LOCKS_EXCLUDED(mu_);

  const TrainJobsOptions options_;
  ModelRegistry* const registry_;
  ServerMetrics* const metrics_;
  const std::function<void()> on_models_changed_;

  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Job>> jobs_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> order_ ABSL_GUARDED_BY(mu_);  // job ids, oldest first
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  int64_t next_handle_ ABSL_GUARDED_BY(mu_) = 1;
  bool recovered_ ABSL_GUARDED_BY(mu_) = false;              // Recover() ran (it runs once)
  std::vector<std::string> forgotten_ ABSL_GUARDED_BY(mu_);  // ids, to prune
  // The jobs' records and directories; Recover() takes its lock.
  TrainJobRecords records_;
};

}  // namespace ner::server

#endif  // NER_SERVER_TRAIN_JOBS_H_
