#include "server/train_jobs.h"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <filesystem>
#include <map>
#include <random>
#include <tuple>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "model/evaluator.h"
#include "model/intra_op_threads.h"
#include "model/log.h"
#include "model/train_config.h"
#include "model/train_setup.h"
#include "model/trainer.h"
#include "server/dataset_source.h"
#include "server/proto_convert.h"
#include "server/root_path.h"
#include "server/train_request.h"

namespace ner::server {

struct TrainJobManager::Job {
  std::string id;
  v1::TrainRequest request;
  model::TrainConfig config;  // from the request, validated at submission
  absl::Time created_at;
  int restarts = 0;                 // times recovered after a server restart
  bool resume = false;              // recovered: continue from jobs/<id>/last where it exists
  std::atomic<bool> cancel{false};  // the trainer's stop flag
  std::atomic<bool> cancel_requested{false};  // by CancelTrainJob: the job ends CANCELLED
  std::atomic<bool> interrupted{false};       // by Shutdown: the job resumes at the next start
  std::thread thread;                         // guarded by the manager's mu_

  // Serialises Publish() and the first event of Subscribe(), so that every listener sees the
  // events in order. Taken before `mu`.
  absl::Mutex publish_mu;
  mutable absl::Mutex mu;
  v1::TrainEvent latest ABSL_GUARDED_BY(mu);
  std::optional<absl::Time> finished_at ABSL_GUARDED_BY(mu);
  std::map<int64_t, Listener> listeners ABSL_GUARDED_BY(mu);
};

namespace {

namespace fs = std::filesystem;

std::string NewJobId() {
  static absl::Mutex mu(absl::kConstInit);
  static std::mt19937_64* rng = new std::mt19937_64(std::random_device{}());
  absl::MutexLock lock(&mu);
  return absl::StrFormat("job-%s-%08x",
                         absl::FormatTime("%Y%m%d%H%M%S", absl::Now(), absl::UTCTimeZone()),
                         static_cast<uint32_t>((*rng)()));
}

// `path` if absolute, else under `root` (confined to it).
absl::StatusOr<std::string> ResolveFile(absl::string_view root, const std::string& path) {
  if (!path.empty() && path.front() == '/') return path;
  return ResolveUnderRoot(root, path);
}

}  // namespace

TrainJobManager::TrainJobManager(TrainJobsOptions options, ModelRegistry* registry,
                                 ServerMetrics* metrics, std::function<void()> on_models_changed)
    : options_(std::move(options)),
      registry_(registry),
      metrics_(metrics),
      on_models_changed_(std::move(on_models_changed)),
      records_(options_.model_root) {}

TrainJobManager::~TrainJobManager() { Shutdown(); }

absl::StatusOr<std::string> TrainJobManager::Submit(const v1::TrainRequest& request) {
  absl::StatusOr<model::TrainConfig> config = ValidateTrainRequest(request, options_);
  if (!config.ok()) return config.status();
  auto job = std::make_shared<Job>();
  job->request = request;
  job->config = *std::move(config);
  job->created_at = absl::Now();
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return absl::UnavailableError("the server is shutting down");
    if (running_ >= options_.max_concurrent_jobs) {
      return absl::ResourceExhaustedError(
          absl::StrCat(running_,
                       " training job(s) running, the most this server runs at once; "
                       "retry when one has finished"));
    }
    do {
      job->id = NewJobId();
    } while (jobs_.count(job->id) > 0 ||
             fs::exists(records_.JobDir(job->id)));  // forgotten ones too
    {
      absl::MutexLock job_lock(&job->mu);
      job->latest.set_job_id(job->id);
      job->latest.set_phase(v1::TRAIN_PHASE_QUEUED);
      job->latest.set_state(v1::TRAIN_JOB_STATE_PENDING);
      job->latest.set_message("queued");
      *job->latest.mutable_time() = ToTimestamp(job->created_at);
    }
    ++running_;
    StartLocked(job);
  }
  LogInfo(absl::StrCat("training job ", job->id, " started: ", request.output_model()));
  return job->id;
}

