#ifndef NER_TESTS_TESTING_TINY_MODEL_H_
#define NER_TESTS_TESTING_TINY_MODEL_H_

#include <memory>
#include <string>
#include <vector>

#include "model/checkpoint.h"
#include "model/model_config.h"

namespace ner::testing {

// A small vocabulary (special tokens, CJK characters, ASCII letters/digits and punctuation),
// enough for tests that do not need the shared 21,128-entry one.
std::shared_ptr<const model::Vocab> TinyVocab();

// A 2-layer, 32-wide encoder config of `kind` over `vocab_size` tokens.
model::EncoderConfig TinyEncoderConfig(model::EncoderKind kind, int64_t vocab_size);

// A seeded, randomly initialised checkpoint of `variant` over PER/LOC/ORG in BIO, on the CPU,
// in eval mode. The LSTM is 16 wide so tests stay fast.
model::Checkpoint TinyCheckpoint(model::Variant variant, uint64_t seed = 7);

}  // namespace ner::testing

#endif  // NER_TESTS_TESTING_TINY_MODEL_H_
