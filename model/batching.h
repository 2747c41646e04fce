#ifndef NER_MODEL_BATCHING_H_
#define NER_MODEL_BATCHING_H_

#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "model/entity.h"
#include "model/model_config.h"
#include "model/ner_model.h"
#include "model/tokenizer.h"

namespace ner::model {

// One training sequence: a segment of a labelled document as token ids with a label id each.
// Invariant: token_ids.size() == label_ids.size() >= 1; label ids index ModelConfig::labels.
struct LabelledSequence {
  std::vector<int64_t> token_ids;
  std::vector<int64_t> label_ids;
  int32_t num_chars = 0;  // code points of the segment (for characters/second)
};

// What happened while turning documents into sequences; reported once per dataset.
struct EncodingStats {
  int64_t documents = 0;
  int64_t sequences = 0;
  int64_t characters = 0;      // code points of all documents
  int64_t entities = 0;        // gold entities of all documents
  int64_t split_entities = 0;  // entities cut by a hard segment cut (SplitLongDocuments)
  int64_t widened = 0;         // entities widened to token bounds (CharSpansToTokenTags)
  int64_t dropped = 0;         // entities covering no token, or overlapping after widening
  int64_t unknown_labels = 0;  // token tags not among the model's labels (types the model
                               // lacks), trained as "O"
  int64_t empty_pieces = 0;    // segments without tokens (only whitespace), skipped
};

// Labelled documents -> training sequences for a model with `config` (its labels, scheme and
// SegmentChars()): documents longer than SegmentChars() are split with SplitLongDocuments, each
// piece is tokenized and its character-level entities become token tags (CharSpansToTokenTags,
// see label_alignment.h), then label ids. Sequences come out in document order. INVALID_ARGUMENT
// (naming the document id) for text that is not valid UTF-8. `stats` may be null. Thread-safe.
absl::StatusOr<std::vector<LabelledSequence>> EncodeDocuments(
    const std::vector<Document>& documents, const Tokenizer& tokenizer, const ModelConfig& config,
    EncodingStats* stats = nullptr);

// A 64-bit seed for stream `stream` (e.g. an epoch) of a run seeded with `seed` (SplitMix64 of
// both), so that every epoch's randomness is independent of how the run got there. Pure.
uint64_t DeriveSeed(uint64_t seed, uint64_t stream);

// Shuffles `indices` in place with Fisher-Yates over a std::mt19937_64 seeded with `seed`,
// drawing without std::uniform_int_distribution so that the order is the same with every
// standard library. Pure apart from the argument.
void SeededShuffle(std::vector<int64_t>& indices, uint64_t seed);

// The batches of one epoch as indices into `lengths` (the token count of each sequence):
// shuffle all indices with `seed`; cut them into pools of `pool_batches * batch_size`; sort each
// pool by length (stable); cut each pool into batches of `batch_size` (the pool's last batch may
// be smaller); shuffle the order of all batches with a seed derived from `seed`. Every index
// appears in exactly one batch. pool_batches = 1 gives plain shuffled batches. Same arguments ->
// same batches. Requires batch_size >= 1 and pool_batches >= 1. Pure; thread-safe.
std::vector<std::vector<int64_t>> PlanBatches(const std::vector<int64_t>& lengths, int batch_size,
                                              int pool_batches, uint64_t seed);

// Padding positions the batches carry: sum over batches of (longest * size - sum of lengths).
int64_t PaddingPositions(const std::vector<std::vector<int64_t>>& batches,
                         const std::vector<int64_t>& lengths);

// A padded training batch on a device.
struct TrainingBatch {
  TokenBatch input;        // token_ids [B, T] int64, mask [B, T] bool (right-padded)
  torch::Tensor tags;      // [B, T] int64 label ids, 0 at padded positions
  int64_t characters = 0;  // code points covered by the batch
  int64_t tokens = 0;      // real (unpadded) tokens
};

// Pads `sequences[indices]` to the longest of them and moves the tensors to `device`. Requires
// non-empty `indices` within range. Throws c10::Error from LibTorch.
TrainingBatch MakeTrainingBatch(const std::vector<LabelledSequence>& sequences,
                                const std::vector<int64_t>& indices, torch::Device device);

}  // namespace ner::model

#endif  // NER_MODEL_BATCHING_H_
