#include "model/train_setup.h"

#include <torch/torch.h>

#include <cmath>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "model/encoder_config.h"
#include "model/model_config.h"
#include "model/ner_model.h"
#include "model/text_vectors.h"
#include "model/tokenizer.h"
#include "model/utf8.h"
#include "model/vocab.h"

namespace ner::model {
namespace {

// Token ids of `key` as the tokenizer reads it (empty when it is not valid UTF-8).
std::vector<int32_t> KeyTokens(const Tokenizer& tokenizer, absl::string_view key) {
  std::vector<int32_t> ids;
  absl::StatusOr<DecodedText> decoded = DecodeUtf8(key);
  if (!decoded.ok()) return ids;
  for (const Token& token : tokenizer.Tokenize(decoded->code_points)) ids.push_back(token.id);
  return ids;
}

// The vocabulary row a character vector's key names: the token spelled exactly so (priority 2),
// else the single token the tokenizer reads it as (priority 1: e.g. a full-width or upper-case
// form of a vocabulary character); -1 when neither.
std::pair<int64_t, int> CharRow(const Tokenizer& tokenizer, absl::string_view key) {
  if (const int32_t id = tokenizer.vocab().Find(key); id >= 0) return {id, 2};
  const std::vector<int32_t> ids = KeyTokens(tokenizer, key);
  if (ids.size() == 1 && ids[0] != tokenizer.vocab().unk_id()) return {ids[0], 1};
  return {-1, 0};
}

// The bigram table's row of a two-character key; -1 unless the tokenizer reads the key as two
// known tokens.
int64_t BigramRow(const Tokenizer& tokenizer, absl::string_view key, int64_t buckets) {
  const std::vector<int32_t> ids = KeyTokens(tokenizer, key);
  if (ids.size() != 2 || ids[0] == tokenizer.vocab().unk_id() ||
      ids[1] == tokenizer.vocab().unk_id()) {
    return -1;
  }
  return BigramBucket(ids[0], ids[1], tokenizer.vocab().size(), buckets);
}

struct FillResult {
  int64_t filled = 0;      // table rows taken from the vectors
  int64_t collisions = 0;  // vectors whose row an earlier (or exactly spelled) one had taken
  double stddev = 0;       // of the vectors' values; the other rows are drawn with it
};

// Copies each vector into the row `row_of` names (-1 = none; a higher priority replaces a lower
// one, otherwise the first vector wins) and redraws every row no vector filled from N(0, s^2),
// s the vectors' standard deviation, so that both kinds of rows start on the same scale.
FillResult FillTable(const TextVectors& vectors, torch::Tensor table,
                     const std::function<std::pair<int64_t, int>(absl::string_view)>& row_of) {
  FillResult result;
  const int64_t rows = table.size(0);
  std::vector<int> priority(rows, 0);
  std::vector<int64_t> source(rows, -1);
  for (int64_t i = 0; i < vectors.size(); ++i) {
    const auto [row, rank] = row_of(vectors.keys[i]);
    if (row < 0) continue;
    if (rank > priority[row]) {
      if (source[row] >= 0) ++result.collisions;
      priority[row] = rank;
      source[row] = i;
    } else {
      ++result.collisions;
    }
  }
  double sum = 0, squares = 0;
  for (float v : vectors.values) {
    sum += v;
    squares += static_cast<double>(v) * v;
  }
  const double n = static_cast<double>(vectors.values.size());
  result.stddev = std::sqrt(std::max(0.0, squares / n - (sum / n) * (sum / n)));

  torch::NoGradGuard no_grad;
  const torch::Tensor fresh =
      torch::randn(table.sizes(), table.options()) * static_cast<float>(result.stddev);
  table.copy_(fresh);
  std::vector<int64_t> targets, sources;
  for (int64_t row = 0; row < rows; ++row) {
    if (source[row] < 0) continue;
    targets.push_back(row);
    sources.push_back(source[row]);
  }
  result.filled = static_cast<int64_t>(targets.size());
  const torch::Tensor values = torch::from_blob(const_cast<float*>(vectors.values.data()),
                                                {vectors.size(), vectors.dim}, torch::kFloat32);
  const auto index = [](const std::vector<int64_t>& v) {
    return torch::tensor(torch::ArrayRef<int64_t>(v), torch::kLong);
  };
  table.index_copy_(0, index(targets),
                    values.index_select(0, index(sources)).to(table.scalar_type()));
  return result;
}

}  // namespace

absl::StatusOr<Checkpoint> BuildInitialModel(const TrainConfig& config,
                                             const std::vector<Document>& train,
                                             const std::vector<Document>& dev, TagScheme scheme,
                                             const InitialModelSource& source,
                                             std::vector<std::string>* notes) {
  std::vector<std::string> ignored;
  if (notes == nullptr) notes = &ignored;
  std::string vocab_path = source.vocab_path;
  if (vocab_path.empty() && !source.init.empty()) vocab_path = source.init + "/vocab.txt";
  if (vocab_path.empty()) {
    return absl::InvalidArgumentError("a vocabulary is required without an init checkpoint");
  }
  absl::StatusOr<Vocab> vocab = Vocab::Load(vocab_path);
  if (!vocab.ok()) return vocab.status();

  std::set<std::string> types;
  for (const Document& d : train) {
    for (const EntitySpan& e : d.entities) types.insert(e.type);
  }
  if (types.empty()) {
    return absl::InvalidArgumentError("the training data has no entities");
  }
  std::set<std::string> dev_only;
  for (const Document& d : dev) {
    for (const EntitySpan& e : d.entities) {
      if (types.count(e.type) == 0) dev_only.insert(e.type);
    }
  }
  if (!dev_only.empty()) {
    notes->push_back(absl::StrCat("dev types never seen in training (always missed): ",
                                  absl::StrJoin(dev_only, ", ")));
  }

  const bool has_vectors = !source.char_vectors.empty() || !source.bigram_vectors.empty();
  if (has_vectors && HasEncoder(config.variant)) {
    return absl::InvalidArgumentError(
        absl::StrCat("character and bigram vectors are inputs of bilstm-crf; ",
                     VariantName(config.variant), " takes its embeddings from its encoder (init)"));
  }
  if (!source.char_vectors.empty() && !source.init.empty()) {
    return absl::InvalidArgumentError(
        "give bilstm-crf's character embeddings either an init checkpoint or char_vectors, "
        "not both");
  }
  if (!source.bigram_vectors.empty() && config.bigram_buckets == 0) {
    return absl::InvalidArgumentError(
        "bigram_vectors need a bigram table: set bigram_buckets > 0 (e.g. 100003)");
  }
  auto shared_vocab = std::make_shared<const Vocab>(*std::move(vocab));
  const Tokenizer tokenizer(shared_vocab);
  std::optional<TextVectors> char_vectors, bigram_vectors;
  auto read = [&](const std::string& path, absl::string_view what,
                  const std::function<bool(absl::string_view)>& keep,
                  std::optional<TextVectors>* out) -> absl::Status {
    TextVectorsReadStats stats;
    absl::StatusOr<TextVectors> loaded = ReadTextVectors(path, keep, &stats);
    if (!loaded.ok()) return loaded.status();
    if (loaded->size() == 0) {
      return absl::InvalidArgumentError(absl::StrCat("none of the ", stats.rows, " rows of '", path,
                                                     "' names a ", what, " of the vocabulary"));
    }
    notes->push_back(absl::StrFormat(
        "%s vectors: %d of %d rows of %s name a %s of the vocabulary (%d duplicates)", what,
        loaded->size(), stats.rows, path, what, stats.duplicates));
    *out = *std::move(loaded);
    return absl::OkStatus();
  };
  if (!source.char_vectors.empty()) {
    if (absl::Status s = read(
            source.char_vectors, "character",
            [&](absl::string_view key) { return CharRow(tokenizer, key).first >= 0; },
            &char_vectors);
        !s.ok()) {
      return s;
    }
  }
  if (!source.bigram_vectors.empty()) {
    if (absl::Status s = read(
            source.bigram_vectors, "bigram",
            [&](absl::string_view key) {
              return BigramRow(tokenizer, key, config.bigram_buckets) >= 0;
            },
            &bigram_vectors);
        !s.ok()) {
      return s;
    }
  }

  EncoderConfig encoder;
  if (HasEncoder(config.variant)) {
    absl::StatusOr<EncoderConfig> loaded =
        source.init.empty() ? EncoderPreset(config.preset) : LoadEncoderConfig(source.init);
    if (!loaded.ok()) return loaded.status();
    encoder = *loaded;
  }
  TrainConfig adjusted = config;
  if (!source.init.empty() && !HasEncoder(config.variant)) {
    // bilstm-crf: the init's word embeddings become the character embeddings, so their width
    // is the init's hidden size.
    absl::StatusOr<EncoderConfig> pretrained = LoadEncoderConfig(source.init);
    if (!pretrained.ok()) return pretrained.status();
    if (pretrained->hidden_size != config.char_embedding_dim) {
      notes->push_back(absl::StrCat("char_embedding_dim ", config.char_embedding_dim, " -> ",
                                    pretrained->hidden_size, " (the width of ", source.init,
                                    "'s word embeddings)"));
      adjusted.char_embedding_dim = pretrained->hidden_size;
    }
  }
  if (char_vectors && char_vectors->dim != config.char_embedding_dim) {
    notes->push_back(absl::StrCat("char_embedding_dim ", config.char_embedding_dim, " -> ",
                                  char_vectors->dim, " (the width of ", source.char_vectors, ")"));
    adjusted.char_embedding_dim = char_vectors->dim;
  }
  if (bigram_vectors && bigram_vectors->dim != config.bigram_embedding_dim) {
    notes->push_back(absl::StrCat("bigram_embedding_dim ", config.bigram_embedding_dim, " -> ",
                                  bigram_vectors->dim, " (the width of ", source.bigram_vectors,
                                  ")"));
    adjusted.bigram_embedding_dim = bigram_vectors->dim;
  }
  absl::StatusOr<ModelConfig> model_config = ModelConfigForTraining(
      adjusted, encoder, scheme, std::vector<std::string>(types.begin(), types.end()),
      shared_vocab->size());
  if (!model_config.ok()) return model_config.status();

  Checkpoint checkpoint;
  checkpoint.config = *std::move(model_config);
  checkpoint.vocab = shared_vocab;
  torch::manual_seed(config.seed);
  absl::StatusOr<NerModel> net =
      CreateNerModel(checkpoint.config, checkpoint.vocab->cls_id(), checkpoint.vocab->sep_id());
  if (!net.ok()) return net.status();
  checkpoint.model = *net;
  if (!source.init.empty() && !HasEncoder(config.variant)) {
    if (absl::Status s = InitCharEmbeddingsFromPretrained(source.init, checkpoint.model); !s.ok()) {
      return s;
    }
    notes->push_back(
        absl::StrCat("character embeddings initialised from ", source.init, "'s word embeddings"));
  } else if (!source.init.empty()) {
    std::vector<std::string> init_notes;
    if (absl::Status s = InitEncoderFromPretrained(source.init, checkpoint.model, &init_notes);
        !s.ok()) {
      return s;
    }
    notes->push_back(absl::StrCat("encoder initialised from ", source.init));
    for (std::string& note : init_notes) notes->push_back(std::move(note));
  }
  if (char_vectors) {
    const FillResult filled =
        FillTable(*char_vectors, checkpoint.model->word_embeddings(),
                  [&](absl::string_view key) { return CharRow(tokenizer, key); });
    notes->push_back(absl::StrFormat(
        "character embeddings: %d of %d vocabulary rows from %s, the others drawn at random "
        "with its standard deviation %.3g (%d vectors named a row already taken)",
        filled.filled, shared_vocab->size(), source.char_vectors, filled.stddev,
        filled.collisions));
  }
  if (bigram_vectors) {
    torch::Tensor table;
    for (const auto& item : checkpoint.model->named_parameters()) {
      if (item.key() == "bigram_embeddings.weight") table = item.value();
    }
    if (!table.defined()) return absl::InternalError("the model has no bigram table");
    const FillResult filled = FillTable(*bigram_vectors, table, [&](absl::string_view key) {
      return std::pair<int64_t, int>(BigramRow(tokenizer, key, config.bigram_buckets), 1);
    });
    notes->push_back(absl::StrFormat(
        "bigram embeddings: %d of %d hashed rows from %s, the others drawn at random with its "
        "standard deviation %.3g (%d bigrams shared a row with a more frequent one)",
        filled.filled, config.bigram_buckets, source.bigram_vectors, filled.stddev,
        filled.collisions));
  }
  return checkpoint;
}

}  // namespace ner::model
