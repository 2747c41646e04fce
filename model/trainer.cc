#include "model/trainer.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "model/adversarial.h"
#include "model/batching.h"
#include "model/evaluator.h"
#include "model/lr_schedule.h"
#include "model/recognizer.h"
#include "model/tokenizer.h"
#include "model/trainer_optimizer.h"
#include "model/utf8.h"
#include "model/version.h"
#include "nlohmann/json.hpp"

namespace ner::model {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Phase = TrainEvent::Phase;

constexpr uint64_t kDropoutStream = 1000;  // DeriveSeed stream offset of the dropout seeds

// Removes temporary directories that an interrupted save left behind in `dir`.
void RemoveStaleTemporaries(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find(".tmp.") != std::string::npos) fs::remove_all(entry.path(), ec);
  }
}

json DataJson(const std::string& path, const EncodingStats& stats) {
  return {{"path", path},
          {"documents", stats.documents},
          {"sequences", stats.sequences},
          {"characters", stats.characters},
          {"entities", stats.entities},
          {"split_entities", stats.split_entities},
          {"widened_entities", stats.widened},
          {"dropped_entities", stats.dropped}};
}

class TrainingRun {
 public:
  TrainingRun(TrainJob job, const TrainHooks& hooks) : job_(std::move(job)), hooks_(hooks) {}

  absl::StatusOr<TrainResult> Run() {
    try {
      if (absl::Status s = Prepare(); !s.ok()) return s;
      if (absl::Status s = Loop(); !s.ok()) return s;
    } catch (const c10::Error& e) {
      return absl::InternalError(absl::StrCat("training failed at step ", state_.global_step + 1,
                                              ": ", e.what_without_backtrace()));
    }
    result_.state = state_;
    result_.best_checkpoint = BestDir();
    result_.last_checkpoint = LastDir();
    return std::move(result_);
  }

 private:
  std::string BestDir() const { return (fs::path(job_.out_dir) / "best").string(); }
  std::string LastDir() const { return (fs::path(job_.out_dir) / "last").string(); }

  absl::Status Prepare() {
    std::error_code ec;
    fs::create_directories(job_.out_dir, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("cannot create '", job_.out_dir, "': ", ec.message()));
    }
    RemoveStaleTemporaries(job_.out_dir);
    TensorMap optimizer_state;
    if (job_.resume) {
      absl::StatusOr<TrainingSnapshot> snapshot = LoadTrainingSnapshot(LastDir());
      if (!snapshot.ok()) {
        return absl::FailedPreconditionError(
            absl::StrCat("cannot resume: ", snapshot.status().message()));
      }
      checkpoint_ = std::move(snapshot->checkpoint);
      state_ = std::move(snapshot->state);
      optimizer_state = std::move(snapshot->optimizer_state);
      config_ = state_.config;
    } else {
      if (fs::exists(LastDir())) {
        return absl::FailedPreconditionError(
            absl::StrCat("'", LastDir(),
                         "' exists: resume that run or choose another output "
                         "directory"));
      }
      if (absl::Status s = job_.config.Validate(); !s.ok()) return s;
      if (!job_.initial.model || job_.initial.vocab == nullptr) {
        return absl::InvalidArgumentError("the training job has no model or no vocabulary");
      }
      if (absl::Status s = job_.initial.config.Validate(); !s.ok()) return s;
      checkpoint_ = job_.initial;
      config_ = job_.config;
      state_.config = config_;
      state_.train_path = job_.train_path;
      state_.dev_path = job_.dev_path;
      state_.init_from = job_.init_from;
    }

