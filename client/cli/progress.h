#ifndef NER_CLIENT_CLI_PROGRESS_H_
#define NER_CLIENT_CLI_PROGRESS_H_

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "ner/v1/ner.pb.h"

namespace ner::client::cli {

// A status line on `out` (stderr). Interactive (a terminal): redrawn in place at most 10 times a
// second, with Log() lines printed above it. Otherwise (a file, a pipe, CI logs): the status is
// printed as a plain line once per `plain_interval` (the first one interval after the start).
// Not thread-safe.
class StatusLine {
 public:
  StatusLine(FILE* out, bool interactive, absl::Duration plain_interval = absl::Seconds(30));
  ~StatusLine() { Clear(); }

  // Shows `text` unless the last draw was too recent (`force` draws anyway).
  void Update(const std::string& text, bool force = false);
  // Prints a permanent line.
  void Log(const std::string& line);
  // Removes the status line (interactive).
  void Clear();

 private:
  FILE* out_;
  bool interactive_;
  absl::Duration plain_interval_;
  bool shown_ = false;
  absl::Time last_draw_;
};

// "[########............]" with `width` cells filled by `fraction` in [0, 1]. Pure.
std::string Bar(double fraction, int width);

// Where a bulk run stands.
struct BulkProgress {
  int64_t done = 0;                   // documents with a record (this run and earlier ones)
  int64_t processed = 0;              // of them, sent by this run
  int64_t errors = 0;                 // error records of this run
  int64_t characters = 0;             // code points recognised by this run
  std::optional<int64_t> total;       // input lines, when known
  std::optional<double> fraction;     // share of the input consumed, when its size is known
  std::optional<absl::Duration> eta;  // time left, when known
  absl::Duration elapsed;
};

// e.g. "[#####.....] 45% 2250/5000 docs  250 docs/s  4.1k chars/s  ETA 11s  3 errors". Pure.
std::string FormatBulkProgress(const BulkProgress& progress);

// The training bar, e.g.
//   "epoch 2/8 [####........] step 120/478  loss 3.100  9.0k chars/s  ETA 41s"
// (`epochs` = the planned epochs when known). Pure.
std::string FormatTrainProgress(const v1::TrainEvent& event, std::optional<int> epochs);

// The line for a dev evaluation, e.g. "epoch 1: dev P 0.9100 R 0.9050 F1 0.9075". Pure.
std::string FormatEvaluationLine(const v1::TrainEvent& event, int epoch);

// "queued", "preparing", "training", ... for a phase; "pending", "running", "succeeded", ...
// for a state. Pure.
std::string PhaseName(v1::TrainPhase phase);
std::string StateName(v1::TrainJobState state);

}  // namespace ner::client::cli

#endif  // NER_CLIENT_CLI_PROGRESS_H_
