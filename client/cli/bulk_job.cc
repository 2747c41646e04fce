#include "client/cli/bulk_job.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "client/cli/progress.h"
#include "client/cli/terminal.h"
#include "client/status.h"

namespace ner::client::cli {
namespace {

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// The output: appended record by record. stdout when the path is "-".
class OutputFile {
 public:
  ~OutputFile() { Close().IgnoreError(); }

  absl::Status Open(const std::string& path, bool truncate) {
    path_ = path;
    if (path == "-") {
      fd_ = STDOUT_FILENO;
      return absl::OkStatus();
    }
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0),
                 0644);
    if (fd_ < 0) return ErrnoError("cannot open output", path);
    owned_ = true;
    return absl::OkStatus();
  }

  // Writes one whole record (the kernel has it when this returns: a crash of this process
  // cannot lose it) and fsyncs about once a second.
  absl::Status Append(const std::string& record) {
    size_t written = 0;
    while (written < record.size()) {
      const ssize_t n = ::write(fd_, record.data() + written, record.size() - written);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoError("cannot write", path_);
      }
      written += static_cast<size_t>(n);
    }
    if (owned_ && absl::Now() - last_sync_ > absl::Seconds(1)) {
      ::fdatasync(fd_);
      last_sync_ = absl::Now();
    }
    return absl::OkStatus();
  }

  absl::Status Close() {
    if (!owned_) return absl::OkStatus();
    owned_ = false;
    const bool synced = ::fsync(fd_) == 0;
    const bool closed = ::close(fd_) == 0;
    if (!synced || !closed) return ErrnoError("cannot finish writing", path_);
    return absl::OkStatus();
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool owned_ = false;
  absl::Time last_sync_ = absl::Now();
};

// Rewrites `path` without the error records (and without a tail past `existing.valid_bytes`):
// a temporary file, fsync, rename, so that an interruption leaves the old file.
absl::Status RemoveErrorRecords(const std::string& path, const ExistingOutput& existing) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoError("cannot read", path);
  const std::string temp = absl::StrCat(path, ".tmp");
  {
    OutputFile out;
    if (absl::Status s = out.Open(temp, /*truncate=*/true); !s.ok()) return s;
    std::string buffer;
    uint64_t position = 0;
    auto copy_until = [&](uint64_t end) -> absl::Status {
      while (position < end) {
        buffer.resize(static_cast<size_t>(std::min<uint64_t>(end - position, 1 << 20)));
        in.seekg(static_cast<std::streamoff>(position));
        if (!in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()))) {
          return ErrnoError("cannot read", path);
        }
        if (absl::Status s = out.Append(buffer); !s.ok()) return s;
        position += buffer.size();
      }
      return absl::OkStatus();
    };
    for (const auto& [begin, end] : existing.error_ranges) {
      if (absl::Status s = copy_until(begin); !s.ok()) return s;
      position = end;
    }
    if (absl::Status s = copy_until(existing.valid_bytes); !s.ok()) return s;
    if (absl::Status s = out.Close(); !s.ok()) return s;
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) return ErrnoError("cannot replace", path);
  return absl::OkStatus();
}

