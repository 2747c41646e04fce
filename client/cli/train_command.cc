// `ner-client train`, `jobs`, `watch JOB`, `cancel JOB`: training jobs on the server.

#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/cli/commands.h"
#include "client/cli/progress.h"
#include "client/cli/terminal.h"
#include "client/status.h"

ABSL_FLAG(std::string, train, "", "train: training data, a path under the server's data root.");
ABSL_FLAG(std::string, dev, "", "train: development data, a path under the server's data root.");
ABSL_FLAG(std::string, data_format, "auto",
          "train, evaluate: format of the data files, auto, jsonl or char.");
ABSL_FLAG(std::string, variant, "",
          "train: bilstm-crf, bert-bilstm-crf, nezha-bilstm-crf or nezha-df-bilstm-crf (the "
          "default).");
ABSL_FLAG(std::string, output_model, "", "train: name to save (and serve) the model under.");
ABSL_FLAG(std::string, init_checkpoint, "",
          "train: pretrained encoder under the server's model root; empty = the server's.");
ABSL_FLAG(std::string, promote, "if_better", "train: serve the result: if_better, always, never.");
ABSL_FLAG(std::optional<int>, epochs, std::nullopt, "train: epochs; unset = the server default.");
ABSL_FLAG(std::optional<int>, batch_size, std::nullopt, "train: documents per step.");
ABSL_FLAG(std::optional<double>, encoder_lr, std::nullopt, "train: encoder learning rate.");
ABSL_FLAG(std::optional<double>, head_lr, std::nullopt, "train: head learning rate.");
ABSL_FLAG(std::optional<double>, warmup_ratio, std::nullopt, "train: warm-up share of steps.");
ABSL_FLAG(std::optional<uint64_t>, seed, std::nullopt, "train: random seed.");
ABSL_FLAG(std::optional<std::string>, preset, std::nullopt,
          "train: encoder shape without init checkpoint (nezha-tiny, nezha-base, ...).");
ABSL_FLAG(std::optional<std::string>, lr_decay, std::nullopt,
          "train: decay after warm-up, epoch (x decay_rate per epoch) or linear.");
ABSL_FLAG(std::optional<double>, decay_rate, std::nullopt, "train: the decay's factor.");
ABSL_FLAG(std::optional<double>, head_dropout, std::nullopt, "train: dropout around the BiLSTM.");
ABSL_FLAG(std::optional<int>, lstm_hidden, std::nullopt, "train: BiLSTM size per direction.");
ABSL_FLAG(std::optional<int>, char_embedding_dim, std::nullopt,
          "train: bilstm-crf character embedding width.");
ABSL_FLAG(std::optional<int>, bigram_buckets, std::nullopt,
          "train: bilstm-crf hashed bigram rows (0 = no bigram features).");
ABSL_FLAG(std::optional<int>, bigram_embedding_dim, std::nullopt,
          "train: bilstm-crf bigram embedding width.");
ABSL_FLAG(std::string, char_vectors, "",
          "train: bilstm-crf pretrained character vectors under the server's model root.");
ABSL_FLAG(std::string, bigram_vectors, "",
          "train: bilstm-crf pretrained bigram vectors under the server's model root.");
ABSL_FLAG(bool, detach, false, "train: print the job id once submitted and return.");

namespace ner::client::cli {

absl::StatusOr<v1::DataFormat> DataFormatFromFlag() {
  const std::string name = absl::GetFlag(FLAGS_data_format);
  if (name == "auto") return v1::DATA_FORMAT_UNSPECIFIED;
  if (name == "jsonl") return v1::DATA_FORMAT_JSONL;
  if (name == "char") return v1::DATA_FORMAT_CHAR_PER_LINE;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown --data_format \"", name, "\": use auto, jsonl or char"));
}

namespace {

absl::StatusOr<v1::PromotePolicy> PromoteFromFlag() {
  const std::string name = absl::GetFlag(FLAGS_promote);
  if (name == "if_better") return v1::PROMOTE_POLICY_IF_BETTER;
  if (name == "always") return v1::PROMOTE_POLICY_ALWAYS;
  if (name == "never") return v1::PROMOTE_POLICY_NEVER;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown --promote \"", name, "\": use if_better, always or never"));
}

std::string FormatTime(const google::protobuf::Timestamp& time) {
  if (time.seconds() == 0 && time.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixSeconds(time.seconds()),
                          absl::LocalTimeZone());
}

// Draws a job's events: a progress bar, a line per dev evaluation and per message.
class TrainWatcher {
 public:
  TrainWatcher(std::optional<int> epochs, bool detach)
      : epochs_(epochs), detach_(detach), line_(stderr, IsTerminal(stderr)) {}