void TrainJobManager::StartLocked(std::shared_ptr<Job> job) {
  jobs_[job->id] = job;
  order_.push_back(job->id);
  ForgetOldJobsLocked();
  job->thread = std::thread([this, job] { Run(job); });
  if (metrics_ != nullptr) metrics_->SetTrainJobsRunning(running_);
}

void TrainJobManager::ForgetOldJobsLocked() {
  // Forget the oldest finished jobs beyond the limit; running ones are always kept.
  size_t finished = 0;
  for (const std::string& id : order_) {
    absl::MutexLock job_lock(&jobs_[id]->mu);
    if (jobs_[id]->finished_at) ++finished;
  }
  for (auto it = order_.begin();
       it != order_.end() && finished > static_cast<size_t>(options_.max_retained_jobs);) {
    std::shared_ptr<Job> job = jobs_[*it];
    bool done;
    {
      absl::MutexLock job_lock(&job->mu);
      done = job->finished_at.has_value();
    }
    if (!done) {
      ++it;
      continue;
    }
    if (job->thread.joinable()) job->thread.join();  // it has finished: returns at once
    if (options_.prune_forgotten_jobs) forgotten_.push_back(*it);
    jobs_.erase(*it);
    it = order_.erase(it);
    --finished;
  }
}

void TrainJobManager::PruneForgotten() {
  std::vector<std::string> ids;
  {
    absl::MutexLock lock(&mu_);
    ids.swap(forgotten_);
  }
  if (ids.empty()) return;
  const std::vector<std::shared_ptr<const ServedModel>> served = registry_->List();
  for (const std::string& id : ids) {
    // Served paths are relative to the model root and normalised, as job directories are.
    const std::string dir = absl::StrCat("jobs/", id);
    const auto from_here = std::find_if(served.begin(), served.end(), [&](const auto& model) {
      return model->path == dir || absl::StartsWith(model->path, dir + "/");
    });
    if (from_here != served.end()) {
      LogInfo(absl::StrCat("training job ", id, " forgotten; its directory is kept: '",
                           (*from_here)->name, "' serves ", (*from_here)->path));
      continue;
    }
    if (absl::Status s = records_.Remove(id); s.ok()) {
      LogInfo(absl::StrCat("training job ", id, " forgotten; its directory is deleted"));
    } else if (!absl::IsNotFound(s)) {
      LogWarning(absl::StrCat("training job ", id, ": cannot delete its directory: ", s.message()));
    }
  }
}

v1::TrainEvent TrainJobManager::LatestEvent(const Job& job) const {
  absl::MutexLock lock(&job.mu);
  return job.latest;
}

void TrainJobManager::Publish(Job& job, v1::TrainEvent event) {
  absl::MutexLock publish_lock(&job.publish_mu);
  std::vector<Listener> listeners;
  {
    absl::MutexLock lock(&job.mu);
    event.set_job_id(job.id);
    if (!event.has_time()) *event.mutable_time() = ToTimestamp(absl::Now());
    job.latest = event;
    if (IsFinalState(event.state())) job.finished_at = FromTimestamp(event.time());
    for (const auto& [handle, listener] : job.listeners) listeners.push_back(listener);
    if (EndsEventStream(event)) job.listeners.clear();
  }
  for (const Listener& listener : listeners) listener(event);
}

absl::StatusOr<int64_t> TrainJobManager::Subscribe(absl::string_view job_id, Listener listener) {
  std::shared_ptr<Job> job;
  int64_t handle;
  {
    absl::MutexLock lock(&mu_);
    auto it = jobs_.find(std::string(job_id));
    if (it == jobs_.end()) {
      return absl::NotFoundError(absl::StrCat("no training job '", job_id, "'"));
    }
    job = it->second;
    handle = next_handle_++;
  }
  absl::MutexLock publish_lock(&job->publish_mu);
  v1::TrainEvent latest;
  {
    absl::MutexLock lock(&job->mu);
    latest = job->latest;
    if (!EndsEventStream(latest)) job->listeners[handle] = listener;
  }
  listener(latest);
  return handle;
}

