#ifndef NER_TESTS_TESTING_SYNTHETIC_DATA_H_
#define NER_TESTS_TESTING_SYNTHETIC_DATA_H_

#include <cstdint>
#include <vector>

#include "model/entity.h"

namespace ner::testing {

// `count` short labelled sentences ("张三在北京工作。", "我和李四说上海的华为公司。", ...) with
// PER, LOC and ORG entities, written only with characters of TinyVocab() (tiny_model.h), so a
// model over that vocabulary trains on them in well under a second per epoch. The same `seed`
// gives the same documents on every platform (no std:: distributions). Ids are "<seed>-<i>".
std::vector<model::Document> SyntheticDocuments(int count, uint64_t seed);

}  // namespace ner::testing

#endif  // NER_TESTS_TESTING_SYNTHETIC_DATA_H_
