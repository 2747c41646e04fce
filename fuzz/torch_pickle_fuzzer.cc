// Fuzzes the pickle machine with the torch.save hooks: the input is the `data.pkl` of a
// checkpoint, which the harness packs into a valid archive next to fixed storages
// `archive/data/0` .. `archive/data/3` (256 bytes each), then runs ParseTorchCheckpoint. Checks
// that errors have the documented codes, that the tensors it returns are valid, stay within the
// reader's size budget and survive a safetensors round trip.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fuzz/checkpoint_checks.h"
#include "fuzz/fuzz_util.h"
#include "fuzz/stored_zip.h"
#include "model/torch_pickle.h"

namespace ner::fuzz {
namespace {

constexpr int kStorages = 4;
constexpr size_t kStorageBytes = 256;

// Storage k holds the bytes k, k + 1, k + 2, ... (mod 256), so copies from the wrong place show.
std::string StorageBytes(int k) {
  std::string bytes(kStorageBytes, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((k + i) & 0xFF);
  return bytes;
}

void FuzzTorchPickle(std::string_view pickle) {
  std::vector<std::pair<std::string, std::string>> entries = {
      {"archive/data.pkl", std::string(pickle)}};
  for (int k = 0; k < kStorages; ++k) {
    entries.emplace_back("archive/data/" + std::to_string(k), StorageBytes(k));
  }
  entries.emplace_back("archive/version", "3\n");
  const std::string zip = StoredZip(entries);

  const absl::StatusOr<model::RawTensorMap> tensors = model::ParseTorchCheckpoint(zip);
  if (!tensors.ok()) {
    const absl::StatusCode code = tensors.status().code();
    FUZZ_CHECK(code == absl::StatusCode::kInvalidArgument ||
               code == absl::StatusCode::kResourceExhausted);
    return;
  }
  CheckTensorsRoundTrip(*tensors, {}, /*must_serialize=*/false);
  // Stride-0 views may repeat storage elements, but only up to 4x the archive + 64 MiB.
  size_t total = 0;
  for (const auto& [name, tensor] : *tensors) total += tensor.data.size();
  FUZZ_CHECK(total <= 4 * zip.size() + (size_t{64} << 20));
}

}  // namespace
}  // namespace ner::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ner::fuzz::FuzzTorchPickle(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