  bool OnEvent(const v1::TrainEvent& event) {
    if (job_id_.empty()) {
      job_id_ = event.job_id();
      line_.Log(absl::StrCat("job ", job_id_, ": ", StateName(event.state())));
      if (detach_) return false;
    }
    if (event.has_dev_f1()) {
      // Past an evaluation (training the next epoch) the scores are the previous epoch's.
      const int epoch =
          event.phase() == v1::TRAIN_PHASE_TRAINING ? event.epoch() - 1 : event.epoch();
      if (epoch > evaluated_epoch_) {
        evaluated_epoch_ = epoch;
        line_.Log(FormatEvaluationLine(event, epoch));
      }
    }
    if (!event.message().empty() && event.message() != message_) {
      message_ = event.message();
      line_.Log(message_);
    }
    line_.Update(FormatTrainProgress(event, epochs_));
    return true;
  }

  void Done() { line_.Clear(); }

 private:
  std::optional<int> epochs_;
  bool detach_;
  StatusLine line_;
  std::string job_id_;
  int evaluated_epoch_ = 0;  // the last epoch whose dev scores were printed
  std::string message_;
};

// The outcome of a followed job as the command's result.
absl::Status FinalStatus(const v1::TrainEvent& last) {
  switch (last.state()) {
    case v1::TRAIN_JOB_STATE_SUCCEEDED:
      std::printf("job %s succeeded; checkpoint %s\n", last.job_id().c_str(),
                  last.checkpoint_path().c_str());
      return absl::OkStatus();
    case v1::TRAIN_JOB_STATE_FAILED: {
      const absl::Status error = FromRpcStatus(last.error());
      return absl::Status(error.code(),
                          absl::StrCat("job ", last.job_id(), " failed: ", error.message()));
    }
    case v1::TRAIN_JOB_STATE_CANCELLED:
      return absl::CancelledError(absl::StrCat("job ", last.job_id(), " was cancelled"));
    default:
      // Detached or stopped watching: the job goes on.
      std::printf("%s\n", last.job_id().c_str());
      return absl::OkStatus();
  }
}

std::optional<int> PlannedEpochs(const v1::TrainRequest& request) {
  if (request.hyperparameters().has_epochs()) return request.hyperparameters().epochs();
  return std::nullopt;
}

void JobRow(const v1::TrainJob& job, std::vector<std::string>* row) {
  const v1::TrainEvent& e = job.latest();
  *row = {job.job_id(),
          StateName(e.state()),
          PhaseName(e.phase()),
          absl::StrCat(e.epoch()),
          absl::StrCat(e.step(), "/", e.total_steps()),
          e.has_dev_f1() ? absl::StrFormat("%.4f", e.dev_f1()) : "-",
          job.request().output_model(),
          FormatTime(job.created_at()),
          absl::StrCat(job.restarts())};
}

}  // namespace

absl::Status RunTrain(const std::vector<std::string>& args) {
  if (!args.empty() || absl::GetFlag(FLAGS_train).empty() || absl::GetFlag(FLAGS_dev).empty() ||
      absl::GetFlag(FLAGS_output_model).empty()) {
    return absl::InvalidArgumentError(
        "usage: ner-client train --train PATH --dev PATH --output_model NAME [--variant V] "
        "[--epochs N] ... (paths under the server's data root)");
  }
  absl::StatusOr<v1::DataFormat> format = DataFormatFromFlag();
  if (!format.ok()) return format.status();
  absl::StatusOr<v1::PromotePolicy> promote = PromoteFromFlag();
  if (!promote.ok()) return promote.status();

  v1::TrainRequest request;
  request.set_variant(absl::GetFlag(FLAGS_variant));
  request.mutable_train()->set_path(absl::GetFlag(FLAGS_train));
  request.mutable_train()->set_format(*format);
  request.mutable_dev()->set_path(absl::GetFlag(FLAGS_dev));
  request.mutable_dev()->set_format(*format);
  request.set_output_model(absl::GetFlag(FLAGS_output_model));
  request.set_init_checkpoint(absl::GetFlag(FLAGS_init_checkpoint));
  request.set_promote(*promote);
  v1::Hyperparameters* h = request.mutable_hyperparameters();
  if (auto v = absl::GetFlag(FLAGS_epochs)) h->set_epochs(*v);
  if (auto v = absl::GetFlag(FLAGS_batch_size)) h->set_batch_size(*v);
  if (auto v = absl::GetFlag(FLAGS_encoder_lr)) h->set_encoder_lr(*v);
  if (auto v = absl::GetFlag(FLAGS_head_lr)) h->set_head_lr(*v);
  if (auto v = absl::GetFlag(FLAGS_warmup_ratio)) h->set_warmup_ratio(*v);
  if (auto v = absl::GetFlag(FLAGS_seed)) h->set_seed(*v);
  if (auto v = absl::GetFlag(FLAGS_preset)) h->set_preset(*v);
  if (auto v = absl::GetFlag(FLAGS_lr_decay)) h->set_lr_decay(*v);
  if (auto v = absl::GetFlag(FLAGS_decay_rate)) h->set_decay_rate(*v);
  if (auto v = absl::GetFlag(FLAGS_head_dropout)) h->set_head_dropout(*v);
  if (auto v = absl::GetFlag(FLAGS_lstm_hidden)) h->set_lstm_hidden(*v);
  if (auto v = absl::GetFlag(FLAGS_char_embedding_dim)) h->set_char_embedding_dim(*v);
  if (auto v = absl::GetFlag(FLAGS_bigram_buckets)) h->set_bigram_buckets(*v);
  if (auto v = absl::GetFlag(FLAGS_bigram_embedding_dim)) h->set_bigram_embedding_dim(*v);
  request.set_char_vectors(absl::GetFlag(FLAGS_char_vectors));
  request.set_bigram_vectors(absl::GetFlag(FLAGS_bigram_vectors));

  absl::StatusOr<std::unique_ptr<NerClient>> client = ClientFromFlags(absl::Seconds(30));
  if (!client.ok()) return client.status();
  TrainWatcher watcher(PlannedEpochs(request), absl::GetFlag(FLAGS_detach));
  absl::StatusOr<v1::TrainEvent> last = (*client)->Train(
      request, [&](const v1::TrainEvent& event) { return watcher.OnEvent(event); });
  watcher.Done();
  if (!last.ok()) return last.status();
  return FinalStatus(*last);
}

