#include "model/skipgram.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <future>
#include <numeric>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "model/cpu_clones.h"
#include "model/utf8.h"

namespace ner::model {
namespace {

constexpr int32_t kBoundary = -1;
constexpr int kNegativeTableBits = 22;
constexpr float kMaxLogit = 8.0f;         // beyond this the sigmoid is 0 or 1 to float precision
constexpr int64_t kProgressBlock = 8192;  // positions between shared-counter updates

// splitmix64: small, fast and well mixed; one per worker and epoch.
struct Random {
  uint64_t state;
  uint64_t Next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  float Uniform() { return static_cast<float>(Next() >> 40) * (1.0f / 16777216.0f); }
  int32_t Below(int32_t n) { return static_cast<int32_t>((Next() >> 33) % n); }
};

uint64_t PairKey(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

// One positive or negative pair: `in` [dim] against `out` [dim], label 1/0, step `alpha`.
// Accumulates the input's gradient in `grad` and updates `out` in place.
NER_CPU_CLONES void UpdatePair(const float* in, float* out, float* grad, int32_t dim, float label,
                               float alpha) {
  float dot = 0;
  for (int32_t d = 0; d < dim; ++d) dot += in[d] * out[d];
  float sigma;
  if (dot > kMaxLogit) {
    sigma = 1;
  } else if (dot < -kMaxLogit) {
    sigma = 0;
  } else {
    sigma = 1.0f / (1.0f + std::exp(-dot));
  }
  const float g = (label - sigma) * alpha;
  if (g == 0) return;
  for (int32_t d = 0; d < dim; ++d) grad[d] += g * out[d];
  for (int32_t d = 0; d < dim; ++d) out[d] += g * in[d];
}

// One embedding table being trained: input rows (the vectors kept), output rows over characters.
struct Table {
  int32_t dim = 0;
  std::vector<float> in;   // [rows, dim]
  std::vector<float> out;  // [vocab, dim]
};

// Word2vec's keep probability for a token of frequency count/total under threshold `sample`.
float KeepProbability(int64_t count, int64_t total, double sample) {
  if (sample <= 0 || count == 0) return 1.0f;
  const double threshold = sample * static_cast<double>(total);
  const double p = (std::sqrt(count / threshold) + 1) * threshold / count;
  return static_cast<float>(std::min(1.0, p));
}

struct Shared {
  const SkipGramOptions* options;
  const std::vector<int32_t>* stream;     // token ids, kBoundary between segments
  const std::vector<int32_t>* bigram_at;  // bigram row of (i, i+1), -1 when none
  const std::vector<float>* char_keep;    // keep probability per vocabulary id
  const std::vector<float>* bigram_keep;  // per bigram row
  const std::vector<int32_t>* negatives;  // 2^kNegativeTableBits ids
  Table* chars;
  Table* bigrams;  // dim 0 when off
  std::atomic<int64_t>* done;
  int64_t total;
  const std::atomic<bool>* cancel;
};

// Trains on stream positions [begin, end) for one epoch. Returns false when cancelled.
bool Work(const Shared& s, int64_t begin, int64_t end, uint64_t seed) {
  const SkipGramOptions& o = *s.options;
  const std::vector<int32_t>& stream = *s.stream;
  const int64_t size = static_cast<int64_t>(stream.size());
  Random random{seed};
  std::vector<float> grad(std::max(s.chars->dim, s.bigrams->dim));
  const float alpha0 = static_cast<float>(o.learning_rate);
  float alpha = alpha0;
  int64_t local = 0;
  // One context for the input row `row` of `table`: the positive pair and `negative` samples.
  auto train = [&](Table& table, float* row, int32_t context) {
    const int32_t dim = table.dim;
    std::fill(grad.begin(), grad.begin() + dim, 0.0f);
    UpdatePair(row, table.out.data() + static_cast<int64_t>(context) * dim, grad.data(), dim, 1.0f,
               alpha);
    for (int32_t k = 0; k < o.negative; ++k) {
      const int32_t sample = (*s.negatives)[random.Next() >> (64 - kNegativeTableBits)];
      if (sample == context) continue;
      UpdatePair(row, table.out.data() + static_cast<int64_t>(sample) * dim, grad.data(), dim, 0.0f,
                 alpha);
    }
    for (int32_t d = 0; d < dim; ++d) row[d] += grad[d];
  };
  for (int64_t i = begin; i < end; ++i) {
    if (++local == kProgressBlock) {
      const int64_t done = s.done->fetch_add(local) + local;
      local = 0;
      alpha = alpha0 * std::max(1e-4f, 1.0f - static_cast<float>(done) / s.total);
      if (s.cancel != nullptr && s.cancel->load(std::memory_order_relaxed)) return false;
    }
    const int32_t center = stream[i];
    if (center == kBoundary) continue;
    const int32_t reach = 1 + random.Below(o.window);
    // Trains `row` of `table` against the kept characters from i - 1 down to i - reach and from
    // `right` up to `right_end`, each side stopping at a boundary.
    auto window = [&](Table& table, float* row, int64_t right, int64_t right_end) {
      for (int64_t j = i - 1; j >= std::max<int64_t>(0, i - reach) && stream[j] != kBoundary; --j) {
        if ((*s.char_keep)[stream[j]] > 0) train(table, row, stream[j]);
      }
      for (int64_t j = right; j <= std::min(size - 1, right_end) && stream[j] != kBoundary; ++j) {
        if ((*s.char_keep)[stream[j]] > 0) train(table, row, stream[j]);
      }
    };
    // Characters: contexts i - reach .. i + reach within the segment.
    if ((*s.char_keep)[center] > 0 && random.Uniform() < (*s.char_keep)[center]) {
      window(*s.chars, s.chars->in.data() + static_cast<int64_t>(center) * s.chars->dim, i + 1,
             i + reach);
    }
    // Bigram (i, i + 1): contexts i - reach .. i + 1 + reach outside the pair.
    const int32_t bigram = s.bigrams->dim > 0 ? (*s.bigram_at)[i] : -1;
    if (bigram >= 0 && random.Uniform() < (*s.bigram_keep)[bigram]) {
      window(*s.bigrams, s.bigrams->in.data() + static_cast<int64_t>(bigram) * s.bigrams->dim,
             i + 2, i + 1 + reach);
    }
  }
  s.done->fetch_add(local);
  return true;
}

int64_t CodePoints(absl::string_view text) {
  int64_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

absl::Status SkipGramOptions::Validate() const {
  if (dim < 1 || dim > kMaxTextVectorDim) {
    return absl::InvalidArgumentError(
        absl::StrCat("dim must be in [1, ", kMaxTextVectorDim, "], got ", dim));
  }
  if (bigram_dim < 0 || bigram_dim > kMaxTextVectorDim) {
    return absl::InvalidArgumentError(
        absl::StrCat("bigram_dim must be in [0, ", kMaxTextVectorDim, "], got ", bigram_dim));
  }
  if (window < 1 || window > 100) {
    return absl::InvalidArgumentError(absl::StrCat("window must be in [1, 100], got ", window));
  }
  if (negative < 1 || negative > 100) {
    return absl::InvalidArgumentError(absl::StrCat("negative must be in [1, 100], got ", negative));
  }
  if (epochs < 1)
    return absl::InvalidArgumentError(absl::StrCat("epochs must be >= 1, got ", epochs));
  if (min_count < 1) {
    return absl::InvalidArgumentError(absl::StrCat("min_count must be >= 1, got ", min_count));
  }
  if (!(sample >= 0 && sample < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("sample must be in [0, 1), got ", sample));
  }
  if (!(learning_rate > 0 && learning_rate <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("learning_rate must be in (0, 1], got ", learning_rate));
  }
  if (threads < 1 || threads > 256) {
    return absl::InvalidArgumentError(absl::StrCat("threads must be in [1, 256], got ", threads));
  }
  return absl::OkStatus();
}

absl::StatusOr<SkipGramResult> TrainSkipGram(
    const PackedCorpus& corpus, const Tokenizer& tokenizer, const SkipGramOptions& options,
    const std::function<void(const SkipGramProgress&)>& on_progress,
    const std::atomic<bool>* cancel) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  const Vocab& vocab = tokenizer.vocab();
  const int32_t vocab_size = vocab.size();
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };

  // The token stream with special tokens as boundaries, and the counts.
  std::vector<int32_t> stream(corpus.ids().begin(), corpus.ids().end());
  std::vector<int64_t> char_count(vocab_size, 0);
  for (int32_t& id : stream) {
    if (id < 0 || id >= vocab_size || id == vocab.pad_id() || id == vocab.cls_id() ||
        id == vocab.sep_id() || id == vocab.mask_id()) {
      id = kBoundary;
    } else {
      ++char_count[id];
    }
  }
  SkipGramResult result;
  int64_t kept_positions = 0;
  std::vector<float> char_keep(vocab_size, 0.0f);
  for (int32_t id = 0; id < vocab_size; ++id) {
    if (char_count[id] >= options.min_count) {
      ++result.char_types;
      kept_positions += char_count[id];
    }
  }
  if (result.char_types == 0) {
    return absl::InvalidArgumentError(absl::StrCat("no character occurs min_count (",
                                                   options.min_count, ") times in the corpus"));
  }
  for (int32_t id = 0; id < vocab_size; ++id) {
    if (char_count[id] >= options.min_count) {
      char_keep[id] = KeepProbability(char_count[id], kept_positions, options.sample);
    }
  }
  result.positions = kept_positions;

  // Bigrams of kept characters.
  std::vector<int32_t> bigram_at;
  std::vector<std::pair<int32_t, int32_t>> bigram_pairs;
  std::vector<int64_t> bigram_count;
  std::vector<float> bigram_keep;
  if (options.bigram_dim > 0) {
    absl::flat_hash_map<uint64_t, int64_t> counts;
    for (size_t i = 0; i + 1 < stream.size(); ++i) {
      if (stream[i] != kBoundary && stream[i + 1] != kBoundary) {
        ++counts[PairKey(stream[i], stream[i + 1])];
      }
    }
    std::vector<std::pair<uint64_t, int64_t>> frequent;
    for (const auto& [key, count] : counts) {
      if (count >= options.min_count) frequent.emplace_back(key, count);
    }
    counts.clear();
    std::sort(frequent.begin(), frequent.end(), [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    absl::flat_hash_map<uint64_t, int32_t> row_of;
    row_of.reserve(frequent.size());
    int64_t bigram_total = 0;
    for (const auto& [key, count] : frequent) {
      row_of[key] = static_cast<int32_t>(bigram_pairs.size());
      bigram_pairs.emplace_back(static_cast<int32_t>(key >> 32),
                                static_cast<int32_t>(key & 0xFFFFFFFFu));
      bigram_count.push_back(count);
      bigram_total += count;
    }
    for (int64_t count : bigram_count) {
      bigram_keep.push_back(KeepProbability(count, bigram_total, options.sample));
    }
    bigram_at.assign(stream.size(), -1);
    for (size_t i = 0; i + 1 < stream.size(); ++i) {
      if (stream[i] != kBoundary && stream[i + 1] != kBoundary) {
        if (auto it = row_of.find(PairKey(stream[i], stream[i + 1])); it != row_of.end()) {
          bigram_at[i] = it->second;
        }
      }
    }
    result.bigram_types = static_cast<int64_t>(bigram_pairs.size());
  }

  // Negative samples: characters drawn in proportion to count^0.75.
  std::vector<int32_t> negatives(size_t{1} << kNegativeTableBits);
  {
    std::vector<double> weight(vocab_size, 0.0);
    double sum = 0;
    for (int32_t id = 0; id < vocab_size; ++id) {
      if (char_count[id] >= options.min_count) sum += weight[id] = std::pow(char_count[id], 0.75);
    }
    int32_t id = 0;
    double cumulative = 0;
    while (weight[id] == 0) ++id;
    cumulative = weight[id] / sum;
    for (size_t k = 0; k < negatives.size(); ++k) {
      const double position = (k + 0.5) / negatives.size();
      while (position > cumulative && id + 1 < vocab_size) {
        ++id;
        cumulative += weight[id] / sum;
      }
      while (weight[id] == 0 && id > 0) --id;  // rounding at the end: stay on a counted id
      negatives[k] = id;
    }
  }

  // Tables: input rows uniform in +-0.5/dim (word2vec's initialisation), output rows zero.
  Random init{options.seed ^ 0x5EEDull};
  Table chars{options.dim, std::vector<float>(static_cast<size_t>(vocab_size) * options.dim),
              std::vector<float>(static_cast<size_t>(vocab_size) * options.dim, 0.0f)};
  for (float& v : chars.in) v = (init.Uniform() - 0.5f) / options.dim;
  Table bigrams;
  if (options.bigram_dim > 0) {
    bigrams.dim = options.bigram_dim;
    bigrams.in.resize(bigram_pairs.size() * options.bigram_dim);
    for (float& v : bigrams.in) v = (init.Uniform() - 0.5f) / options.bigram_dim;
    bigrams.out.assign(static_cast<size_t>(vocab_size) * options.bigram_dim, 0.0f);
  }

  std::atomic<int64_t> done{0};
  const int64_t stream_size = static_cast<int64_t>(stream.size());
  Shared shared{&options,   &stream, &bigram_at, &char_keep, &bigram_keep,
                &negatives, &chars,  &bigrams,   &done,      stream_size * options.epochs,
                cancel};
  double last_report = 0;
  auto report = [&](int32_t epoch) {
    if (!on_progress) return;
    SkipGramProgress progress;
    progress.epoch = epoch;
    progress.positions_done = done.load();
    progress.positions_total = shared.total;
    progress.learning_rate =
        options.learning_rate *
        std::max(1e-4, 1.0 - static_cast<double>(progress.positions_done) / shared.total);
    progress.seconds = elapsed();
    last_report = progress.seconds;
    on_progress(progress);
  };
  for (int32_t epoch = 1; epoch <= options.epochs; ++epoch) {
    std::vector<std::future<bool>> workers;
    for (int32_t t = 0; t < options.threads; ++t) {
      const int64_t begin = stream_size * t / options.threads;
      const int64_t end = stream_size * (t + 1) / options.threads;
      const uint64_t seed = options.seed * 0x9E3779B97F4A7C15ull + epoch * 1000003ull + t;
      workers.push_back(std::async(std::launch::async, Work, std::cref(shared), begin, end, seed));
    }
    bool completed = true;
    for (std::future<bool>& worker : workers) {
      while (worker.wait_for(std::chrono::milliseconds(200)) != std::future_status::ready) {
        if (elapsed() - last_report >= 10) report(epoch);
      }
      completed = worker.get() && completed;
    }
    if (!completed) return absl::CancelledError("embedding training cancelled");
    report(epoch);
  }
  result.seconds = elapsed();
  result.positions_per_second =
      result.seconds > 0 ? static_cast<double>(stream_size) * options.epochs / result.seconds : 0;

  // Characters, most frequent first.
  std::vector<int32_t> order;
  for (int32_t id = 0; id < vocab_size; ++id) {
    if (char_count[id] >= options.min_count) order.push_back(id);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](int32_t a, int32_t b) { return char_count[a] > char_count[b]; });
  result.chars.dim = options.dim;
  for (int32_t id : order) {
    result.chars.keys.push_back(vocab.Token(id));
    const float* row = chars.in.data() + static_cast<int64_t>(id) * options.dim;
    result.chars.values.insert(result.chars.values.end(), row, row + options.dim);
  }
  // Bigrams (already most frequent first) that read back as the same two tokens.
  if (options.bigram_dim > 0) {
    result.bigrams.dim = options.bigram_dim;
    for (size_t row = 0; row < bigram_pairs.size(); ++row) {
      const auto [a, b] = bigram_pairs[row];
      const std::string& first = vocab.Token(a);
      const std::string& second = vocab.Token(b);
      if (CodePoints(first) != 1 || CodePoints(second) != 1) continue;
      std::string key = first + second;
      absl::StatusOr<DecodedText> decoded = DecodeUtf8(key);
      if (!decoded.ok()) continue;
      const std::vector<Token> tokens = tokenizer.Tokenize(decoded->code_points);
      if (tokens.size() != 2 || tokens[0].id != a || tokens[1].id != b) continue;
      result.bigrams.keys.push_back(std::move(key));
      const float* values = bigrams.in.data() + row * options.bigram_dim;
      result.bigrams.values.insert(result.bigrams.values.end(), values,
                                   values + options.bigram_dim);
    }
  }
  return result;
}

}  // namespace ner::model
