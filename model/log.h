#ifndef NER_MODEL_LOG_H_
#define NER_MODEL_LOG_H_

#include "absl/strings/string_view.h"

namespace ner {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Writes one line "2026-11-29T07:46:31.123Z I message" to stderr when `level` is at or above the
// threshold (default kInfo). Lines from different threads never interleave. Thread-safe.
void Log(LogLevel level, absl::string_view message);
inline void LogInfo(absl::string_view message) { Log(LogLevel::kInfo, message); }
inline void LogWarning(absl::string_view message) { Log(LogLevel::kWarning, message); }
inline void LogError(absl::string_view message) { Log(LogLevel::kError, message); }

// Sets the threshold. Thread-safe.
void SetLogLevel(LogLevel level);

}  // namespace ner

#endif  // NER_MODEL_LOG_H_
