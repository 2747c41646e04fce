#ifndef NER_MODEL_ZIP_ARCHIVE_H_
#define NER_MODEL_ZIP_ARCHIVE_H_

// A minimal reader for zip archives whose entries are STORED (uncompressed), as torch.save writes
// them. Understands zip64; refuses compressed, encrypted and multi-disk archives. Never crashes,
// whatever the input: it is meant to be fuzzed.

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ner::model {

// Entry name -> entry contents, a view into the archive bytes (valid while they are).
using ZipEntries = std::map<std::string, std::string_view, std::less<>>;

// Lists the entries of the zip archive `zip`, found through its central directory; each entry's
// local header is checked to name the same entry and its CRC-32 is verified. Errors:
// INVALID_ARGUMENT for a malformed or unsupported archive (compressed entry, duplicate name, ...),
// naming the entry; DATA_LOSS for a CRC mismatch. Thread-safe.
absl::StatusOr<ZipEntries> ReadStoredZip(std::string_view zip);

}  // namespace ner::model

#endif  // NER_MODEL_ZIP_ARCHIVE_H_
