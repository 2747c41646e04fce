// Fuzzes ParseSafetensors on whole files. Checks that a bad file fails with INVALID_ARGUMENT and
// that what parses keeps the RawTensor invariant and reads back the same after
// SerializeSafetensors (which must accept anything the parser accepted).

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fuzz/checkpoint_checks.h"
#include "fuzz/fuzz_util.h"
#include "model/safetensors.h"

namespace ner::fuzz {
namespace {

void FuzzSafetensors(std::string_view bytes) {
  std::map<std::string, std::string> metadata;
  const absl::StatusOr<model::RawTensorMap> tensors = model::ParseSafetensors(bytes, &metadata);
  if (!tensors.ok()) {
    FUZZ_CHECK(tensors.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  CheckTensorsRoundTrip(*tensors, metadata, /*must_serialize=*/true);
}

}  // namespace
}  // namespace ner::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ner::fuzz::FuzzSafetensors(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
