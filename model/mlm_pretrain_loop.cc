#include "model/mlm_pretrain_loop.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/log.h"
#include "model/mlm_model.h"

namespace ner::model {
namespace {

// Independent random streams derived from the run's seed.
constexpr uint64_t kTrainMaskStream = 0x7a11;
constexpr uint64_t kValidationMaskStream = 0x7e57;
constexpr uint64_t kDropoutStream = 0xd40;
constexpr int kCalibrationSteps = 3;  // Timed forward/backward passes (the first is discarded).

struct Metrics {
  double loss_sum = 0;  // Summed over targets.
  int64_t targets = 0;
  int64_t correct = 0;
  double loss() const { return targets > 0 ? loss_sum / static_cast<double>(targets) : 0.0; }
  double accuracy() const {
    return targets > 0 ? static_cast<double>(correct) / static_cast<double>(targets) : 0.0;
  }
};

bool IsNoDecay(const std::string& name) {
  return absl::EndsWith(name, ".bias") || absl::StrContains(name, "layer_norm") ||
         absl::StrContains(name, "LayerNorm") || name == "cls.predictions.bias";
}

// A fresh model whose initial weights depend only on `seed`.
MlmModel SeededModel(uint64_t seed, const EncoderConfig& config) {
  torch::manual_seed(seed);
  return MlmModel(config);
}

std::string FormatDuration(double seconds) {
  return absl::FormatDuration(absl::Seconds(std::round(seconds)));
}

// One invocation's training loop. Methods throw c10::Error; Pretrain turns it into a Status.
class Run {
 public:
  Run(const PretrainOptions& options, const PretrainEnvironment& env, absl::Time start,
      PretrainData data, PretrainState state, const EncoderConfig& encoder_config)
      : options_(options),
        env_(env),
        start_(start),
        data_(std::move(data)),
        state_(std::move(state)),
        base_seconds_(state_.train_seconds),
        model_(SeededModel(state_.seed, encoder_config)) {
    model_->train();
    std::vector<torch::Tensor> decay, no_decay;
    for (const auto& [name, parameter] : model_->NamedParameters()) {
      (IsNoDecay(name) ? no_decay : decay).push_back(parameter);
      parameters_.push_back(parameter);
    }
    auto adam = [&](double weight_decay) {
      return std::make_unique<torch::optim::AdamWOptions>(
          torch::optim::AdamWOptions(options.learning_rate)
              .betas({options.adam_beta1, options.adam_beta2})
              .eps(options.adam_epsilon)
              .weight_decay(weight_decay));
    };
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decay, adam(options.weight_decay));
    groups.emplace_back(no_decay, adam(0.0));
    optimizer_ = std::make_unique<torch::optim::AdamW>(std::move(groups));
  }

  absl::StatusOr<PretrainResult> Execute() {
    if (options_.resume) {
      absl::StatusOr<PretrainState> restored =
          RestorePretraining(options_.output_dir, model_, *optimizer_);
      if (!restored.ok()) return restored.status();
      LogInfo(absl::StrFormat("resumed '%s' at step %d (epoch %d, %d sequences in)",
                              options_.output_dir, state_.step, state_.epoch,
                              state_.epoch_position));
    }
    order_ = EpochOrder(data_.split.train, state_.epoch, state_.seed);
    result_.first_step = state_.step;
    if (!options_.resume) {
      Evaluate();
      result_.initial_validation_loss = state_.validation_loss;
    }
    PlanSchedule();
    const int64_t last_step = options_.max_steps.value_or(state_.schedule_steps);
    absl::Time last_save = env_.clock();
    int64_t last_saved_step = state_.step;
    while (true) {
      if (state_.step >= last_step) {
        result_.stop_reason = options_.max_steps ? "max_steps" : "schedule";
        break;
      }
      if (options_.time_budget && env_.clock() - start_ >= *options_.time_budget) {
        result_.stop_reason = "time_budget";
        break;
      }
      if (env_.cancel != nullptr && env_.cancel->load()) {
        result_.stop_reason = "cancelled";
        break;
      }
      if (absl::Status s = Step(); !s.ok()) return s;
      if (state_.step % options_.log_every == 0 || state_.step == last_step) Report(last_step);
      if (state_.step % options_.eval_every == 0) Evaluate();
      const bool checkpoint_due =
          (options_.checkpoint_every_steps &&
           state_.step - last_saved_step >= *options_.checkpoint_every_steps) ||
          env_.clock() - last_save >= options_.checkpoint_interval;
      if (checkpoint_due && state_.step < last_step) {
        if (absl::Status s = Save(); !s.ok()) return s;
        LogInfo(absl::StrCat("checkpoint at step ", state_.step, " in ", options_.output_dir));
        last_save = env_.clock();
        last_saved_step = state_.step;
      }
    }
    // A cancelled run saves at once (a supervisor may be waiting); others report validation.
    if (result_.stop_reason != "cancelled" &&
        (state_.step > result_.first_step || !options_.resume)) {
      Evaluate();
    }
    if (absl::Status s = Save(); !s.ok()) return s;
    result_.tokens_per_second =
        step_seconds_ > 0 ? static_cast<double>(run_tokens_) / step_seconds_ : 0.0;
    LogInfo(absl::StrFormat(
        "stopped (%s) at step %d after %s: %.0f tokens/s, %d tokens seen in total; saved %s",
        result_.stop_reason, state_.step, FormatDuration(Elapsed()), result_.tokens_per_second,
        state_.tokens_seen, options_.output_dir));
    result_.state = state_;
    return std::move(result_);
  }

