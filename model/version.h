#ifndef NER_MODEL_VERSION_H_
#define NER_MODEL_VERSION_H_

namespace ner {

// The code version (`git describe`, or CMake's -DNER_VERSION=...), recorded in trained models'
// provenance and in the server's ner_build_info. Compiled into one small translation unit so
// that a new commit rebuilds only that file.
const char* CodeVersion();

}  // namespace ner

#endif  // NER_MODEL_VERSION_H_
