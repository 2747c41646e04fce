#ifndef NER_MODEL_SAFETENSORS_H_
#define NER_MODEL_SAFETENSORS_H_

// The safetensors checkpoint format (https://github.com/huggingface/safetensors): an 8-byte
// little-endian header length N, N bytes of JSON mapping each tensor name to
// {"dtype", "shape", "data_offsets": [begin, end)} (offsets relative to the data buffer that
// follows the header) plus an optional "__metadata__" string map, then the raw data.
//
// Readers validate everything and never crash, whatever the input: they are meant to be fuzzed.

#include <map>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/raw_tensor.h"

namespace ner::model {

// Upper bound on the JSON header, as in the reference implementation.
inline constexpr int64_t kMaxSafetensorsHeaderBytes = 100'000'000;

// Parses a whole safetensors file held in memory. On success returns every tensor (data copied
// out of `bytes`) and, when `metadata` is not null, replaces *metadata with the "__metadata__"
// map (empty if absent). Errors are INVALID_ARGUMENT naming the problem (header length, JSON,
// entry name, offsets, ...). Tensors may be stored in any order and leave gaps, but may not
// overlap. Thread-safe.
absl::StatusOr<RawTensorMap> ParseSafetensors(
    std::string_view bytes, std::map<std::string, std::string>* metadata = nullptr);

// Reads and parses the safetensors file at `path`; as ParseSafetensors, with the path in every
// error message (NOT_FOUND when the file is missing). Thread-safe.
absl::StatusOr<RawTensorMap> ReadSafetensors(
    const std::string& path, std::map<std::string, std::string>* metadata = nullptr);

// Serializes `tensors` and `metadata` to safetensors bytes. The header is padded with spaces to a
// multiple of 8 bytes and tensors are laid out by decreasing element size, then name, so every
// tensor is aligned to its element size. INVALID_ARGUMENT when a tensor breaks the RawTensor
// invariant, a name is "__metadata__", or a string is not valid UTF-8. Thread-safe.
absl::StatusOr<std::string> SerializeSafetensors(
    const RawTensorMap& tensors, const std::map<std::string, std::string>& metadata = {});

// Writes `tensors` and `metadata` to `path` atomically: the bytes go to `<path>.tmp.<pid>` in the
// same directory, which is fsynced, renamed over `path`, and the directory fsynced. On any failure
// the temporary file is removed, an error naming the path and the failing step is returned, and
// a previous file at `path` is left intact. Not safe to call concurrently for the same `path`
// from one process; concurrent calls for different paths are fine.
absl::Status WriteSafetensors(const std::string& path, const RawTensorMap& tensors,
                              const std::map<std::string, std::string>& metadata = {});

}  // namespace ner::model

#endif  // NER_MODEL_SAFETENSORS_H_