absl::Status RunWatch(const std::vector<std::string>& args) {
  if (args.size() != 1) return absl::InvalidArgumentError("usage: ner-client watch JOB");
  absl::StatusOr<std::unique_ptr<NerClient>> client = ClientFromFlags(absl::Seconds(30));
  if (!client.ok()) return client.status();
  absl::StatusOr<v1::TrainJob> job = (*client)->GetTrainJob(args[0]);
  if (!job.ok()) return job.status();
  TrainWatcher watcher(PlannedEpochs(job->request()), /*detach=*/false);
  absl::StatusOr<v1::TrainEvent> last = (*client)->WatchTrainJob(
      args[0], [&](const v1::TrainEvent& event) { return watcher.OnEvent(event); });
  watcher.Done();
  if (!last.ok()) return last.status();
  return FinalStatus(*last);
}

absl::Status RunJobs(const std::vector<std::string>& args) {
  if (args.size() > 1) return absl::InvalidArgumentError("usage: ner-client jobs [JOB]");
  absl::StatusOr<std::unique_ptr<NerClient>> client = ClientFromFlags(absl::Seconds(30));
  if (!client.ok()) return client.status();
  std::vector<v1::TrainJob> jobs;
  if (args.size() == 1) {
    absl::StatusOr<v1::TrainJob> job = (*client)->GetTrainJob(args[0]);
    if (!job.ok()) return job.status();
    jobs.push_back(*std::move(job));
  } else {
    absl::StatusOr<std::vector<v1::TrainJob>> all = (*client)->ListTrainJobs();
    if (!all.ok()) return all.status();
    jobs = *std::move(all);
  }
  if (absl::GetFlag(FLAGS_json)) {
    for (const v1::TrainJob& job : jobs) std::printf("%s\n", ToJson(job).c_str());
    return absl::OkStatus();
  }
  if (jobs.empty()) {
    std::printf("no training jobs\n");
    return absl::OkStatus();
  }
  std::vector<std::vector<std::string>> rows(jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) JobRow(jobs[i], &rows[i]);
  std::fputs(FormatTable({"job", "state", "phase", "epoch", "step", "dev F1", "output model",
                          "created", "restarts"},
                         rows)
                 .c_str(),
             stdout);
  if (args.size() == 1) {
    const v1::TrainEvent& e = jobs[0].latest();
    if (!e.message().empty()) std::printf("\n%s\n", e.message().c_str());
    if (!e.checkpoint_path().empty()) std::printf("checkpoint %s\n", e.checkpoint_path().c_str());
  }
  return absl::OkStatus();
}

absl::Status RunCancel(const std::vector<std::string>& args) {
  if (args.size() != 1) return absl::InvalidArgumentError("usage: ner-client cancel JOB");
  absl::StatusOr<std::unique_ptr<NerClient>> client = ClientFromFlags(absl::Seconds(30));
  if (!client.ok()) return client.status();
  absl::StatusOr<v1::TrainJob> job = (*client)->CancelTrainJob(args[0]);
  if (!job.ok()) return job.status();
  if (absl::GetFlag(FLAGS_json)) {
    std::printf("%s\n", ToJson(*job).c_str());
  } else {
    const v1::TrainJobState state = job->latest().state();
    std::printf("job %s: %s%s\n", job->job_id().c_str(), StateName(state).c_str(),
                IsFinalTrainState(state) ? " (already over)"
                                         : " (cancellation requested; it stops at its next step)");
  }
  return absl::OkStatus();
}

}  // namespace ner::client::cli