void TrainJobManager::Unsubscribe(absl::string_view job_id, int64_t handle) {
  std::shared_ptr<Job> job;
  {
    absl::MutexLock lock(&mu_);
    auto it = jobs_.find(std::string(job_id));
    if (it == jobs_.end()) return;
    job = it->second;
  }
  absl::MutexLock lock(&job->mu);
  job->listeners.erase(handle);
}

namespace {

v1::TrainJob ToTrainJob(const std::string& id, const v1::TrainRequest& request,
                        absl::Time created_at, int restarts, const v1::TrainEvent& latest,
                        std::optional<absl::Time> finished_at) {
  v1::TrainJob out;
  out.set_restarts(restarts);
  out.set_job_id(id);
  *out.mutable_request() = request;
  *out.mutable_latest() = latest;
  *out.mutable_created_at() = ToTimestamp(created_at);
  if (finished_at) *out.mutable_finished_at() = ToTimestamp(*finished_at);
  return out;
}

}  // namespace

absl::StatusOr<v1::TrainJob> TrainJobManager::Get(absl::string_view job_id) const {
  std::shared_ptr<Job> job;
  {
    absl::MutexLock lock(&mu_);
    auto it = jobs_.find(std::string(job_id));
    if (it == jobs_.end()) {
      return absl::NotFoundError(absl::StrCat("no training job '", job_id, "'"));
    }
    job = it->second;
  }
  absl::MutexLock lock(&job->mu);
  return ToTrainJob(job->id, job->request, job->created_at, job->restarts, job->latest,
                    job->finished_at);
}

std::vector<v1::TrainJob> TrainJobManager::List() const {
  std::vector<std::shared_ptr<Job>> jobs;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = order_.rbegin(); it != order_.rend(); ++it) jobs.push_back(jobs_.at(*it));
  }
  std::vector<v1::TrainJob> out;
  for (const std::shared_ptr<Job>& job : jobs) {
    absl::MutexLock lock(&job->mu);
    out.push_back(ToTrainJob(job->id, job->request, job->created_at, job->restarts, job->latest,
                             job->finished_at));
  }
  return out;
}

absl::StatusOr<v1::TrainJob> TrainJobManager::Cancel(absl::string_view job_id) {
  {
    absl::MutexLock lock(&mu_);
    auto it = jobs_.find(std::string(job_id));
    if (it == jobs_.end()) {
      return absl::NotFoundError(absl::StrCat("no training job '", job_id, "'"));
    }
    it->second->cancel_requested.store(true);
    it->second->cancel.store(true);
  }
  LogInfo(absl::StrCat("training job ", job_id, ": cancellation requested"));
  return Get(job_id);
}

