// Fuzzes the JSON config parsers that are free of LibTorch: ParseEncoderConfig (a HuggingFace
// config.json) and ParseModelConfig (a checkpoint's config.json). Both get every input. Checks
// that they fail only with INVALID_ARGUMENT (no exception escapes, no undefined behaviour on
// huge or fractional numbers), that what they accept validates, and that ToJson() reads back
// to the same config.
//
// ParseTrainConfig is not fuzzed here: train_config.h includes adversarial.h, which needs
// LibTorch.

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fuzz/fuzz_util.h"
#include "model/encoder_config.h"
#include "model/model_config.h"

namespace ner::fuzz {
namespace {

void FuzzConfig(absl::string_view json) {
  const std::string_view text(json.data(), json.size());
  const absl::StatusOr<model::EncoderConfig> encoder = model::ParseEncoderConfig(text);
  if (encoder.ok()) {
    FUZZ_CHECK(encoder->Validate().ok());
    const absl::StatusOr<model::EncoderConfig> again = model::ParseEncoderConfig(encoder->ToJson());
    FUZZ_CHECK(again.ok() && again->ToJson() == encoder->ToJson());
  } else {
    FUZZ_CHECK(encoder.status().code() == absl::StatusCode::kInvalidArgument);
  }

  const absl::StatusOr<model::ModelConfig> config = model::ParseModelConfig(json);
  if (config.ok()) {
    FUZZ_CHECK(config->Validate().ok());
    const absl::StatusOr<model::ModelConfig> again = model::ParseModelConfig(config->ToJson());
    FUZZ_CHECK(again.ok() && again->ToJson() == config->ToJson());
  } else {
    FUZZ_CHECK(config.status().code() == absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace ner::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ner::fuzz::FuzzConfig(ner::fuzz::Bytes(data, size));
  return 0;
}
