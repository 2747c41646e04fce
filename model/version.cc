#include "model/version.h"

#ifndef NER_GIT_VERSION
#define NER_GIT_VERSION "unknown"
#endif

namespace ner {

const char* CodeVersion() { return NER_GIT_VERSION; }

}  // namespace ner
