#include "bench/load/load_stats.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace ner::bench {
namespace {

double NearestRank(const std::vector<double>& sorted, double percent) {
  const size_t n = sorted.size();
  size_t rank = static_cast<size_t>(std::ceil(percent / 100.0 * static_cast<double>(n)));
  rank = std::clamp<size_t>(rank, 1, n);
  return sorted[rank - 1];
}

double Get(const MetricSamples& samples, const std::string& series) {
  const auto it = samples.find(series);
  return it == samples.end() ? 0.0 : it->second;
}

double Delta(const MetricSamples& before, const MetricSamples& after, const std::string& series) {
  return Get(after, series) - Get(before, series);
}

// Mean of a histogram over the window: delta(sum) / delta(count), 0 without observations.
double WindowMean(const MetricSamples& before, const MetricSamples& after,
                  const std::string& histogram) {
  const double count = Delta(before, after, histogram + "_count");
  return count > 0 ? Delta(before, after, histogram + "_sum") / count : 0.0;
}

// The value of label `name` in a series such as `x{code="OK",method="Recognize"}`; "" if absent.
std::string LabelValue(absl::string_view series, absl::string_view name) {
  const std::string key = absl::StrCat(name, "=\"");
  size_t at = series.find(key);
  // Match whole label names: preceded by '{' or ','.
  while (at != absl::string_view::npos && at > 0 && series[at - 1] != '{' &&
         series[at - 1] != ',') {
    at = series.find(key, at + 1);
  }
  if (at == absl::string_view::npos) return "";
  const size_t begin = at + key.size();
  const size_t end = series.find('"', begin);
  if (end == absl::string_view::npos) return "";
  return std::string(series.substr(begin, end - begin));
}

}  // namespace

LatencySummary SummarizeLatencies(std::vector<double> latencies_ms) {
  LatencySummary summary;
  if (latencies_ms.empty()) return summary;
  std::sort(latencies_ms.begin(), latencies_ms.end());
  summary.count = static_cast<int64_t>(latencies_ms.size());
  summary.mean_ms = std::accumulate(latencies_ms.begin(), latencies_ms.end(), 0.0) /
                    static_cast<double>(latencies_ms.size());
  summary.p50_ms = NearestRank(latencies_ms, 50);
  summary.p90_ms = NearestRank(latencies_ms, 90);
  summary.p99_ms = NearestRank(latencies_ms, 99);
  summary.max_ms = latencies_ms.back();
  return summary;
}

absl::StatusOr<MetricSamples> ParsePrometheusText(absl::string_view text) {
  MetricSamples samples;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    // The series ends at the closing brace of its labels (values may hold spaces) or, without
    // labels, at the first space.
    size_t series_end;
    const size_t brace = line.find('{');
    const size_t space = line.find(' ');
    if (brace != absl::string_view::npos && (space == absl::string_view::npos || brace < space)) {
      const size_t close = line.rfind('}');
      if (close == absl::string_view::npos || close < brace) {
        return absl::InvalidArgumentError(
            absl::StrCat("metrics line ", line_number, ": unterminated labels: ", line));
      }
      series_end = close + 1;
    } else {
      series_end = space;
    }
    if (series_end == absl::string_view::npos || series_end >= line.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("metrics line ", line_number, ": no value: ", line));
    }
    absl::string_view rest = absl::StripLeadingAsciiWhitespace(line.substr(series_end));
    // An optional timestamp follows the value.
    const absl::string_view value_text = rest.substr(0, rest.find(' '));
    double value;
    if (value_text == "+Inf") {
      value = HUGE_VAL;
    } else if (value_text == "-Inf") {
      value = -HUGE_VAL;
    } else if (!absl::SimpleAtod(value_text, &value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("metrics line ", line_number, ": not a number: ", line));
    }
    samples[std::string(line.substr(0, series_end))] = value;
  }
  return samples;
}

ServerBatchStats BatchStatsBetween(const MetricSamples& before, const MetricSamples& after) {
  ServerBatchStats stats;
  stats.batches = Delta(before, after, "ner_batch_size_count");
  stats.mean_pieces_per_batch = WindowMean(before, after, "ner_batch_size");
  stats.mean_tokens_per_batch = WindowMean(before, after, "ner_batch_tokens");
  stats.mean_batch_ms = 1000 * WindowMean(before, after, "ner_batch_latency_seconds");
  stats.mean_queue_wait_ms = 1000 * WindowMean(before, after, "ner_queue_wait_seconds");
  stats.mean_padding_ratio = WindowMean(before, after, "ner_batch_padding_ratio");
  for (const auto& [series, value] : after) {
    if (!absl::StartsWith(series, "ner_requests_total{")) continue;
    const double delta = value - Get(before, series);
    if (delta <= 0) continue;
    const std::string method = LabelValue(series, "method");
    if (method != "Recognize" && method != "RecognizeStream") continue;
    stats.requests_by_code[LabelValue(series, "code")] += delta;
  }
  stats.documents = Delta(before, after, "ner_documents_total");
  if (after.count("process_cpu_seconds_total") > 0) {
    stats.cpu_seconds = Delta(before, after, "process_cpu_seconds_total");
  }
  return stats;
}

}  // namespace ner::bench