    const Tokenizer tokenizer(checkpoint_.vocab);
    absl::StatusOr<std::vector<LabelledSequence>> train =
        EncodeDocuments(job_.train, tokenizer, checkpoint_.config, &train_stats_);
    if (!train.ok()) return train.status();
    train_ = *std::move(train);
    if (train_.empty()) return absl::InvalidArgumentError("no training sequences");
    if (absl::StatusOr<std::vector<LabelledSequence>> dev =
            EncodeDocuments(job_.dev, tokenizer, checkpoint_.config, &dev_stats_);
        !dev.ok()) {
      return dev.status();
    }
    for (const LabelledSequence& s : train_) {
      lengths_.push_back(static_cast<int64_t>(s.token_ids.size()));
    }
    const auto sequences = static_cast<int64_t>(train_.size());
    steps_per_epoch_ = (sequences + config_.batch_size - 1) / config_.batch_size;
    int64_t total = steps_per_epoch_ * config_.epochs;
    if (config_.max_steps) total = std::min(total, *config_.max_steps);
    if (job_.resume && (state_.train_sequences != sequences || state_.total_steps != total)) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot resume: the run was started on ", state_.train_sequences,
                       " training sequences (", state_.total_steps,
                       " steps) but the data now gives ", sequences, " (", total, " steps)"));
    }
    state_.train_sequences = sequences;
    state_.total_steps = total;
    schedule_.total_steps = total;
    schedule_.steps_per_epoch = steps_per_epoch_;
    schedule_.warmup_fraction = config_.warmup_fraction;
    schedule_.decay = config_.lr_decay;
    schedule_.decay_rate = config_.decay_rate;
    if (absl::Status s = schedule_.Validate(); !s.ok()) return s;

    checkpoint_.model->to(job_.device);
    checkpoint_.model->train();
    optimizer_ = std::make_unique<TrainingOptimizer>(checkpoint_.model, config_);
    if (job_.resume) {
      if (absl::Status s = optimizer_->LoadState(optimizer_state); !s.ok()) {
        return absl::FailedPreconditionError(absl::StrCat("cannot resume: ", s.message()));
      }
    }
    if (!job_.dev.empty()) {
      absl::StatusOr<std::unique_ptr<Recognizer>> recognizer =
          Recognizer::Create(std::make_shared<const Checkpoint>(checkpoint_));
      if (!recognizer.ok()) return recognizer.status();
      recognizer_ = *std::move(recognizer);
    }
    Emit(Event(Phase::kInfo, DescribeData()));
    start_ = absl::Now();
    Emit(Event(Phase::kStarted,
               job_.resume ? absl::StrCat("resuming after epoch ", state_.epochs_completed,
                                          " (step ", state_.global_step, ")")
                           : absl::StrCat("training ", VariantName(checkpoint_.config.variant),
                                          ": ", total, " steps")));
    return absl::OkStatus();
  }

  std::string DescribeData() const {
    std::string message = absl::StrFormat(
        "train: %d documents -> %d sequences of <= %d chars, %d characters, %d entities "
        "(%d cut by a segment boundary, %d widened to token bounds, %d dropped); dev: %d "
        "documents, %d entities",
        train_stats_.documents, train_stats_.sequences, checkpoint_.config.SegmentChars(),
        train_stats_.characters, train_stats_.entities, train_stats_.split_entities,
        train_stats_.widened, train_stats_.dropped, dev_stats_.documents, dev_stats_.entities);
    if (train_stats_.unknown_labels > 0) {
      absl::StrAppend(&message, "; ", train_stats_.unknown_labels,
                      " token tags of types the model lacks were trained as O");
    }
    return message;
  }

  absl::Status Loop() {
    if (state_.finished) {
      Emit(Event(Phase::kFinished,
                 absl::StrCat("the run had already finished (", state_.stop_reason, ")")));
      return absl::OkStatus();
    }
    for (int epoch = state_.epochs_completed + 1; epoch <= config_.epochs; ++epoch) {
      const absl::Time epoch_start = absl::Now();
      torch::manual_seed(DeriveSeed(config_.seed, kDropoutStream + epoch));
      const std::vector<std::vector<int64_t>> batches =
          PlanBatches(lengths_, config_.batch_size, config_.bucket_pool_batches,
                      DeriveSeed(config_.seed, static_cast<uint64_t>(epoch)));
      epoch_ = epoch;
      epoch_steps_ = 0;
      epoch_chars_ = 0;
      epoch_data_time_ = absl::Now() - epoch_start;
      epoch_step_time_ = absl::ZeroDuration();
      double loss_sum = 0;
      for (const std::vector<int64_t>& batch : batches) {
        if (state_.global_step >= state_.total_steps) break;
        if (hooks_.cancel != nullptr && hooks_.cancel->load()) {
          Emit(Event(Phase::kCancelled, "cancelled; the last epoch-end checkpoint is kept"));
          return absl::CancelledError(absl::StrCat("training cancelled at step ",
                                                   state_.global_step, " (epoch ", epoch, ")"));
        }
        absl::StatusOr<double> loss = Step(batch);
        if (!loss.ok()) return loss.status();
        loss_sum += *loss;
        TrainEvent event = Event(Phase::kStep);
        event.loss = *loss;
        event.learning_rate = optimizer_->head_lr();
        event.chars_per_second = epoch_chars_ / absl::ToDoubleSeconds(absl::Now() - epoch_start);
        Emit(std::move(event));
      }
      EpochRecord record;
      record.epoch = epoch;
      record.steps = epoch_steps_;
      record.train_loss = epoch_steps_ > 0 ? loss_sum / static_cast<double>(epoch_steps_) : 0;
      record.data_seconds = absl::ToDoubleSeconds(epoch_data_time_);
      record.step_seconds = absl::ToDoubleSeconds(epoch_step_time_);
      record.characters = static_cast<int64_t>(epoch_chars_);
      if (absl::Status s = EndEpoch(record, epoch_start); !s.ok()) return s;
      if (state_.finished) break;
    }
    if (!state_.finished) {
      // Only reached when resuming a snapshot whose last epoch was the final one.
      state_.finished = true;
      state_.stop_reason = "all epochs done";
    }
    return absl::OkStatus();
  }

  absl::StatusOr<double> Step(const std::vector<int64_t>& indices) {
    const absl::Time start = absl::Now();
    const TrainingBatch batch = MakeTrainingBatch(train_, indices, job_.device);
    const absl::Time assembled = absl::Now();
    epoch_data_time_ += assembled - start;
    NerModel model = checkpoint_.model;
    optimizer_->ZeroGrad();
    const StepLosses losses = AdversarialBackward(
        [&] { return model->Loss(batch.input, batch.tags); }, model->word_embeddings(),
        optimizer_->parameters(), config_.adversarial);
    if (!std::isfinite(losses.clean) || !std::isfinite(losses.adversarial)) {
      return absl::InternalError(absl::StrCat("the loss is not finite at step ",
                                              state_.global_step + 1, " (epoch ", epoch_,
                                              "); lower the learning rates or check the data"));
    }
    optimizer_->SetLrFactor(LrFactor(schedule_, state_.global_step));
    optimizer_->Step(config_.max_grad_norm);
    epoch_step_time_ += absl::Now() - assembled;
    ++state_.global_step;
    ++epoch_steps_;
    ++steps_this_call_;
    epoch_chars_ += static_cast<double>(batch.characters);
    result_.step_losses.push_back(losses.clean);
    return losses.clean;
  }

  absl::Status EndEpoch(EpochRecord& record, absl::Time epoch_start) {
    bool improved = true;
    if (recognizer_ != nullptr) {
      const absl::Time eval_start = absl::Now();
      checkpoint_.model->eval();
      absl::StatusOr<Evaluation> evaluation =
          Evaluate(*recognizer_, job_.dev, EvaluationOptions{config_.eval_batch_size});
      checkpoint_.model->train();
      if (!evaluation.ok()) return evaluation.status();
      const PrfCounts& overall = evaluation->metrics.overall();
      record.dev = DevScores{overall.precision(), overall.recall(), overall.f1()};
      improved = !state_.best_dev_f1 || record.dev->f1 > *state_.best_dev_f1;
      record.eval_seconds = absl::ToDoubleSeconds(absl::Now() - eval_start);
    }
    record.seconds = absl::ToDoubleSeconds(absl::Now() - epoch_start);
    state_.epochs_completed = record.epoch;
    state_.history.push_back(record);
    if (improved) {
      if (record.dev) state_.best_dev_f1 = record.dev->f1;
      state_.best_epoch = record.epoch;
      state_.epochs_without_improvement = 0;
    } else {
      ++state_.epochs_without_improvement;
    }
    if (state_.global_step >= state_.total_steps && record.epoch < config_.epochs) {
      state_.finished = true;
      state_.stop_reason = absl::StrCat("max_steps (", state_.total_steps, ") reached");
    } else if (config_.early_stopping_patience &&
               state_.epochs_without_improvement >= *config_.early_stopping_patience) {
      state_.finished = true;
      state_.stop_reason = absl::StrCat("early stopping: no dev F1 improvement in ",
                                        state_.epochs_without_improvement, " epochs");
    } else if (record.epoch == config_.epochs) {
      state_.finished = true;
      state_.stop_reason = "all epochs done";
    }
    TrainEvent evaluated = Event(Phase::kEvaluated, DescribeEpochTime(record));
    evaluated.loss = record.train_loss;
    evaluated.dev = record.dev;
    const double train_seconds = record.data_seconds + record.step_seconds;
    if (train_seconds > 0) {
      evaluated.chars_per_second = static_cast<double>(record.characters) / train_seconds;
    }
    Emit(std::move(evaluated));

    Checkpoint to_save = checkpoint_;
    to_save.config.provenance_json = Provenance(record);
    if (improved) {
      if (absl::Status s = SaveCheckpoint(BestDir(), to_save); !s.ok()) return s;
      TrainEvent saved = Event(Phase::kCheckpoint, "best dev F1 so far");
      saved.checkpoint_path = BestDir();
      Emit(std::move(saved));
    }
    if (absl::Status s = SaveTrainingSnapshot(LastDir(), to_save, optimizer_->State(), state_);
        !s.ok()) {
      return s;
    }
    TrainEvent saved = Event(Phase::kCheckpoint, absl::StrCat("end of epoch ", record.epoch));
    saved.checkpoint_path = LastDir();
    Emit(std::move(saved));
    if (state_.finished) {
      TrainEvent finished = Event(Phase::kFinished, state_.stop_reason);
      finished.loss = record.train_loss;
      finished.dev = record.dev;
      Emit(std::move(finished));
    }
    return absl::OkStatus();
  }

  // "steps 41.2 s, data handling 0.3 s (0.7%), dev evaluation 2.1 s": where the epoch went.
  static std::string DescribeEpochTime(const EpochRecord& record) {
    const double train_seconds = record.data_seconds + record.step_seconds;
    std::string message = absl::StrFormat(
        "steps %.1f s, data handling %.2f s (%.1f%%)", record.step_seconds, record.data_seconds,
        train_seconds > 0 ? 100 * record.data_seconds / train_seconds : 0.0);
    if (record.dev) absl::StrAppend(&message, absl::StrFormat(", dev evaluation %.1f s",
                                                              record.eval_seconds));
    return message;
  }

  // The provenance stored in the saved model configs.
  std::string Provenance(const EpochRecord& record) const {
    json out = {
        {"created_by", "ner train"},
        {"code_version", CodeVersion()},
        {"date", absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone())},
        {"train", DataJson(state_.train_path, train_stats_)},
        {"dev", DataJson(state_.dev_path, dev_stats_)},
        {"init_from", state_.init_from},
        {"hyperparameters", json::parse(config_.ToJson())},
        {"epoch", record.epoch},
        {"steps", state_.global_step},
        {"train_loss", record.train_loss},
    };
    if (record.dev) {
      out["metrics"] = {{"dev",
                         {{"precision", record.dev->precision},
                          {"recall", record.dev->recall},
                          {"f1", record.dev->f1}}}};
    }
    return out.dump();
  }

  TrainEvent Event(Phase phase, std::string message = "") const {
    TrainEvent event;
    event.phase = phase;
    event.epoch = epoch_ > 0 ? epoch_ : state_.epochs_completed;
    event.epochs = config_.epochs;
    event.step = state_.global_step;
    event.total_steps = state_.total_steps;
    event.epoch_step = epoch_steps_;
    event.steps_per_epoch = steps_per_epoch_;
    event.best_dev_f1 = state_.best_dev_f1;
    if (steps_this_call_ > 0) {
      const absl::Duration per_step = (absl::Now() - start_) / steps_this_call_;
      event.eta = per_step * (state_.total_steps - state_.global_step);
    }
    event.message = std::move(message);
    return event;
  }

  void Emit(TrainEvent event) const {
    if (hooks_.on_event) hooks_.on_event(event);
  }

  TrainJob job_;
  const TrainHooks& hooks_;
  TrainConfig config_;
  Checkpoint checkpoint_;
  TrainerState state_;
  std::vector<LabelledSequence> train_;
  std::vector<int64_t> lengths_;
  EncodingStats train_stats_;
  EncodingStats dev_stats_;
  LrScheduleConfig schedule_;
  int64_t steps_per_epoch_ = 0;
  std::unique_ptr<TrainingOptimizer> optimizer_;
  std::unique_ptr<Recognizer> recognizer_;
  absl::Time start_;
  int64_t steps_this_call_ = 0;
  int epoch_ = 0;
  int64_t epoch_steps_ = 0;
  double epoch_chars_ = 0;
  absl::Duration epoch_data_time_;  // batch planning and assembly in this epoch
  absl::Duration epoch_step_time_;  // forward/backward/optimizer in this epoch
  TrainResult result_;
};

}  // namespace

absl::string_view TrainPhaseName(TrainEvent::Phase phase) {
  switch (phase) {
    case Phase::kInfo:
      return "info";
    case Phase::kStarted:
      return "started";
    case Phase::kStep:
      return "step";
    case Phase::kEvaluated:
      return "evaluated";
    case Phase::kCheckpoint:
      return "checkpoint";
    case Phase::kFinished:
      return "finished";
    case Phase::kCancelled:
      return "cancelled";
  }
  return "?";
}

absl::StatusOr<TrainResult> Train(TrainJob job, const TrainHooks& hooks) {
  return TrainingRun(std::move(job), hooks).Run();
}

}  // namespace ner::model
