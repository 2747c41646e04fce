#ifndef NER_FUZZ_FUZZ_UTIL_H_
#define NER_FUZZ_FUZZ_UTIL_H_

// Helpers shared by the fuzz targets (fuzz/*_fuzzer.cc). Header-only, so that a target is one
// translation unit plus the libraries it exercises.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/utf8.h"

// Aborts with a message when a property a target checks does not hold. libFuzzer reports the
// abort as a crash and saves the input; the replay driver (replay_main.cc) dies and fails its
// ctest. Checked in every build type (never compiled out like assert).
#define FUZZ_CHECK(condition)                                   \
  do {                                                          \
    if (!(condition)) {                                         \
      ::ner::fuzz::CheckFailed(#condition, __FILE__, __LINE__); \
    }                                                           \
  } while (0)

namespace ner::fuzz {

[[noreturn]] inline void CheckFailed(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", file, line, condition);
  std::abort();
}

// The fuzz input as bytes. Debian's Abseil has its own string_view type, which the text
// pipeline takes.
inline absl::string_view Bytes(const uint8_t* data, size_t size) {
  return absl::string_view(reinterpret_cast<const char*>(data), size);
}

// Decodes `bytes` as UTF-8, turning every byte that does not begin a valid sequence into U+FFFD.
// The tokenizer and segmenter take decoded code points (valid scalar values); this lets every
// fuzz input reach them instead of only the valid UTF-8 ones.
inline std::u32string LossyDecodeUtf8(absl::string_view bytes) {
  if (absl::StatusOr<model::DecodedText> all = model::DecodeUtf8(bytes); all.ok()) {
    return std::move(all->code_points);
  }
  std::u32string out;
  size_t i = 0;
  while (i < bytes.size()) {
    const auto lead = static_cast<uint8_t>(bytes[i]);
    const size_t length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    if (i + length <= bytes.size()) {
      absl::StatusOr<model::DecodedText> one = model::DecodeUtf8(bytes.substr(i, length));
      if (one.ok() && one->size() == 1) {
        out.push_back(one->code_points[0]);
        i += length;
        continue;
      }
    }
    out.push_back(U'\uFFFD');
    ++i;
  }
  return out;
}

}  // namespace ner::fuzz

#endif  // NER_FUZZ_FUZZ_UTIL_H_
