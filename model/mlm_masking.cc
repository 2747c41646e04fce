#include "model/mlm_masking.h"

#include <cmath>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace ner::model {

absl::Status MaskingOptions::Validate() const {
  if (!(mask_prob > 0.0 && mask_prob <= 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat("mask_prob must be in (0, 1], got ", mask_prob));
  }
  if (!(mask_token >= 0.0 && random_token >= 0.0 && mask_token + random_token <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the [MASK] and random-token shares must be >= 0 and sum to <= 1, got ",
                     mask_token, " and ", random_token));
  }
  return absl::OkStatus();
}

MaskingVocab::MaskingVocab(const Vocab& vocab)
    : special_(vocab.size()), continuation_(vocab.size()), mask_id_(vocab.mask_id()) {
  for (int32_t id = 0; id < vocab.size(); ++id) {
    const std::string& token = vocab.Token(id);
    special_[id] = token.size() >= 3 && token.front() == '[' && token.back() == ']';
    continuation_[id] = !special_[id] && absl::StartsWith(token, "##");
    if (!special_[id] && !continuation_[id]) random_ids_.push_back(id);
  }
}

absl::Status MaskingVocab::set_random_ids(std::vector<int32_t> ids) {
  if (ids.empty()) return absl::InvalidArgumentError("the random-token pool is empty");
  for (int32_t id : ids) {
    if (is_special(id)) {
      return absl::InvalidArgumentError(
          absl::StrCat("random-token pool holds special or unknown id ", id));
    }
  }
  random_ids_ = std::move(ids);
  return absl::OkStatus();
}

uint64_t MlmRandom::Next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

uint64_t MlmRandom::Below(uint64_t n) {
  // Reject the top partial block of 2^64 so every residue is equally likely.
  const uint64_t limit = ~uint64_t{0} - (~uint64_t{0} % n + 1) % n;
  uint64_t x = Next();
  while (x > limit) x = Next();
  return x % n;
}

double MlmRandom::Fraction() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

uint64_t MixSeed(uint64_t a, uint64_t b, uint64_t c) {
  MlmRandom random(a);
  uint64_t h = random.Next();
  random = MlmRandom(h ^ b);
  h = random.Next();
  random = MlmRandom(h ^ c);
  return random.Next();
}

MaskedSequence MaskTokens(absl::Span<const int32_t> ids, const MaskingVocab& vocab,
                          const MaskingOptions& options, uint64_t seed) {
  MaskedSequence out;
  out.input_ids.assign(ids.begin(), ids.end());
  out.labels.assign(ids.size(), kIgnoreLabel);

  // Units to choose from: [begin, end) position ranges of one token or one whole word.
  std::vector<std::pair<int32_t, int32_t>> units;
  int64_t maskable = 0;
  for (int32_t i = 0; i < static_cast<int32_t>(ids.size()); ++i) {
    if (vocab.is_special(ids[i])) continue;
    ++maskable;
    const bool extends_previous = options.whole_word && vocab.is_continuation(ids[i]) &&
                                  !units.empty() && units.back().second == i;
    if (extends_previous) {
      units.back().second = i + 1;
    } else {
      units.emplace_back(i, i + 1);
    }
  }
  if (maskable == 0) return out;
  const int64_t wanted =
      std::max<int64_t>(1, std::llround(static_cast<double>(maskable) * options.mask_prob));

  MlmRandom random(seed);
  // Fisher-Yates with our generator, so the order is the same on every platform.
  for (size_t i = units.size(); i > 1; --i) {
    std::swap(units[i - 1], units[random.Below(i)]);
  }
  const auto& pool = vocab.random_ids();
  int64_t chosen = 0;
  for (const auto& [begin, end] : units) {
    if (chosen >= wanted) break;
    // A word that would overshoot is skipped, except that the first unit is always taken so a
    // sequence of only long words still gets a target.
    if (chosen > 0 && chosen + (end - begin) > wanted) continue;
    for (int32_t i = begin; i < end; ++i) {
      out.labels[i] = ids[i];
      const double r = random.Fraction();
      if (r < options.mask_token) {
        out.input_ids[i] = vocab.mask_id();
      } else if (r < options.mask_token + options.random_token && !pool.empty()) {
        out.input_ids[i] = pool[random.Below(pool.size())];
      }
    }
    chosen += end - begin;
  }
  return out;
}

}  // namespace ner::model
