#ifndef NER_MODEL_TRAIN_SETUP_H_
#define NER_MODEL_TRAIN_SETUP_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/checkpoint.h"
#include "model/entity.h"
#include "model/tag_scheme.h"
#include "model/train_config.h"

namespace ner::model {

// Where the model of a new training run comes from.
struct InitialModelSource {
  // WordPiece vocabulary file; empty = <init>/vocab.txt (then `init` is required).
  std::string vocab_path;
  // A pretrained encoder checkpoint directory (published NEZHA/BERT layout, or `ner pretrain`
  // output) whose encoder weights initialise the model; empty = the config's preset, randomly
  // initialised. For bilstm-crf only its word embeddings are taken, as character embeddings
  // (char_embedding_dim becomes its hidden size).
  std::string init;
  // bilstm-crf only: pretrained vectors in the word2vec text format (model/text_vectors.h; `ner
  // embed` output or published character/bigram vectors). `char_vectors` fill the character
  // embedding rows of the vocabulary tokens they name (char_embedding_dim becomes their width;
  // excludes `init`); `bigram_vectors`, keyed by two characters, fill the hashed bigram table's
  // rows (needs bigram_buckets > 0; bigram_embedding_dim becomes their width). Rows no vector
  // names keep a random initialisation scaled to the vectors' standard deviation.
  std::string char_vectors;
  std::string bigram_vectors;
};

// Builds the fresh model of a new run, the same way for `ner train` and the Train RPC: entity
// types (hence CRF labels, in `scheme`) from the training documents, the encoder from `init` or
// `config.preset`, weights initialised from `config.seed`. Appends to `notes` (may be null) what
// a user should know: dev types never seen in training, encoder weights not taken from `init`.
// Errors: INVALID_ARGUMENT (no vocabulary, no entity in the training data, vectors with a
// transformer variant, both `init` and `char_vectors`, `bigram_vectors` without bigram_buckets,
// vectors of which no row names a vocabulary token), NOT_FOUND / INVALID_ARGUMENT from reading
// the vocabulary, `init` or the vectors.
// Reseeds LibTorch's global generator.
absl::StatusOr<Checkpoint> BuildInitialModel(const TrainConfig& config,
                                             const std::vector<Document>& train,
                                             const std::vector<Document>& dev, TagScheme scheme,
                                             const InitialModelSource& source,
                                             std::vector<std::string>* notes);

}  // namespace ner::model

#endif  // NER_MODEL_TRAIN_SETUP_H_
