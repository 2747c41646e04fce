#include "server/train_request.h"

#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "model/adversarial.h"
#include "model/lr_schedule.h"
#include "model/model_config.h"
#include "server/dataset_source.h"
#include "server/model_registry.h"
#include "server/proto_convert.h"

namespace ner::server {
namespace {

namespace fs = std::filesystem;

absl::StatusOr<model::AdversarialMethod> FromProto(v1::AdversarialMethod method) {
  switch (method) {
    case v1::ADVERSARIAL_METHOD_UNSPECIFIED:
    case v1::ADVERSARIAL_METHOD_FGM:
      return model::AdversarialMethod::kFgm;
    case v1::ADVERSARIAL_METHOD_NONE:
      return model::AdversarialMethod::kNone;
    case v1::ADVERSARIAL_METHOD_FGSM:
      return model::AdversarialMethod::kFgsm;
    case v1::ADVERSARIAL_METHOD_PGD:
      return model::AdversarialMethod::kPgd;
    default:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("hyperparameters.adversarial.method: unknown value ", method));
}

// The paper's defaults overridden by the request.
absl::StatusOr<model::TrainConfig> TrainConfigFromRequest(const v1::TrainRequest& request,
                                                          const TrainJobsOptions& options) {
  model::TrainConfig config;
  config.preset = options.preset;
  if (!request.variant().empty()) {
    absl::StatusOr<model::Variant> variant = model::ParseVariant(request.variant());
    if (!variant.ok())
      return absl::InvalidArgumentError(absl::StrCat("variant: ", variant.status().message()));
    config.variant = *variant;
  }
  const v1::Hyperparameters& h = request.hyperparameters();
  if (h.has_epochs()) {
    if (h.epochs() < 1 || h.epochs() > options.max_epochs) {
      return absl::InvalidArgumentError(absl::StrCat("hyperparameters.epochs must be in [1, ",
                                                     options.max_epochs, "], not ", h.epochs()));
    }
    config.epochs = h.epochs();
  }
  if (h.has_batch_size()) config.batch_size = h.batch_size();
  if (h.has_encoder_lr()) config.encoder_lr = h.encoder_lr();
  if (h.has_head_lr()) config.head_lr = h.head_lr();
  if (h.has_warmup_ratio()) config.warmup_fraction = h.warmup_ratio();
  if (h.has_max_chars()) config.max_chars = h.max_chars();
  if (h.has_seed()) config.seed = h.seed();
  if (h.has_preset()) config.preset = h.preset();
  if (h.has_early_stopping_patience()) config.early_stopping_patience = h.early_stopping_patience();
  if (h.has_lr_decay()) {
    absl::StatusOr<model::LrDecay> decay = model::ParseLrDecay(h.lr_decay());
    if (!decay.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("hyperparameters.lr_decay: ", decay.status().message()));
    }
    config.lr_decay = *decay;
  }
  if (h.has_decay_rate()) config.decay_rate = h.decay_rate();
  if (h.has_head_dropout()) config.head_dropout = h.head_dropout();
  if (h.has_lstm_hidden()) config.lstm_hidden = h.lstm_hidden();
  if (h.has_char_embedding_dim()) config.char_embedding_dim = h.char_embedding_dim();
  if (h.has_bigram_buckets()) config.bigram_buckets = h.bigram_buckets();
  if (h.has_bigram_embedding_dim()) config.bigram_embedding_dim = h.bigram_embedding_dim();
  // Bounds on what one request may make the server allocate (the model config's own bounds
  // allow far more than a serving process should give one job).
  constexpr int64_t kMaxWidth = 4096;
  constexpr int64_t kMaxBigramValues = 50'000'000;  // 200 MB in float32, x4 with AdamW's state
  if (config.lstm_hidden > kMaxWidth || config.char_embedding_dim > kMaxWidth ||
      config.bigram_embedding_dim > kMaxWidth) {
    return absl::InvalidArgumentError(absl::StrCat(
        "hyperparameters: lstm_hidden, char_embedding_dim and bigram_embedding_dim must be <= ",
        kMaxWidth));
  }
  if (config.bigram_buckets < 0 ||
      config.bigram_buckets * config.bigram_embedding_dim > kMaxBigramValues) {
    return absl::InvalidArgumentError(absl::StrCat(
        "hyperparameters: bigram_buckets x bigram_embedding_dim must be in [0, ", kMaxBigramValues,
        "], not ", config.bigram_buckets, " x ", config.bigram_embedding_dim));
  }
  if (h.has_adversarial()) {
    absl::StatusOr<model::AdversarialMethod> method = FromProto(h.adversarial().method());
    if (!method.ok()) return method.status();
    config.adversarial.method = *method;
    if (h.adversarial().has_epsilon()) config.adversarial.epsilon = h.adversarial().epsilon();
    if (h.adversarial().has_pgd_steps()) config.adversarial.pgd_steps = h.adversarial().pgd_steps();
  }
  if (absl::Status s = config.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("hyperparameters: ", s.message()));
  }
  if (absl::StatusOr<model::EncoderConfig> preset = model::EncoderPreset(config.preset);
      !preset.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("hyperparameters.preset: ", preset.status().message()));
  }
  return config;
}

