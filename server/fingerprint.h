#ifndef NER_SERVER_FINGERPRINT_H_
#define NER_SERVER_FINGERPRINT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ner::server {

// A 64-bit content fingerprint of the files at `paths`, in order (each file's size is mixed in,
// so moving bytes between files changes it), as 16 lower-case hex digits. Stable across runs and
// machines; equal contents give equal fingerprints, different contents differ with overwhelming
// probability. Not cryptographic: it names model versions, it does not authenticate them.
// Reads the files once, in 1 MiB chunks. NOT_FOUND / INTERNAL when a file cannot be read.
// Thread-safe.
absl::StatusOr<std::string> FingerprintFiles(const std::vector<std::string>& paths);

}  // namespace ner::server

#endif  // NER_SERVER_FINGERPRINT_H_
