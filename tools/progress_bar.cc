#include "tools/progress_bar.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "model/log.h"

namespace ner::tools {
namespace {

using Phase = model::TrainEvent::Phase;

std::string Throughput(double chars_per_second) {
  if (chars_per_second >= 1e4) return absl::StrFormat("%.1fk chars/s", chars_per_second / 1e3);
  return absl::StrFormat("%.0f chars/s", chars_per_second);
}

}  // namespace

std::string FormatEta(absl::Duration duration) {
  const int64_t seconds = std::max<int64_t>(0, absl::ToInt64Seconds(duration));
  if (seconds < 60) return absl::StrCat(seconds, "s");
  if (seconds < 3600) return absl::StrFormat("%dm%02ds", seconds / 60, seconds % 60);
  return absl::StrFormat("%dh%02dm", seconds / 3600, (seconds % 3600) / 60);
}

std::string FormatProgressLine(const model::TrainEvent& event, int width) {
  const std::string head = absl::StrFormat("epoch %d/%d ", event.epoch, event.epochs);
  std::string tail =
      absl::StrFormat(" %d/%d loss %.4f lr %.1e %s", event.epoch_step, event.steps_per_epoch,
                      event.loss, event.learning_rate, Throughput(event.chars_per_second));
  if (event.step > 0) absl::StrAppend(&tail, " ETA ", FormatEta(event.eta));
  if (event.best_dev_f1)
    absl::StrAppend(&tail, absl::StrFormat(" best F1 %.2f", 100 * *event.best_dev_f1));
  const int room = width - static_cast<int>(head.size() + tail.size()) - 2;
  std::string bar;
  if (room >= 10) {
    const int cells = std::min(room, 30);
    const double done = event.steps_per_epoch > 0
                            ? static_cast<double>(event.epoch_step) / event.steps_per_epoch
                            : 0.0;
    const int filled = std::clamp(static_cast<int>(std::lround(done * cells)), 0, cells);
    bar = absl::StrCat("[", std::string(filled, '#'), std::string(cells - filled, '.'), "]");
  }
  std::string line = absl::StrCat(head, bar, tail);
  if (static_cast<int>(line.size()) > width) line.resize(std::max(0, width));
  return line;
}

std::string FormatEpochLine(const model::TrainEvent& event) {
  std::string line =
      absl::StrFormat("epoch %d/%d done: loss %.4f", event.epoch, event.epochs, event.loss);
  if (event.dev) {
    absl::StrAppend(&line,
                    absl::StrFormat(", dev P %.2f R %.2f F1 %.2f", 100 * event.dev->precision,
                                    100 * event.dev->recall, 100 * event.dev->f1));
    if (event.best_dev_f1) {
      absl::StrAppend(&line, absl::StrFormat(" (best %.2f)", 100 * *event.best_dev_f1));
    }
  }
  absl::StrAppend(&line, ", step ", event.step, "/", event.total_steps);
  if (event.chars_per_second > 0) {
    absl::StrAppend(&line, absl::StrFormat(", %.0f chars/s", event.chars_per_second));
  }
  if (event.step < event.total_steps) absl::StrAppend(&line, ", ETA ", FormatEta(event.eta));
  if (!event.message.empty()) absl::StrAppend(&line, " (", event.message, ")");
  return line;
}

ProgressBar::ProgressBar(FILE* out, bool interactive) : out_(out), interactive_(interactive) {}

ProgressBar ProgressBar::ForStderr() { return ProgressBar(stderr, ::isatty(STDERR_FILENO) == 1); }

void ProgressBar::ClearLine() {
  if (!line_open_) return;
  std::fputs("\r\033[K", out_);
  std::fflush(out_);
  line_open_ = false;
}

void ProgressBar::Log(const std::string& line) {
  ClearLine();
  LogInfo(line);
}

void ProgressBar::OnEvent(const model::TrainEvent& event) {
  switch (event.phase) {
    case Phase::kStep: {
      const absl::Time now = absl::Now();
      if (!interactive_) {
        // A log file gets a progress line every 30 seconds instead of a redrawn bar.
        if (now - last_draw_ < absl::Seconds(30)) return;
        last_draw_ = now;
        LogInfo(FormatProgressLine(event, 160));
        return;
      }
      if (now - last_draw_ < absl::Milliseconds(100) && event.epoch_step != event.steps_per_epoch) {
        return;
      }
      last_draw_ = now;
      std::fprintf(out_, "\r\033[K%s", FormatProgressLine(event, 120).c_str());
      std::fflush(out_);
      line_open_ = true;
      return;
    }
    case Phase::kEvaluated:
      Log(FormatEpochLine(event));
      return;
    case Phase::kCheckpoint:
      Log(absl::StrCat("saved ", event.checkpoint_path,
                       event.message.empty() ? "" : absl::StrCat(" (", event.message, ")")));
      return;
    case Phase::kInfo:
    case Phase::kStarted:
    case Phase::kFinished:
    case Phase::kCancelled:
      Log(event.message);
      return;
  }
}

}  // namespace ner::tools