v1::TrainPhase ToPhase(model::TrainEvent::Phase phase, v1::TrainPhase previous) {
  using Phase = model::TrainEvent::Phase;
  switch (phase) {
    case Phase::kInfo:
      return previous;
    case Phase::kStarted:
    case Phase::kStep:
      return v1::TRAIN_PHASE_TRAINING;
    case Phase::kEvaluated:
      return v1::TRAIN_PHASE_EVALUATING;
    case Phase::kCheckpoint:
      return v1::TRAIN_PHASE_CHECKPOINTING;
    case Phase::kFinished:
      return v1::TRAIN_PHASE_PROMOTING;
    case Phase::kCancelled:
      return v1::TRAIN_PHASE_DONE;
  }
  return previous;
}

}  // namespace

bool IsFinalState(v1::TrainJobState state) {
  return state == v1::TRAIN_JOB_STATE_SUCCEEDED || state == v1::TRAIN_JOB_STATE_FAILED ||
         state == v1::TRAIN_JOB_STATE_CANCELLED;
}

bool EndsEventStream(const v1::TrainEvent& event) {
  return IsFinalState(event.state()) || event.phase() == v1::TRAIN_PHASE_INTERRUPTED;
}

absl::StatusOr<model::TrainConfig> ValidateTrainRequest(const v1::TrainRequest& request,
                                                        const TrainJobsOptions& options) {
  if (absl::Status s = ValidateModelName(request.output_model()); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("output_model: ", s.message()));
  }
  if (absl::Status s = ValidateDataset(request.train()); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("train: ", s.message()));
  }
  if (absl::Status s = ValidateDataset(request.dev()); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("dev: ", s.message()));
  }
  if (!v1::PromotePolicy_IsValid(request.promote())) {
    return absl::InvalidArgumentError(absl::StrCat("promote: unknown value ", request.promote()));
  }
  if (request.init_checkpoint().empty() && options.default_init.empty() &&
      options.vocab_path.empty()) {
    return absl::InvalidArgumentError(
        "init_checkpoint is required: this server has neither --train_init nor --train_vocab");
  }
  absl::StatusOr<model::TrainConfig> config = TrainConfigFromRequest(request, options);
  if (!config.ok()) return config.status();
  if (!request.init_checkpoint().empty() && !model::HasEncoder(config->variant)) {
    return absl::InvalidArgumentError(
        absl::StrCat("init_checkpoint needs a variant with an encoder, not ", request.variant()));
  }
  if ((!request.char_vectors().empty() || !request.bigram_vectors().empty()) &&
      config->variant != model::Variant::kBiLstmCrf) {
    return absl::InvalidArgumentError(
        absl::StrCat("char_vectors and bigram_vectors need the bilstm-crf variant, not ",
                     model::VariantName(config->variant)));
  }
  if (!request.bigram_vectors().empty() && config->bigram_buckets == 0) {
    return absl::InvalidArgumentError(
        "bigram_vectors needs hyperparameters.bigram_buckets > 0 (the hashed bigram table)");
  }
  return config;
}

