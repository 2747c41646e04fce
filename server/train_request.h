#ifndef NER_SERVER_TRAIN_REQUEST_H_
#define NER_SERVER_TRAIN_REQUEST_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "model/train_config.h"
#include "model/trainer_event.h"
#include "ner/v1/ner.pb.h"
#include "server/train_jobs.h"

namespace ner::server {

// The Train RPC's messages and the trainer's types: validation and conversion. Pure.

// True for the states a job ends in: SUCCEEDED, FAILED, CANCELLED.
bool IsFinalState(v1::TrainJobState state);
// Whether `event` is the last a job sends on this server: a final state, or the job interrupted
// by the server's shutdown (TRAIN_PHASE_INTERRUPTED; it resumes when a server restarts).
bool EndsEventStream(const v1::TrainEvent& event);

// Checks `request` as a whole and returns its hyper-parameters: the paper's defaults overridden
// by the request (`options.preset` where the request names none). INVALID_ARGUMENT naming the
// first bad field (output_model, train, dev, promote, variant, hyperparameters.*, or a missing
// init checkpoint on a server without --train_init and --train_vocab).
absl::StatusOr<model::TrainConfig> ValidateTrainRequest(const v1::TrainRequest& request,
                                                        const TrainJobsOptions& options);

// The job's next snapshot: `previous` updated with the trainer's `event`; checkpoint paths are
// made relative to `model_root`.
v1::TrainEvent NextTrainEvent(const v1::TrainEvent& previous, const model::TrainEvent& event,
                              const std::string& model_root);

// What a restarted server does with the record of a job that an earlier process left
// (TrainJobManager::Recover()).
struct RecoveredJob {
  enum class Action {
    kList,     // finished: listed as it ended
    kResume,   // unfinished: runs again from its last epoch-end snapshot
    kAbandon,  // unfinished and not resumed: FAILED (ABORTED, with the reason), to be recorded
  };
  Action action = Action::kList;
  v1::TrainEvent latest;                  // the job's snapshot from now on
  std::optional<absl::Time> finished_at;  // kList and kAbandon
  int restarts = 0;                       // the record's, plus one for kResume
  model::TrainConfig config;              // kResume: the request's hyper-parameters
};

// An unfinished job (stopped by a shutdown or a crash) resumes when options.resume_interrupted,
// its request is valid under `options` and fewer than options.max_concurrent_jobs jobs are
// `running`; otherwise it is abandoned with the reason in its error. `now` stamps the new
// snapshot. Pure.
RecoveredJob RecoverJob(const v1::TrainJob& record, const TrainJobsOptions& options, int running,
                        absl::Time now);

}  // namespace ner::server

#endif  // NER_SERVER_TRAIN_REQUEST_H_