 private:
  double Elapsed() const { return absl::ToDoubleSeconds(env_.clock() - start_); }

  // Sets the schedule length (max_steps, the saved one, or fitted to the time budget by timing
  // a few forward/backward passes without updates) and the warm-up.
  void PlanSchedule() {
    if (options_.max_steps) state_.schedule_steps = *options_.max_steps;
    if (state_.schedule_steps == 0) {
      const PretrainState before = state_;
      const std::vector<int64_t> order = order_;
      const MlmBatch batch = NextBatch();
      state_ = before;  // The calibration batch is trained on again as the first real one.
      order_ = order;
      absl::Time t0 = env_.clock();
      for (int i = 0; i < kCalibrationSteps; ++i) {
        if (i == 1) t0 = env_.clock();
        model_->Forward(batch).loss.backward();
        optimizer_->zero_grad();
      }
      const double step_seconds =
          absl::ToDoubleSeconds(env_.clock() - t0) / (kCalibrationSteps - 1);
      const double left = absl::ToDoubleSeconds(*options_.time_budget) - Elapsed();
      // 5 % for validation and checkpoints.
      state_.schedule_steps = std::max<int64_t>(1, std::llround(0.95 * left / step_seconds));
      LogInfo(absl::StrFormat("%.2fs per step: scheduling %d steps for the %s budget", step_seconds,
                              state_.schedule_steps, absl::FormatDuration(*options_.time_budget)));
    }
    if (options_.warmup_steps) {
      state_.warmup_steps = *options_.warmup_steps;
    } else if (!options_.resume || options_.max_steps) {
      state_.warmup_steps = std::max<int64_t>(1, std::llround(0.06 * state_.schedule_steps));
    }
    const EncoderConfig& config = model_->encoder()->config();
    LogInfo(absl::StrFormat(
        "pretraining %s (%d layers, H=%d): steps %d..%d, warm-up %d, batch %d, peak lr %g",
        std::string(EncoderKindName(config.kind)), config.num_hidden_layers, config.hidden_size,
        state_.step, options_.max_steps.value_or(state_.schedule_steps), state_.warmup_steps,
        options_.batch_size, options_.learning_rate));
  }

  // The next batch in the current epoch's order, crossing into the next epoch when needed.
  MlmBatch NextBatch() {
    std::vector<MaskedSequence> sequences;
    while (static_cast<int32_t>(sequences.size()) < options_.batch_size) {
      if (state_.epoch_position >= static_cast<int64_t>(order_.size())) {
        ++state_.epoch;
        state_.epoch_position = 0;
        order_ = EpochOrder(data_.split.train, state_.epoch, state_.seed);
      }
      const int64_t index = order_[state_.epoch_position++];
      sequences.push_back(MaskTokens(data_.corpus.sequence(index), *data_.masking_vocab,
                                     state_.masking,
                                     MixSeed(state_.seed ^ kTrainMaskStream, state_.epoch, index)));
    }
    return MakeMlmBatch(sequences, data_.vocab->pad_id());
  }

  // One optimizer step, with dropout seeded by (seed, step) so a resumed run repeats it exactly.
  absl::Status Step() {
    const absl::Time step_start = env_.clock();
    last_lr_ = PretrainLearningRate(options_.learning_rate, state_.step, state_.warmup_steps,
                                    state_.schedule_steps);
    for (auto& group : optimizer_->param_groups()) {
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(last_lr_);
    }
    const MlmBatch batch = NextBatch();
    torch::manual_seed(MixSeed(state_.seed, kDropoutStream, state_.step));
    const MlmOutput out = model_->Forward(batch);
    const double loss = out.loss.item<double>();
    if (!std::isfinite(loss)) {
      return absl::InternalError(absl::StrCat("non-finite MLM loss at step ", state_.step + 1,
                                              "; the last checkpoint is kept"));
    }
    optimizer_->zero_grad();
    out.loss.backward();
    interval_grad_norm_ += torch::nn::utils::clip_grad_norm_(parameters_, options_.max_grad_norm);
    optimizer_->step();
    ++state_.step;
    state_.tokens_seen += batch.num_tokens;
    const double seconds = absl::ToDoubleSeconds(env_.clock() - step_start);
    interval_.loss_sum += loss * static_cast<double>(out.num_targets);
    interval_.targets += out.num_targets;
    interval_.correct += out.num_correct;
    interval_seconds_ += seconds;
    step_seconds_ += seconds;
    interval_tokens_ += batch.num_tokens;
    run_tokens_ += batch.num_tokens;
    ++interval_steps_;
    return absl::OkStatus();
  }

