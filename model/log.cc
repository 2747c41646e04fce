#include "model/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace ner {
namespace {

std::atomic<int> g_threshold{static_cast<int>(LogLevel::kInfo)};

char LevelLetter(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return 'D';
    case LogLevel::kInfo:
      return 'I';
    case LogLevel::kWarning:
      return 'W';
    case LogLevel::kError:
      return 'E';
  }
  return '?';
}

}  // namespace

void Log(LogLevel level, absl::string_view message) {
  if (static_cast<int>(level) < g_threshold.load(std::memory_order_relaxed)) return;
  std::string line =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ ", absl::Now(), absl::UTCTimeZone());
  line.push_back(LevelLetter(level));
  line.push_back(' ');
  line.append(message.data(), message.size());
  line.push_back('\n');
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

void SetLogLevel(LogLevel level) { g_threshold.store(static_cast<int>(level)); }

}  // namespace ner
