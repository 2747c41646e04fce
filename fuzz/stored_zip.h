#ifndef NER_FUZZ_STORED_ZIP_H_
#define NER_FUZZ_STORED_ZIP_H_

// Writes a zip archive of STORED (uncompressed) entries, as torch.save does, for the fuzz target
// that mutates the pickle inside a checkpoint: mutating the archive itself would almost always
// break a CRC and never reach the pickle. Written apart from model/zip_archive.cc (a bitwise
// CRC-32, not the reader's tables), so the harness does not share the reader's mistakes.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ner::fuzz {

inline void AppendLE(uint64_t value, int width, std::string* out) {
  for (int i = 0; i < width; ++i) out->push_back(static_cast<char>(value >> (8 * i)));
}

inline uint32_t BitwiseCrc32(const std::string& bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (char c : bytes) {
    crc ^= static_cast<uint8_t>(c);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
  }
  return ~crc;
}

// A zip of (name, contents) entries in the given order, without zip64 (each entry and the whole
// archive stay below 4 GiB).
inline std::string StoredZip(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string zip, central;
  for (const auto& [name, contents] : entries) {
    const uint64_t offset = zip.size();
    const uint32_t crc = BitwiseCrc32(contents);
    // Local header: signature, version 2.0, flags, method 0 (stored), time, date, CRC, sizes,
    // name length, extra length.
    AppendLE(0x04034b50, 4, &zip);
    for (uint64_t field : {20, 0, 0, 0, 0}) AppendLE(field, 2, &zip);
    AppendLE(crc, 4, &zip);
    AppendLE(contents.size(), 4, &zip);
    AppendLE(contents.size(), 4, &zip);
    AppendLE(name.size(), 2, &zip);
    AppendLE(0, 2, &zip);
    zip += name;
    zip += contents;
    // Central directory header: as above plus made-by version, comment length, disk, internal
    // and external attributes and the local header's offset.
    AppendLE(0x02014b50, 4, &central);
    for (uint64_t field : {20, 20, 0, 0, 0, 0}) AppendLE(field, 2, &central);
    AppendLE(crc, 4, &central);
    AppendLE(contents.size(), 4, &central);
    AppendLE(contents.size(), 4, &central);
    for (uint64_t field : {name.size(), size_t{0}, size_t{0}, size_t{0}, size_t{0}}) {
      AppendLE(field, 2, &central);
    }
    AppendLE(0, 4, &central);
    AppendLE(offset, 4, &central);
    central += name;
  }
  const uint64_t central_offset = zip.size();
  zip += central;
  // End of central directory: signature, disk numbers, entry counts, directory size and
  // offset, comment length.
  AppendLE(0x06054b50, 4, &zip);
  for (uint64_t field : {size_t{0}, size_t{0}, entries.size(), entries.size()}) {
    AppendLE(field, 2, &zip);
  }
  AppendLE(central.size(), 4, &zip);
  AppendLE(central_offset, 4, &zip);
  AppendLE(0, 2, &zip);
  return zip;
}

}  // namespace ner::fuzz

#endif  // NER_FUZZ_STORED_ZIP_H_
