#ifndef NER_TOOLS_PROGRESS_BAR_H_
#define NER_TOOLS_PROGRESS_BAR_H_

#include <cstdio>
#include <string>

#include "absl/time/time.h"
#include "model/trainer_event.h"

namespace ner::tools {

// "45s", "3m12s", "1h02m".
std::string FormatEta(absl::Duration duration);

// The bar's text for a step event, at most `width` columns wide, e.g.
//   "epoch 2/8 [########........] 45/120 loss 1.234 lr 1.0e-04 12.3k chars/s ETA 3m12s best
//   F1 84.50"
// Pure.
std::string FormatProgressLine(const model::TrainEvent& event, int width);

// One line summarising an epoch's evaluation event, e.g.
//   "epoch 2/8 done: loss 1.234, dev P 85.10 R 84.00 F1 84.55 (best 84.55), ETA 3m12s". Pure.
std::string FormatEpochLine(const model::TrainEvent& event);

// Shows training progress on a stream (stderr). On a terminal, step events redraw one line in
// place (at most 10 times a second); epoch summaries, checkpoints and messages are logged as
// lines. Elsewhere (a file, a pipe, CI logs) only those lines appear: one per epoch plus
// messages. Not thread-safe: feed it from the training thread (TrainHooks::on_event).
class ProgressBar {
 public:
  ProgressBar(FILE* out, bool interactive);
  // A bar on stderr, interactive when stderr is a terminal.
  static ProgressBar ForStderr();

  void OnEvent(const model::TrainEvent& event);

 private:
  void ClearLine();
  void Log(const std::string& line);

  FILE* out_;
  bool interactive_;
  bool line_open_ = false;
  absl::Time last_draw_ = absl::InfinitePast();
};

}  // namespace ner::tools

#endif  // NER_TOOLS_PROGRESS_BAR_H_