v1::TrainEvent NextTrainEvent(const v1::TrainEvent& previous, const model::TrainEvent& event,
                              const std::string& model_root) {
  v1::TrainEvent next = previous;
  next.set_phase(ToPhase(event.phase, previous.phase()));
  next.set_epoch(event.epoch);
  if (event.total_steps > 0) {
    next.set_step(event.step);
    next.set_total_steps(event.total_steps);
  }
  if (event.phase == model::TrainEvent::Phase::kStep ||
      event.phase == model::TrainEvent::Phase::kEvaluated) {
    next.set_loss(static_cast<float>(event.loss));
  }
  if (event.chars_per_second > 0) next.set_chars_per_second(event.chars_per_second);
  if (event.dev) {
    next.set_dev_precision(event.dev->precision);
    next.set_dev_recall(event.dev->recall);
    next.set_dev_f1(event.dev->f1);
  }
  if (event.eta > absl::ZeroDuration() && event.eta < absl::InfiniteDuration()) {
    next.set_eta_seconds(absl::ToDoubleSeconds(event.eta));
  }
  if (!event.checkpoint_path.empty()) {
    next.set_checkpoint_path(
        fs::path(event.checkpoint_path).lexically_relative(model_root).generic_string());
  }
  next.set_message(event.message);
  *next.mutable_time() = ToTimestamp(absl::Now());
  return next;
}

RecoveredJob RecoverJob(const v1::TrainJob& record, const TrainJobsOptions& options, int running,
                        absl::Time now) {
  RecoveredJob out;
  out.restarts = record.restarts();
  out.latest = record.latest();
  out.latest.set_job_id(record.job_id());
  if (IsFinalState(out.latest.state())) {
    out.finished_at =
        FromTimestamp(record.has_finished_at() ? record.finished_at() : record.created_at());
    return out;
  }
  absl::StatusOr<model::TrainConfig> config = ValidateTrainRequest(record.request(), options);
  std::string why_not;
  if (!options.resume_interrupted) {
    why_not = "resuming interrupted jobs is off (--train_resume_interrupted=false)";
  } else if (!config.ok()) {
    why_not = absl::StrCat("its request is not valid on this server: ", config.status().message());
  } else if (running >= options.max_concurrent_jobs) {
    why_not = absl::StrCat(running, " recovered job(s) take this server's training slots");
  }
  out.latest.clear_eta_seconds();
  *out.latest.mutable_time() = ToTimestamp(now);
  if (why_not.empty()) {
    out.action = RecoveredJob::Action::kResume;
    out.config = *std::move(config);
    ++out.restarts;
    out.latest.set_phase(v1::TRAIN_PHASE_QUEUED);
    out.latest.set_state(v1::TRAIN_JOB_STATE_PENDING);
    out.latest.set_message(
        absl::StrCat("resuming after a server restart (restart ", out.restarts, ")"));
    return out;
  }
  out.action = RecoveredJob::Action::kAbandon;
  out.latest.set_phase(v1::TRAIN_PHASE_DONE);
  out.latest.set_state(v1::TRAIN_JOB_STATE_FAILED);
  out.latest.mutable_error()->set_code(static_cast<int>(absl::StatusCode::kAborted));
  out.latest.mutable_error()->set_message(
      absl::StrCat("interrupted by a server restart and not resumed: ", why_not,
                   "; its checkpoints are under jobs/", record.job_id()));
  out.latest.set_message(absl::StrCat("failed: ", out.latest.error().message()));
  out.finished_at = now;
  return out;
}

}  // namespace ner::server