int64_t CountCodePoints(absl::string_view text) {
  int64_t n = 0;
  for (const char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// Reads the existing output for resuming: the ids done. Repairs an unfinished tail and, for
// retry_errors, removes error records.
absl::Status PrepareOutput(const BulkConfig& config, absl::flat_hash_set<std::string>* done,
                           BulkSummary* summary) {
  struct stat info;
  if (::stat(config.output.c_str(), &info) != 0) return absl::OkStatus();  // a new file
  std::ifstream in(config.output, std::ios::binary);
  if (!in) return ErrnoError("cannot read output", config.output);
  absl::StatusOr<ExistingOutput> existing = ScanOutput(config.output_format, in, config.output);
  if (!existing.ok()) return existing.status();
  in.close();
  if (config.retry_errors && !existing->error_ranges.empty()) {
    if (absl::Status s = RemoveErrorRecords(config.output, *existing); !s.ok()) return s;
    summary->errors_removed = static_cast<int64_t>(existing->error_ranges.size());
    for (const std::string& id : existing->error_ids) existing->ids.erase(id);
  } else if (existing->total_bytes > existing->valid_bytes) {
    if (::truncate(config.output.c_str(), static_cast<off_t>(existing->valid_bytes)) != 0) {
      return ErrnoError("cannot repair (truncate)", config.output);
    }
  }
  summary->repaired_bytes = existing->total_bytes - existing->valid_bytes;
  *done = std::move(existing->ids);
  return absl::OkStatus();
}

}  // namespace

absl::Status RunBulk(NerClient& client, const BulkConfig& config, BulkSummary* summary) {
  *summary = BulkSummary();
  const absl::Time start = absl::Now();
  const bool resume = config.resume && config.output != "-";

  absl::flat_hash_set<std::string> done;
  if (resume) {
    if (absl::Status s = PrepareOutput(config, &done, summary); !s.ok()) return s;
  }
  absl::StatusOr<std::unique_ptr<InputReader>> reader =
      InputReader::Open(config.input, config.input_format);
  if (!reader.ok()) return reader.status();
  OutputFile output;
  if (absl::Status s = output.Open(config.output, /*truncate=*/!resume); !s.ok()) return s;

  StatusLine status_line(stderr, IsTerminal(stderr));
  uint64_t skipped_bytes = 0;  // input bytes of documents not sent
  auto show_progress = [&]() {
    if (!config.progress) return;
    BulkProgress progress;
    progress.processed = summary->recognized + summary->errors;
    progress.done = progress.processed + summary->already_done + summary->duplicate_ids;
    progress.errors = summary->errors;
    progress.characters = summary->characters;
    progress.total = (*reader)->total_lines();
    progress.elapsed = absl::Now() - start;
    if (const std::optional<uint64_t> total = (*reader)->total_bytes(); total && *total > 0) {
      const uint64_t consumed = (*reader)->bytes_read();
      progress.fraction = static_cast<double>(consumed) / static_cast<double>(*total);
      const double seconds = absl::ToDoubleSeconds(progress.elapsed);
      const double rate = static_cast<double>(consumed - skipped_bytes) / seconds;
      if (seconds > 1 && rate > 0) progress.eta = absl::Seconds((*total - consumed) / rate);
    }
    status_line.Update(FormatBulkProgress(progress));
  };

  auto write_record = [&](const std::string& record) -> absl::Status {
    if (absl::Status s = output.Append(record); !s.ok()) return s;
    if (config.on_record) config.on_record(*summary);
    show_progress();
    return absl::OkStatus();
  };
  auto count_error = [&](const absl::Status& error) {
    ++summary->errors;
    ++summary->errors_by_code[StatusCodeName(error.code())];
  };

  absl::flat_hash_set<std::string> seen;  // ids of this input
  int duplicate_warnings = 0;
  const DocumentSource source = [&]() -> absl::StatusOr<std::optional<v1::Document>> {
    for (;;) {
      const uint64_t before = (*reader)->bytes_read();
      absl::StatusOr<std::optional<InputDocument>> next = (*reader)->Next();
      if (!next.ok()) return next.status();
      if (!next->has_value()) return std::optional<v1::Document>();
      InputDocument& input = **next;
      ++summary->documents_read;
      const bool first = seen.insert(input.id).second;
      if (!first || done.contains(input.id)) {
        skipped_bytes += (*reader)->bytes_read() - before;
        if (first) {
          ++summary->already_done;
        } else {
          ++summary->duplicate_ids;
          if (++duplicate_warnings <= 10) {
            status_line.Log(absl::StrCat("line ", input.line, ": id \"", input.id,
                                         "\" came before in this input; skipped"));
          }
        }
        continue;
      }
      if (!input.error.ok()) {
        count_error(input.error);
        if (absl::Status s =
                write_record(FormatErrorRecord(config.output_format, input.id, input.error));
            !s.ok()) {
          return s;
        }
        continue;
      }
      v1::Document document;
      document.set_id(std::move(input.id));
      document.set_text(std::move(input.text));
      return std::optional<v1::Document>(std::move(document));
    }
  };
  const ResultSink sink = [&](BulkResult result) -> absl::Status {
    summary->retries += result.attempts - 1;
    const std::string& id = result.document.id();
    if (!result.result.ok()) {
      count_error(result.result.status());
      return write_record(FormatErrorRecord(config.output_format, id, result.result.status()));
    }
    ++summary->recognized;
    summary->characters += CountCodePoints(result.document.text());
    for (const v1::Entity& e : result.result->entities()) ++summary->entities_by_type[e.type()];
    summary->model = absl::StrCat(result.model_name, "@", result.model_version);
    return write_record(
        FormatResultRecord(config.output_format, id, result.document.text(), *result.result));
  };

  absl::Status status = client.RecognizeBulk(source, sink, config.stream);
  status_line.Clear();  // the summary follows
  if (absl::Status s = output.Close(); !s.ok() && status.ok()) status = s;
  summary->elapsed = absl::Now() - start;
  return status;
}

std::string FormatBulkSummary(const BulkSummary& s) {
  std::string out = absl::StrCat(s.documents_read, " documents read: ", s.recognized,
                                 " recognised, ", s.errors, " errors");
  if (!s.errors_by_code.empty()) {
    absl::StrAppend(&out, " (",
                    absl::StrJoin(s.errors_by_code, ", ",
                                  [](std::string* o, const auto& kv) {
                                    absl::StrAppend(o, kv.first, " ", kv.second);
                                  }),
                    ")");
  }
  absl::StrAppend(&out, ", ", s.already_done, " already in the output, ", s.duplicate_ids,
                  " duplicate ids skipped");
  int64_t entities = 0;
  for (const auto& [type, n] : s.entities_by_type) entities += n;
  absl::StrAppend(&out, "\n", entities, " entities");
  if (!s.entities_by_type.empty()) {
    absl::StrAppend(&out, ": ",
                    absl::StrJoin(s.entities_by_type, ", ", [](std::string* o, const auto& kv) {
                      absl::StrAppend(o, kv.first, " ", kv.second);
                    }));
  }
  const double seconds = absl::ToDoubleSeconds(s.elapsed);
  absl::StrAppend(&out, "\n", ShortDuration(s.elapsed));
  if (seconds > 0) {
    absl::StrAppend(
        &out, absl::StrFormat(", %.1f docs/s, %s chars/s", (s.recognized + s.errors) / seconds,
                              FormatCount(s.characters / seconds)));
  }
  if (s.retries > 0) absl::StrAppend(&out, ", ", s.retries, " retries");
  if (!s.model.empty()) absl::StrAppend(&out, "; model ", s.model);
  if (s.repaired_bytes > 0) {
    absl::StrAppend(&out, "\nrepaired the output: cut ", s.repaired_bytes,
                    " bytes of an unfinished record");
  }
  if (s.errors_removed > 0) {
    absl::StrAppend(&out, "\nremoved ", s.errors_removed, " error records to retry them");
  }
  return out;
}

}  // namespace ner::client::cli