int TrainJobManager::Recover() {
  {
    absl::MutexLock lock(&mu_);
    if (recovered_ || shut_down_) return 0;  // recovered already, or too late
    recovered_ = true;
  }
  if (absl::Status locked = records_.Lock(); !locked.ok()) {
    LogWarning(absl::IsFailedPrecondition(locked)
                   ? absl::StrCat("training jobs: ", locked.message(),
                                  ": it recovers the jobs under this model root; this server "
                                  "runs only the jobs submitted to it")
                   : absl::StrCat("training jobs: nothing recovered: ", locked.message()));
    return 0;
  }
  TrainJobRecords::Scan scan = records_.ReadAll(options_.max_retained_jobs);
  if (options_.prune_forgotten_jobs) {
    absl::MutexLock lock(&mu_);
    forgotten_.insert(forgotten_.end(), scan.older_finished.begin(), scan.older_finished.end());
  }

  int resumed = 0;
  int listed = 0;
  std::vector<v1::TrainJob> abandoned;  // unfinished and not resumed: recorded FAILED
  {
    absl::MutexLock lock(&mu_);
    for (v1::TrainJob& record : scan.jobs) {
      if (jobs_.count(record.job_id()) > 0) continue;
      RecoveredJob recovered = RecoverJob(record, options_, running_, absl::Now());
      auto job = std::make_shared<Job>();
      job->id = record.job_id();
      job->request = std::move(*record.mutable_request());
      job->created_at = FromTimestamp(record.created_at());
      job->restarts = recovered.restarts;
      switch (recovered.action) {
        case RecoveredJob::Action::kList:
          ++listed;
          break;
        case RecoveredJob::Action::kResume:
          job->config = std::move(recovered.config);
          job->resume = true;
          break;
        case RecoveredJob::Action::kAbandon:
          abandoned.push_back(ToTrainJob(job->id, job->request, job->created_at, job->restarts,
                                         recovered.latest, recovered.finished_at));
          LogWarning(
              absl::StrCat("training job ", job->id, ": ", recovered.latest.error().message()));
          break;
      }
      {
        absl::MutexLock job_lock(&job->mu);
        job->latest = std::move(recovered.latest);
        job->finished_at = recovered.finished_at;
      }
      if (job->resume) {
        ++running_;
        ++resumed;
        if (metrics_ != nullptr) metrics_->TrainJobResumed();
        StartLocked(job);
        LogInfo(absl::StrCat("training job ", job->id,
                             " resumed after a restart: ", job->request.output_model()));
      } else {
        jobs_[job->id] = job;
        order_.push_back(job->id);
      }
    }
    ForgetOldJobsLocked();
  }
  // Outside mu_: a file per job.
  for (const v1::TrainJob& record : abandoned) {
    if (absl::Status s = records_.Write(record); !s.ok()) {
      LogWarning(absl::StrCat("training job ", record.job_id(),
                              ": cannot update its record: ", s.message()));
    }
  }
  if (scan.found > 0) {
    LogInfo(absl::StrCat("training jobs: ", scan.found, " record(s) under ", records_.JobDir(""),
                         ": ", listed, " finished listed (", scan.found - scan.jobs.size(),
                         " older ones not), ", resumed, " resumed, ", abandoned.size(),
                         " not resumed"));
  }
  PruneForgotten();
  return resumed;
}

int TrainJobManager::RunningJobs() const {
  absl::MutexLock lock(&mu_);
  return running_;
}

void TrainJobManager::Shutdown() {
  std::vector<std::shared_ptr<Job>> jobs;
  {
    absl::MutexLock lock(&mu_);
    shut_down_ = true;
    for (auto& [id, job] : jobs_) {
      job->interrupted.store(true);
      job->cancel.store(true);
      jobs.push_back(job);
    }
  }
  // Threads are only started under mu_ before shut_down_ was set, so none appears after this.
  for (const std::shared_ptr<Job>& job : jobs) {
    if (job->thread.joinable()) job->thread.join();
  }
}

