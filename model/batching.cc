#include "model/batching.h"

#include <torch/torch.h>

#include <algorithm>
#include <random>
#include <string>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "model/dataset.h"
#include "model/label_alignment.h"
#include "model/utf8.h"

namespace ner::model {

absl::StatusOr<std::vector<LabelledSequence>> EncodeDocuments(
    const std::vector<Document>& documents, const Tokenizer& tokenizer, const ModelConfig& config,
    EncodingStats* stats) {
  EncodingStats local;
  local.documents = static_cast<int64_t>(documents.size());
  for (const Document& doc : documents) {
    local.characters += CountCodePoints(doc.text);
    local.entities += static_cast<int64_t>(doc.entities.size());
  }
  std::unordered_map<std::string, int64_t> label_ids;
  for (size_t i = 0; i < config.labels.size(); ++i) {
    label_ids[config.labels[i]] = static_cast<int64_t>(i);
  }
  const std::vector<Document> pieces =
      SplitLongDocuments(documents, config.SegmentChars(), &local.split_entities);
  std::vector<LabelledSequence> sequences;
  sequences.reserve(pieces.size());
  for (const Document& piece : pieces) {
    absl::StatusOr<DecodedText> decoded = DecodeUtf8(piece.text);
    if (!decoded.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("document '", piece.id, "': ", decoded.status().message()));
    }
    const std::vector<Token> tokens = tokenizer.Tokenize(decoded->code_points);
    if (tokens.empty()) {
      ++local.empty_pieces;
      continue;
    }
    const TokenTags tags = CharSpansToTokenTags(tokens, piece.entities, config.scheme);
    local.widened += tags.widened;
    local.dropped += tags.dropped;
    LabelledSequence sequence;
    sequence.num_chars = static_cast<int32_t>(decoded->size());
    sequence.token_ids.reserve(tokens.size());
    sequence.label_ids.reserve(tokens.size());
    for (size_t t = 0; t < tokens.size(); ++t) {
      sequence.token_ids.push_back(tokens[t].id);
      auto it = label_ids.find(tags.tags[t]);
      if (it == label_ids.end()) ++local.unknown_labels;
      sequence.label_ids.push_back(it == label_ids.end() ? 0 : it->second);
    }
    sequences.push_back(std::move(sequence));
  }
  local.sequences = static_cast<int64_t>(sequences.size());
  if (stats != nullptr) *stats = local;
  return sequences;
}

uint64_t DeriveSeed(uint64_t seed, uint64_t stream) {
  // SplitMix64 finalizer over a mix of both words.
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

void SeededShuffle(std::vector<int64_t>& indices, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (size_t i = indices.size(); i > 1; --i) {
    // Unbiased draw in [0, i) by rejection: mt19937_64's output is fully specified.
    const uint64_t bound = static_cast<uint64_t>(i);
    const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t draw;
    do {
      draw = rng();
    } while (draw >= limit);
    std::swap(indices[i - 1], indices[draw % bound]);
  }
}

std::vector<std::vector<int64_t>> PlanBatches(const std::vector<int64_t>& lengths, int batch_size,
                                              int pool_batches, uint64_t seed) {
  std::vector<int64_t> order(lengths.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  SeededShuffle(order, DeriveSeed(seed, 0));
  const size_t pool = static_cast<size_t>(batch_size) * static_cast<size_t>(pool_batches);
  std::vector<std::vector<int64_t>> batches;
  for (size_t begin = 0; begin < order.size(); begin += pool) {
    const size_t end = std::min(order.size(), begin + pool);
    std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(begin),
                     order.begin() + static_cast<std::ptrdiff_t>(end),
                     [&](int64_t a, int64_t b) { return lengths[a] < lengths[b]; });
    for (size_t b = begin; b < end; b += static_cast<size_t>(batch_size)) {
      const size_t e = std::min(end, b + static_cast<size_t>(batch_size));
      batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(b),
                           order.begin() + static_cast<std::ptrdiff_t>(e));
    }
  }
  std::vector<int64_t> batch_order(batches.size());
  for (size_t i = 0; i < batch_order.size(); ++i) batch_order[i] = static_cast<int64_t>(i);
  SeededShuffle(batch_order, DeriveSeed(seed, 1));
  std::vector<std::vector<int64_t>> shuffled;
  shuffled.reserve(batches.size());
  for (int64_t i : batch_order) shuffled.push_back(std::move(batches[i]));
  return shuffled;
}

int64_t PaddingPositions(const std::vector<std::vector<int64_t>>& batches,
                         const std::vector<int64_t>& lengths) {
  int64_t padding = 0;
  for (const std::vector<int64_t>& batch : batches) {
    int64_t longest = 0;
    int64_t sum = 0;
    for (int64_t i : batch) {
      longest = std::max(longest, lengths[i]);
      sum += lengths[i];
    }
    padding += longest * static_cast<int64_t>(batch.size()) - sum;
  }
  return padding;
}

TrainingBatch MakeTrainingBatch(const std::vector<LabelledSequence>& sequences,
                                const std::vector<int64_t>& indices, torch::Device device) {
  TORCH_CHECK(!indices.empty(), "MakeTrainingBatch needs at least one sequence");
  int64_t longest = 0;
  for (int64_t i : indices) {
    TORCH_CHECK(i >= 0 && i < static_cast<int64_t>(sequences.size()), "sequence index ", i,
                " out of range");
    longest = std::max(longest, static_cast<int64_t>(sequences[i].token_ids.size()));
  }
  const auto batch = static_cast<int64_t>(indices.size());
  torch::Tensor ids = torch::zeros({batch, longest}, torch::kInt64);
  torch::Tensor tags = torch::zeros({batch, longest}, torch::kInt64);
  torch::Tensor mask = torch::zeros({batch, longest}, torch::kBool);
  auto ids_a = ids.accessor<int64_t, 2>();
  auto tags_a = tags.accessor<int64_t, 2>();
  auto mask_a = mask.accessor<bool, 2>();
  TrainingBatch out;
  for (int64_t b = 0; b < batch; ++b) {
    const LabelledSequence& s = sequences[indices[b]];
    TORCH_CHECK(!s.token_ids.empty() && s.token_ids.size() == s.label_ids.size(), "sequence ",
                indices[b], " has no tokens or mismatched labels");
    for (size_t t = 0; t < s.token_ids.size(); ++t) {
      ids_a[b][static_cast<int64_t>(t)] = s.token_ids[t];
      tags_a[b][static_cast<int64_t>(t)] = s.label_ids[t];
      mask_a[b][static_cast<int64_t>(t)] = true;
    }
    out.characters += s.num_chars;
    out.tokens += static_cast<int64_t>(s.token_ids.size());
  }
  out.input = TokenBatch{ids.to(device), mask.to(device)};
  out.tags = tags.to(device);
  return out;
}

}  // namespace ner::model
