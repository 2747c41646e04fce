#include "bench/load/report.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace ner::bench {
namespace {

double PerSecond(double count, absl::Duration elapsed) {
  const double seconds = absl::ToDoubleSeconds(elapsed);
  return seconds > 0 ? count / seconds : 0.0;
}

const char* ModeName(CallMode mode) { return mode == CallMode::kUnary ? "unary" : "stream"; }

double MsPer(double seconds, double count) { return count > 0 ? 1000 * seconds / count : 0.0; }

}  // namespace

std::string FormatReport(const RunReport& report) {
  const LoadResult& r = report.result;
  const LatencySummary latency = SummarizeLatencies(r.latencies_ms);
  std::string out = absl::StrFormat(
      "ner-bench: %s, %s, concurrency %d over %d channel(s), %d document(s) per request, "
      "%s measured after %s warm-up (%d distinct documents)\n",
      report.target, ModeName(report.options.mode), report.options.concurrency, report.channels,
      report.options.documents_per_request, absl::FormatDuration(r.elapsed),
      absl::FormatDuration(report.options.warmup), report.distinct_documents);
  absl::StrAppendFormat(
      &out, "  throughput  %.1f documents/s, %.0f characters/s (%d documents, %d entities)\n",
      PerSecond(r.documents_ok, r.elapsed), PerSecond(r.characters_ok, r.elapsed), r.documents_ok,
      r.entities);
  absl::StrAppendFormat(&out,
                        "  latency     p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms, mean "
                        "%.2f ms (%d requests)\n",
                        latency.p50_ms, latency.p90_ms, latency.p99_ms, latency.max_ms,
                        latency.mean_ms, latency.count);
  std::string errors;
  for (const auto& [code, n] : r.errors) {
    absl::StrAppend(&errors, errors.empty() ? "" : ", ", code, " ", n);
  }
  absl::StrAppend(&out, "  errors      ", errors.empty() ? "none" : errors, "\n");
  if (!r.error_latencies_ms.empty()) {
    const LatencySummary failed = SummarizeLatencies(r.error_latencies_ms);
    absl::StrAppendFormat(&out,
                          "  failed in   p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d requests)\n",
                          failed.p50_ms, failed.p99_ms, failed.max_ms, failed.count);
  }
  if (report.server.has_value()) {
    const ServerBatchStats& s = *report.server;
    absl::StrAppendFormat(&out,
                          "  server      %.0f batches, %.1f pieces and %.0f tokens per batch, "
                          "model %.2f ms per batch, queue wait %.2f ms, padding %.1f%%\n",
                          s.batches, s.mean_pieces_per_batch, s.mean_tokens_per_batch,
                          s.mean_batch_ms, s.mean_queue_wait_ms, 100 * s.mean_padding_ratio);
  }
  const double window = absl::ToDoubleSeconds(report.window);
  if (window > 0) {
    // Cores busy on average, and CPU per document recognised: what a document costs the machine
    // (a stream carries many documents per call).
    absl::StrAppendFormat(&out, "  cpu         load generator %.2f cores",
                          report.client_cpu_seconds / window);
    if (report.server.has_value() && report.server->cpu_seconds.has_value()) {
      const double documents = report.server->documents;
      absl::StrAppendFormat(
          &out, " (%.3f ms per document); server %.2f cores (%.3f ms per document)",
          MsPer(report.client_cpu_seconds, documents), *report.server->cpu_seconds / window,
          MsPer(*report.server->cpu_seconds, documents));
    }
    absl::StrAppendFormat(&out, ", over %.1f s with the warm-up\n", window);
  }
  return out;
}

std::string ReportJson(const RunReport& report) {
  const LoadResult& r = report.result;
  const LatencySummary latency = SummarizeLatencies(r.latencies_ms);
  nlohmann::json json = {
      {"target", report.target},
      {"mode", ModeName(report.options.mode)},
      {"concurrency", report.options.concurrency},
      {"channels", report.channels},
      {"documents_per_request", report.options.documents_per_request},
      {"distinct_documents", report.distinct_documents},
      {"elapsed_seconds", absl::ToDoubleSeconds(r.elapsed)},
      {"documents_ok", r.documents_ok},
      {"characters_ok", r.characters_ok},
      {"entities", r.entities},
      {"documents_per_second", PerSecond(r.documents_ok, r.elapsed)},
      {"characters_per_second", PerSecond(r.characters_ok, r.elapsed)},
      {"errors", r.errors},
      {"latency_ms",
       {{"count", latency.count},
        {"mean", latency.mean_ms},
        {"p50", latency.p50_ms},
        {"p90", latency.p90_ms},
        {"p99", latency.p99_ms},
        {"max", latency.max_ms}}},
  };
  if (!r.error_latencies_ms.empty()) {
    const LatencySummary failed = SummarizeLatencies(r.error_latencies_ms);
    json["failed_latency_ms"] = {{"count", failed.count},
                                 {"p50", failed.p50_ms},
                                 {"p99", failed.p99_ms},
                                 {"max", failed.max_ms}};
  }
  if (report.server.has_value()) {
    const ServerBatchStats& s = *report.server;
    json["server"] = {{"batches", s.batches},
                      {"mean_pieces_per_batch", s.mean_pieces_per_batch},
                      {"mean_tokens_per_batch", s.mean_tokens_per_batch},
                      {"mean_batch_ms", s.mean_batch_ms},
                      {"mean_queue_wait_ms", s.mean_queue_wait_ms},
                      {"mean_padding_ratio", s.mean_padding_ratio},
                      {"requests_by_code", s.requests_by_code},
                      {"documents", s.documents}};
    if (s.cpu_seconds.has_value()) {
      json["server"]["cpu_seconds"] = *s.cpu_seconds;
      json["server"]["cpu_ms_per_document"] = MsPer(*s.cpu_seconds, s.documents);
    }
  }
  if (report.window > absl::ZeroDuration()) {
    json["client_cpu"] = {{"window_seconds", absl::ToDoubleSeconds(report.window)},
                          {"cpu_seconds", report.client_cpu_seconds}};
  }
  return json.dump();
}

}  // namespace ner::bench