void TrainJobManager::Run(std::shared_ptr<Job> job) {
  // The directories of the jobs this one's start made forget (ForgetOldJobsLocked), deleted on
  // its thread rather than on the Train RPC's (a gRPC callback thread must not block on disk).
  PruneForgotten();
  absl::Status status;
  try {
    // The record first: a job the server cannot record could not survive a restart either.
    status = WriteRecord(*job, LatestEvent(*job), std::nullopt);
    if (!status.ok()) {
      status = absl::Status(status.code(), absl::StrCat("cannot record the job under the model "
                                                        "root (is it writable?): ",
                                                        status.message()));
    }
    if (status.ok()) status = RunTraining(*job);
  } catch (const c10::Error& e) {
    status = absl::InternalError(absl::StrCat("LibTorch: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    status = absl::InternalError(e.what());
  }
  v1::TrainEvent last = LatestEvent(*job);
  last.clear_eta_seconds();
  *last.mutable_time() = ToTimestamp(absl::Now());
  const bool stopped = absl::IsCancelled(status) || job->cancel.load();
  if (!status.ok() && stopped && job->interrupted.load() && !job->cancel_requested.load()) {
    // Not an end: the record stays unfinished and the next start on this model root resumes it.
    last.set_phase(v1::TRAIN_PHASE_INTERRUPTED);
    last.set_state(v1::TRAIN_JOB_STATE_RUNNING);
    last.set_message(
        "the server is shutting down; the job resumes from its last epoch-end checkpoint when a "
        "server starts again on this model root");
  } else {
    last.set_phase(v1::TRAIN_PHASE_DONE);
    if (status.ok()) {
      last.set_state(v1::TRAIN_JOB_STATE_SUCCEEDED);
    } else if (stopped) {
      last.set_state(v1::TRAIN_JOB_STATE_CANCELLED);
      last.set_message(
          absl::StrCat("cancelled; the checkpoints written so far are intact: ", status.message()));
    } else {
      last.set_state(v1::TRAIN_JOB_STATE_FAILED);
      last.mutable_error()->set_code(static_cast<int>(status.code()));
      last.mutable_error()->set_message(std::string(status.message()));
      last.set_message(absl::StrCat("failed: ", status.message()));
    }
  }
  LogInfo(last.phase() == v1::TRAIN_PHASE_INTERRUPTED
              ? absl::StrCat("training job ", job->id, " interrupted: ", last.message())
              : absl::StrCat("training job ", job->id, " ended: ",
                             v1::TrainJobState_Name(last.state()), " (", last.message(), ")"));
  // The record before the event: a client that saw the end finds it after a restart too.
  const std::optional<absl::Time> finished_at =
      IsFinalState(last.state()) ? std::optional<absl::Time>(FromTimestamp(last.time()))
                                 : std::nullopt;
  if (absl::Status s = WriteRecord(*job, last, finished_at); !s.ok()) {
    LogWarning(absl::StrCat("training job ", job->id, ": cannot update its record: ", s.message(),
                            "; a restart finds the state recorded before"));
  }
  {
    absl::MutexLock lock(&mu_);
    --running_;
    if (metrics_ != nullptr) metrics_->SetTrainJobsRunning(running_);
  }
  Publish(*job, std::move(last));
}

absl::Status TrainJobManager::WriteRecord(const Job& job, const v1::TrainEvent& latest,
                                          std::optional<absl::Time> finished_at) const {
  return records_.Write(
      ToTrainJob(job.id, job.request, job.created_at, job.restarts, latest, finished_at));
}

absl::Status TrainJobManager::RunTraining(Job& job) {
  const v1::TrainRequest& request = job.request;
  // This thread's LibTorch threads: training must not take the serving cores (the batcher's
  // workers keep their own count: model/intra_op_threads.h).
  model::SetThreadIntraOpThreads(options_.threads);
  auto info = [this, &job](v1::TrainPhase phase, std::string message) {
    v1::TrainEvent event = LatestEvent(job);
    event.set_phase(phase);
    event.set_state(v1::TRAIN_JOB_STATE_RUNNING);
    event.set_message(std::move(message));
    event.clear_time();
    Publish(job, std::move(event));
  };
  info(v1::TRAIN_PHASE_PREPARING, "reading the datasets");

  absl::StatusOr<model::Dataset> train = LoadRequestDataset(request.train(), options_.data_root);
  if (!train.ok()) {
    return absl::Status(train.status().code(), absl::StrCat("train: ", train.status().message()));
  }
  absl::StatusOr<model::Dataset> dev = LoadRequestDataset(request.dev(), options_.data_root);
  if (!dev.ok()) {
    return absl::Status(dev.status().code(), absl::StrCat("dev: ", dev.status().message()));
  }
  const model::DatasetStats stats = model::ComputeStats(train->documents);
  if (stats.documents == 0) return absl::InvalidArgumentError("train: the dataset is empty");
  if (dev->documents.empty()) return absl::InvalidArgumentError("dev: the dataset is empty");
  if (stats.documents > options_.max_train_documents ||
      stats.characters > options_.max_train_characters) {
    return absl::InvalidArgumentError(
        absl::StrCat("train: ", stats.documents, " documents of ", stats.characters,
                     " characters exceed this server's limits (", options_.max_train_documents,
                     " documents, ", options_.max_train_characters, " characters)"));
  }
  if (job.cancel.load()) return absl::CancelledError("cancelled before training began");

  const std::string out_dir = records_.JobDir(job.id);
  // A recovered job continues its own run where it has one (the snapshot holds the model, the
  // optimizer state and the hyper-parameters); else it starts from the request again.
  const bool resume = job.resume && fs::exists(fs::path(out_dir) / "last" / "trainer_state.json");
  model::TrainJob train_job;
  if (resume) {
    info(v1::TRAIN_PHASE_PREPARING, absl::StrCat("resuming from jobs/", job.id, "/last"));
  } else {
    model::InitialModelSource source;
    // Pretrained vectors replace the server's --train_init (whose word embeddings would otherwise
    // become bilstm-crf's character embeddings); its vocabulary is still used when the server has
    // no --train_vocab.
    const bool vectors = !request.char_vectors().empty() || !request.bigram_vectors().empty();
    const std::string init = !request.init_checkpoint().empty() ? request.init_checkpoint()
                             : vectors                          ? std::string()
                                                                : options_.default_init;
    if (!init.empty()) {
      absl::StatusOr<std::string> resolved = ResolveUnderRoot(options_.model_root, init);
      if (!resolved.ok()) {
        return absl::Status(resolved.status().code(),
                            absl::StrCat("init_checkpoint: ", resolved.status().message()));
      }
      source.init = *resolved;
    } else if (!options_.vocab_path.empty() || options_.default_init.empty()) {
      absl::StatusOr<std::string> vocab = ResolveFile(options_.model_root, options_.vocab_path);
      if (!vocab.ok()) return vocab.status();
      source.vocab_path = *vocab;
    } else {
      absl::StatusOr<std::string> resolved =
          ResolveUnderRoot(options_.model_root, options_.default_init);
      if (!resolved.ok()) return resolved.status();
      source.vocab_path = (fs::path(*resolved) / "vocab.txt").string();
    }
    std::string init_from = init;  // provenance, as `ner train` records it
    for (const auto& [name, path, target] :
         {std::tuple<const char*, const std::string&, std::string*>{
              "char_vectors", request.char_vectors(), &source.char_vectors},
          {"bigram_vectors", request.bigram_vectors(), &source.bigram_vectors}}) {
      if (path.empty()) continue;
      absl::StatusOr<std::string> resolved = ResolveUnderRoot(options_.model_root, path);
      if (!resolved.ok()) {
        return absl::Status(resolved.status().code(),
                            absl::StrCat(name, ": ", resolved.status().message()));
      }
      *target = *resolved;
      absl::StrAppend(&init_from, init_from.empty() ? "" : ", ", name, "=", path);
    }
    std::vector<std::string> notes;
    absl::StatusOr<model::Checkpoint> initial =
        model::BuildInitialModel(job.config, train->documents, dev->documents,
                                 train->scheme.value_or(model::TagScheme::kBio), source, &notes);
    if (!initial.ok()) return initial.status();
    for (std::string& note : notes) info(v1::TRAIN_PHASE_PREPARING, std::move(note));
    train_job.initial = *std::move(initial);
    train_job.init_from = init_from;
  }
  train_job.resume = resume;

  train_job.config = job.config;
  train_job.train = std::move(train->documents);
  train_job.dev = dev->documents;  // kept for the promotion decision
  train_job.out_dir = out_dir;
  train_job.device = registry_->options().load.device;
  train_job.train_path = request.train().path();
  train_job.dev_path = request.dev().path();

  model::TrainHooks hooks;
  hooks.cancel = &job.cancel;
  hooks.on_event = [this, &job](const model::TrainEvent& event) {
    v1::TrainEvent next = NextTrainEvent(LatestEvent(job), event, options_.model_root);
    next.set_state(v1::TRAIN_JOB_STATE_RUNNING);
    if (metrics_ != nullptr) {
      if (event.phase == model::TrainEvent::Phase::kStep) metrics_->TrainStepsDone(1);
      metrics_->TrainProgress(
          event.total_steps > 0 ? static_cast<double>(event.step) / event.total_steps : 0,
          event.loss, event.dev ? std::optional<double>(event.dev->f1) : std::nullopt);
    }
    Publish(job, std::move(next));
  };
  absl::StatusOr<model::TrainResult> result = model::Train(std::move(train_job), hooks);
  if (!result.ok()) return result.status();

  // Promotion. From here on the job's checkpoint is the best one, whatever was written last.
  const std::string best =
      fs::path(result->best_checkpoint).lexically_relative(options_.model_root).generic_string();
  {
    v1::TrainEvent event = LatestEvent(job);
    event.set_phase(v1::TRAIN_PHASE_PROMOTING);
    event.set_checkpoint_path(best);
    event.set_message(absl::StrCat("best checkpoint ", best));
    event.clear_time();
    Publish(job, std::move(event));
  }
  const double new_f1 = result->state.best_dev_f1.value_or(0);
  v1::PromotePolicy policy = request.promote();
  if (policy == v1::PROMOTE_POLICY_UNSPECIFIED) policy = v1::PROMOTE_POLICY_IF_BETTER;
  std::string decision;
  bool promote = policy == v1::PROMOTE_POLICY_ALWAYS;
  if (policy == v1::PROMOTE_POLICY_IF_BETTER) {
    absl::StatusOr<std::shared_ptr<const ServedModel>> serving =
        registry_->Get(request.output_model());
    if (!serving.ok()) {
      promote = true;
      decision = absl::StrCat("no model serves as '", request.output_model(), "'");
    } else {
      // The serving model scored on the same dev set, so the comparison is like for like.
      info(v1::TRAIN_PHASE_PROMOTING,
           absl::StrCat("scoring the serving '", request.output_model(), "' on the dev set"));
      absl::StatusOr<model::Evaluation> current =
          model::Evaluate(*(*serving)->recognizer, dev->documents);
      if (!current.ok()) return current.status();
      const double old_f1 = current->metrics.overall().f1();
      promote = new_f1 >= old_f1;
      decision = absl::StrFormat("dev F1 %.4f vs %.4f of the serving version %s", new_f1, old_f1,
                                 (*serving)->version);
    }
  }
  if (!promote) {
    info(v1::TRAIN_PHASE_PROMOTING,
         absl::StrCat("not promoted (",
                      policy == v1::PROMOTE_POLICY_NEVER ? "policy NEVER" : decision,
                      "); checkpoint ", best));
    return absl::OkStatus();
  }
  info(v1::TRAIN_PHASE_PROMOTING,
       absl::StrCat("loading ", best, " as '", request.output_model(), "'"));
  absl::StatusOr<std::shared_ptr<const ServedModel>> loaded =
      registry_->Load(request.output_model(), best);
  if (!loaded.ok()) {
    return absl::Status(loaded.status().code(),
                        absl::StrCat("promotion failed: ", loaded.status().message()));
  }
  if (on_models_changed_) on_models_changed_();
  info(v1::TRAIN_PHASE_PROMOTING,
       absl::StrCat("promoted to serving as '", request.output_model(), "' version ",
                    (*loaded)->version, decision.empty() ? "" : absl::StrCat(" (", decision, ")")));
  return absl::OkStatus();
}

}  // namespace ner::server
