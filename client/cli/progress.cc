#include "client/cli/progress.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "client/cli/terminal.h"

namespace ner::client::cli {

StatusLine::StatusLine(FILE* out, bool interactive, absl::Duration plain_interval)
    : out_(out),
      interactive_(interactive),
      plain_interval_(plain_interval),
      // A log gets its first plain status line only after an interval: short runs stay quiet.
      last_draw_(interactive ? absl::InfinitePast() : absl::Now()) {}

void StatusLine::Update(const std::string& text, bool force) {
  const absl::Time now = absl::Now();
  const absl::Duration interval = interactive_ ? absl::Milliseconds(100) : plain_interval_;
  if (!force && now - last_draw_ < interval) return;
  last_draw_ = now;
  if (interactive_) {
    // \r and "erase to the end of the line": the new text may be shorter than the old.
    std::fprintf(out_, "\r%s\033[K", text.c_str());
    shown_ = true;
  } else {
    std::fprintf(out_, "%s\n", text.c_str());
  }
  std::fflush(out_);
}

void StatusLine::Log(const std::string& line) {
  Clear();
  std::fprintf(out_, "%s\n", line.c_str());
  std::fflush(out_);
  // Redraw the status at the next Update.
  if (interactive_) last_draw_ = absl::InfinitePast();
}

void StatusLine::Clear() {
  if (interactive_ && shown_) {
    std::fprintf(out_, "\r\033[K");
    std::fflush(out_);
    shown_ = false;
  }
}

std::string Bar(double fraction, int width) {
  fraction = std::clamp(fraction, 0.0, 1.0);
  const int filled = static_cast<int>(fraction * width + 0.5);
  return absl::StrCat("[", std::string(static_cast<size_t>(filled), '#'),
                      std::string(static_cast<size_t>(width - filled), '.'), "]");
}

std::string FormatBulkProgress(const BulkProgress& progress) {
  std::string line;
  if (progress.fraction.has_value()) {
    absl::StrAppend(&line, Bar(*progress.fraction, 20),
                    absl::StrFormat(" %3.0f%% ", *progress.fraction * 100));
  }
  absl::StrAppend(&line, progress.done);
  if (progress.total.has_value()) absl::StrAppend(&line, "/", *progress.total);
  absl::StrAppend(&line, " docs");
  const double seconds = absl::ToDoubleSeconds(progress.elapsed);
  if (seconds > 0) {
    absl::StrAppend(&line, "  ", FormatCount(progress.processed / seconds), " docs/s  ",
                    FormatCount(progress.characters / seconds), " chars/s");
  }
  if (progress.eta.has_value()) absl::StrAppend(&line, "  ETA ", ShortDuration(*progress.eta));
  if (progress.errors > 0) absl::StrAppend(&line, "  ", progress.errors, " errors");
  return line;
}

std::string FormatTrainProgress(const v1::TrainEvent& event, std::optional<int> epochs) {
  std::string line = absl::StrCat("epoch ", event.epoch());
  if (epochs.has_value()) absl::StrAppend(&line, "/", *epochs);
  if (event.phase() != v1::TRAIN_PHASE_TRAINING) {
    absl::StrAppend(&line, " ", PhaseName(event.phase()));
  }
  if (event.total_steps() > 0) {
    absl::StrAppend(&line, " ", Bar(static_cast<double>(event.step()) / event.total_steps(), 20),
                    " step ", event.step(), "/", event.total_steps());
  }
  if (event.step() > 0) absl::StrAppend(&line, absl::StrFormat("  loss %.3f", event.loss()));
  if (event.chars_per_second() > 0) {
    absl::StrAppend(&line, "  ", FormatCount(event.chars_per_second()), " chars/s");
  }
  if (event.has_eta_seconds()) {
    absl::StrAppend(&line, "  ETA ", ShortDuration(absl::Seconds(event.eta_seconds())));
  }
  if (event.has_dev_f1()) absl::StrAppend(&line, absl::StrFormat("  dev F1 %.4f", event.dev_f1()));
  return line;
}

std::string FormatEvaluationLine(const v1::TrainEvent& event, int epoch) {
  return absl::StrFormat("epoch %d: dev P %.4f R %.4f F1 %.4f", epoch, event.dev_precision(),
                         event.dev_recall(), event.dev_f1());
}

std::string PhaseName(v1::TrainPhase phase) {
  switch (phase) {
    case v1::TRAIN_PHASE_QUEUED:
      return "queued";
    case v1::TRAIN_PHASE_PREPARING:
      return "preparing";
    case v1::TRAIN_PHASE_TRAINING:
      return "training";
    case v1::TRAIN_PHASE_EVALUATING:
      return "evaluating";
    case v1::TRAIN_PHASE_CHECKPOINTING:
      return "checkpointing";
    case v1::TRAIN_PHASE_PROMOTING:
      return "promoting";
    case v1::TRAIN_PHASE_DONE:
      return "done";
    case v1::TRAIN_PHASE_INTERRUPTED:
      return "interrupted";
    default:
      return "unknown";
  }
}

std::string StateName(v1::TrainJobState state) {
  switch (state) {
    case v1::TRAIN_JOB_STATE_PENDING:
      return "pending";
    case v1::TRAIN_JOB_STATE_RUNNING:
      return "running";
    case v1::TRAIN_JOB_STATE_SUCCEEDED:
      return "succeeded";
    case v1::TRAIN_JOB_STATE_FAILED:
      return "failed";
    case v1::TRAIN_JOB_STATE_CANCELLED:
      return "cancelled";
    default:
      return "unknown";
  }
}

}  // namespace ner::client::cli