  // Logs and records the averages since the previous report.
  void Report(int64_t last_step) {
    PretrainLogEntry entry;
    entry.step = state_.step;
    entry.learning_rate = last_lr_;
    entry.loss = interval_.loss();
    entry.accuracy = interval_.accuracy();
    entry.grad_norm =
        interval_grad_norm_ / static_cast<double>(std::max<int64_t>(1, interval_steps_));
    entry.tokens_per_second =
        interval_seconds_ > 0 ? static_cast<double>(interval_tokens_) / interval_seconds_ : 0.0;
    LogInfo(
        absl::StrFormat("step %d/%d  lr %.3g  loss %.4f  acc %.4f  grad_norm %.3f  tokens/s %.0f  "
                        "epoch %d (%.1f%%)  elapsed %s",
                        entry.step, last_step, entry.learning_rate, entry.loss, entry.accuracy,
                        entry.grad_norm, entry.tokens_per_second, state_.epoch,
                        100.0 * static_cast<double>(state_.epoch_position) /
                            static_cast<double>(data_.split.train.size()),
                        FormatDuration(Elapsed())));
    result_.log.push_back(entry);
    if (env_.on_log) env_.on_log(entry);
    interval_ = Metrics();
    interval_grad_norm_ = interval_seconds_ = 0;
    interval_tokens_ = interval_steps_ = 0;
  }

  // Loss and accuracy on the validation sequences with fixed masks, in eval mode.
  void Evaluate() {
    const std::vector<int64_t>& indices = data_.split.validation;
    torch::NoGradGuard no_grad;
    model_->eval();
    Metrics m;
    for (size_t begin = 0; begin < indices.size(); begin += options_.batch_size) {
      std::vector<MaskedSequence> sequences;
      for (size_t i = begin; i < std::min(indices.size(), begin + options_.batch_size); ++i) {
        sequences.push_back(
            MaskTokens(data_.corpus.sequence(indices[i]), *data_.masking_vocab, state_.masking,
                       MixSeed(state_.seed ^ kValidationMaskStream, 0, indices[i])));
      }
      const MlmOutput out = model_->Forward(MakeMlmBatch(sequences, data_.vocab->pad_id()));
      m.loss_sum += out.loss.item<double>() * static_cast<double>(out.num_targets);
      m.targets += out.num_targets;
      m.correct += out.num_correct;
    }
    model_->train();
    if (m.targets == 0) return;
    state_.validation_loss = m.loss();
    state_.validation_accuracy = m.accuracy();
    state_.validation_step = state_.step;
    LogInfo(absl::StrFormat("validation at step %d: loss %.4f, accuracy %.4f (%d targets)",
                            state_.step, m.loss(), m.accuracy(), m.targets));
  }

  absl::Status Save() {
    state_.train_seconds = base_seconds_ + Elapsed();
    return SavePretraining(options_.output_dir, model_, *optimizer_, *data_.vocab, state_);
  }

  const PretrainOptions& options_;
  const PretrainEnvironment& env_;
  const absl::Time start_;
  PretrainData data_;
  PretrainState state_;
  const double base_seconds_;  // train_seconds of earlier invocations.
  MlmModel model_;
  std::vector<torch::Tensor> parameters_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  std::vector<int64_t> order_;  // The current epoch's order of training sequences.
  PretrainResult result_;
  // Since the last report, and over the whole invocation.
  Metrics interval_;
  double last_lr_ = 0, interval_grad_norm_ = 0, interval_seconds_ = 0, step_seconds_ = 0;
  int64_t interval_tokens_ = 0, interval_steps_ = 0, run_tokens_ = 0;
};
}  // namespace

absl::StatusOr<PretrainResult> RunPretrainLoop(const PretrainOptions& options,
                                               const PretrainEnvironment& environment,
                                               absl::Time start, PretrainData data,
                                               PretrainState state,
                                               const EncoderConfig& encoder_config) {
  Run run(options, environment, start, std::move(data), std::move(state), encoder_config);
  return run.Execute();
}

}  // namespace ner::model
