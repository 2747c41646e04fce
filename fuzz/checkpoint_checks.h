#ifndef NER_FUZZ_CHECKPOINT_CHECKS_H_
#define NER_FUZZ_CHECKPOINT_CHECKS_H_

// Properties of what the checkpoint readers return, shared by their fuzz targets.

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fuzz/fuzz_util.h"
#include "model/raw_tensor.h"
#include "model/safetensors.h"

namespace ner::fuzz {

inline bool SameTensors(const model::RawTensorMap& a, const model::RawTensorMap& b) {
  if (a.size() != b.size()) return false;
  for (auto x = a.begin(), y = b.begin(); x != a.end(); ++x, ++y) {
    if (x->first != y->first || x->second.dtype != y->second.dtype ||
        x->second.shape != y->second.shape || x->second.data != y->second.data) {
      return false;
    }
  }
  return true;
}

// Every tensor a reader returns keeps the RawTensor invariant, and the tensors (with
// `metadata`) survive a safetensors round trip. Serializing may refuse only names and strings
// that safetensors cannot hold: not UTF-8, or "__metadata__" (a torch pickle may use any).
inline void CheckTensorsRoundTrip(const model::RawTensorMap& tensors,
                                  const std::map<std::string, std::string>& metadata,
                                  bool must_serialize) {
  for (const auto& [name, tensor] : tensors) FUZZ_CHECK(model::ValidateRawTensor(tensor).ok());
  const absl::StatusOr<std::string> bytes = model::SerializeSafetensors(tensors, metadata);
  FUZZ_CHECK(bytes.ok() || !must_serialize);
  if (!bytes.ok()) {
    FUZZ_CHECK(bytes.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  std::map<std::string, std::string> metadata_again;
  const absl::StatusOr<model::RawTensorMap> again =
      model::ParseSafetensors(*bytes, &metadata_again);
  FUZZ_CHECK(again.ok() && SameTensors(*again, tensors) && metadata_again == metadata);
}

}  // namespace ner::fuzz

#endif  // NER_FUZZ_CHECKPOINT_CHECKS_H_
