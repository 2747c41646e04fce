// Fuzzes the zip reader and, through it, whole torch.save checkpoints: ReadStoredZip, then
// ParseTorchCheckpoint on the same bytes. Checks that errors have the documented codes, that
// entries are views inside the archive, and that a checkpoint's tensors are valid and survive a
// safetensors round trip. (The archive's CRCs keep mutations away from the pickle; the
// torch_pickle target fuzzes that part.)

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fuzz/checkpoint_checks.h"
#include "fuzz/fuzz_util.h"
#include "model/torch_pickle.h"
#include "model/zip_archive.h"

namespace ner::fuzz {
namespace {

void FuzzZip(std::string_view bytes) {
  const absl::StatusOr<model::ZipEntries> entries = model::ReadStoredZip(bytes);
  if (entries.ok()) {
    for (const auto& [name, contents] : *entries) {
      FUZZ_CHECK(contents.data() >= bytes.data() &&
                 contents.data() + contents.size() <= bytes.data() + bytes.size());
    }
  } else {
    FUZZ_CHECK(entries.status().code() == absl::StatusCode::kInvalidArgument ||
               entries.status().code() == absl::StatusCode::kDataLoss);
  }

  const absl::StatusOr<model::RawTensorMap> tensors = model::ParseTorchCheckpoint(bytes);
  if (!tensors.ok()) {
    const absl::StatusCode code = tensors.status().code();
    FUZZ_CHECK(code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kDataLoss ||
               code == absl::StatusCode::kResourceExhausted);
    return;
  }
  FUZZ_CHECK(entries.ok());
  CheckTensorsRoundTrip(*tensors, {}, /*must_serialize=*/false);
}

}  // namespace
}  // namespace ner::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ner::fuzz::FuzzZip(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
