#ifndef NER_MODEL_CHECKPOINT_H_
#define NER_MODEL_CHECKPOINT_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/model_config.h"
#include "model/ner_model.h"
#include "model/vocab.h"

namespace ner::model {

// The project's checkpoint: a directory holding
//   config.json        ModelConfig::ToJson(): variant, sizes, tag scheme, labels, provenance
//   vocab.txt          the vocabulary, one token per line
//   model.safetensors  every parameter and buffer of NerModel under its module path
//                      (e.g. "encoder.layers.0.query.weight", "crf.transitions")
// Safetensors only: no pickle, readable from any language.
struct Checkpoint {
  ModelConfig config;
  std::shared_ptr<const Vocab> vocab;
  NerModel model{nullptr};
};

struct LoadOptions {
  torch::Device device = torch::kCPU;
  // The transformer's dtype; the head and the CRF stay float32. bfloat16 is the fast CPU path.
  torch::Dtype encoder_dtype = torch::kFloat32;
};

// Every parameter and buffer of `model` under its module path: the names and tensors (shared with
// the model, not copied) that SaveCheckpoint writes and LoadCheckpoint expects.
std::map<std::string, torch::Tensor> ModelTensors(const NerModel& model);

// Writes `checkpoint` to `dir` atomically: everything goes into a sibling temp directory (each
// file fsynced), which then replaces `dir` in one rename (renameat2 RENAME_EXCHANGE when `dir`
// exists). An interrupted or failed save leaves `dir` as it was; the error names the step.
// Not thread-safe with respect to training the same model.
absl::Status SaveCheckpoint(const std::string& dir, const Checkpoint& checkpoint);

// Reads a checkpoint written by SaveCheckpoint. Any problem (missing file, bad JSON, invalid
// config, vocabulary size mismatch, corrupt or truncated weights, missing, unexpected or
// wrong-shape tensors) is a clear error Status, never a crash. The model is in eval mode on
// `options.device`.
absl::StatusOr<Checkpoint> LoadCheckpoint(const std::string& dir, const LoadOptions& options = {});

// Copies a published encoder (a HuggingFace-style directory with config.json and
// model.safetensors or pytorch_model.bin: NEZHA or BERT) into `model`'s encoder. The encoder
// configs must agree in shape. Ignored and unexpected names are appended to `log`.
absl::Status InitEncoderFromPretrained(const std::string& dir, NerModel& model,
                                       std::vector<std::string>* log = nullptr);

// Copies a pretrained encoder's word-embedding matrix (embeddings.word_embeddings.weight, bare or
// under "bert.", "nezha." or `ner pretrain`'s "encoder.", in the same kind of directory as
// InitEncoderFromPretrained reads) into a bilstm-crf model's character embeddings: pretrained
// character vectors for the model without an encoder. The shapes must agree ([vocab, hidden] =
// [vocab_size, char_embedding_dim]); otherwise INVALID_ARGUMENT naming both and `model` unchanged.
absl::Status InitCharEmbeddingsFromPretrained(const std::string& dir, NerModel& model);

}  // namespace ner::model

#endif  // NER_MODEL_CHECKPOINT_H_
