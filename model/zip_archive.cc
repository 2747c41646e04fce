#include "model/zip_archive.h"

#include <array>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"

namespace ner::model {
namespace {

absl::Status Invalid(const std::string& what) { return absl::InvalidArgumentError(what); }

// Returns the `width`-byte little-endian integer at `offset`; the caller checked the bounds.
uint64_t LoadLE(std::string_view bytes, size_t offset, int width) {
  uint64_t value = 0;
  for (int i = width - 1; i >= 0; --i)
    value = (value << 8) | static_cast<uint8_t>(bytes[offset + i]);
  return value;
}

// True when [offset, offset + length) lies within a buffer of `size` bytes (overflow-safe).
bool InRange(uint64_t offset, uint64_t length, uint64_t size) {
  return offset <= size && length <= size - offset;
}

// The zip CRC-32 (IEEE, reflected), sliced by 8: checking it costs a fraction of reading the file.
uint32_t Crc32(std::string_view bytes) {
  using Tables = std::array<std::array<uint32_t, 256>, 8>;
  static const Tables tables = [] {
    Tables t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[0][i] = c;
    }
    for (int s = 1; s < 8; ++s) {
      for (int i = 0; i < 256; ++i) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    const uint32_t lo = crc ^ static_cast<uint32_t>(LoadLE(bytes, i, 4));
    const uint32_t hi = static_cast<uint32_t>(LoadLE(bytes, i + 4, 4));
    crc = tables[7][lo & 0xff] ^ tables[6][(lo >> 8) & 0xff] ^ tables[5][(lo >> 16) & 0xff] ^
          tables[4][lo >> 24] ^ tables[3][hi & 0xff] ^ tables[2][(hi >> 8) & 0xff] ^
          tables[1][(hi >> 16) & 0xff] ^ tables[0][hi >> 24];
  }
  for (; i < bytes.size(); ++i)
    crc = tables[0][(crc ^ static_cast<uint8_t>(bytes[i])) & 0xff] ^ (crc >> 8);
  return ~crc;
}

constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr size_t kEndSize = 22;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kLocalHeaderSize = 30;

// Reads the zip64 end record that the locator just before the end record at `end` points to,
// replacing the 32-bit `count`, `cd_size` and `cd_offset` with their 64-bit values.
absl::Status ReadZip64End(std::string_view zip, size_t end, uint64_t* count, uint64_t* cd_size,
                          uint64_t* cd_offset) {
  if (end < 20 || LoadLE(zip, end - 20, 4) != kZip64LocatorSig) {
    return Invalid("zip: end record needs zip64 but no zip64 locator precedes it");
  }
  const uint64_t record = LoadLE(zip, end - 20 + 8, 8);
  if (!InRange(record, 56, end - 20) || LoadLE(zip, record, 4) != kZip64EndSig) {
    return Invalid("zip: zip64 end record is missing or out of range");
  }
  if (LoadLE(zip, record + 16, 4) != 0 || LoadLE(zip, record + 20, 4) != 0) {
    return Invalid("zip: multi-disk archives are not supported");
  }
  *count = LoadLE(zip, record + 32, 8);
  *cd_size = LoadLE(zip, record + 40, 8);
  *cd_offset = LoadLE(zip, record + 48, 8);
  return absl::OkStatus();
}

// Applies a zip64 extended-information extra field to the sizes/offset that are saturated.
absl::Status ApplyZip64Extra(std::string_view extra, uint64_t* size, uint64_t* compressed,
                             uint64_t* local_offset) {
  for (size_t pos = 0; pos + 4 <= extra.size();) {
    const uint64_t id = LoadLE(extra, pos, 2);
    const uint64_t length = LoadLE(extra, pos + 2, 2);
    if (!InRange(pos + 4, length, extra.size())) return Invalid("zip: truncated extra field");
    if (id == 0x0001) {
      size_t field = pos + 4;
      for (uint64_t* value : {size, compressed, local_offset}) {
        if (*value != 0xFFFFFFFFu) continue;
        if (field + 8 > pos + 4 + length) return Invalid("zip: truncated zip64 extra field");
        *value = LoadLE(extra, field, 8);
        field += 8;
      }
    }
    pos += 4 + length;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ZipEntries> ReadStoredZip(std::string_view zip) {
  if (zip.size() < kEndSize) return Invalid("zip: too short to be a zip archive");
  // The end record sits in the last 22 + 65535 (longest comment) bytes.
  std::optional<size_t> end;
  const size_t lowest = zip.size() > kEndSize + 0xFFFF ? zip.size() - kEndSize - 0xFFFF : 0;
  for (size_t pos = zip.size() - kEndSize + 1; pos-- > lowest;) {
    if (LoadLE(zip, pos, 4) == kEndSig && pos + kEndSize + LoadLE(zip, pos + 20, 2) <= zip.size()) {
      end = pos;
      break;
    }
  }
  if (!end) return Invalid("zip: no end-of-central-directory record (truncated file?)");
  if (LoadLE(zip, *end + 4, 2) != 0 || LoadLE(zip, *end + 6, 2) != 0) {
    return Invalid("zip: multi-disk archives are not supported");
  }
  uint64_t count = LoadLE(zip, *end + 10, 2);
  uint64_t cd_size = LoadLE(zip, *end + 12, 4);
  uint64_t cd_offset = LoadLE(zip, *end + 16, 4);
  if (count == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_offset == 0xFFFFFFFFu) {
    if (absl::Status s = ReadZip64End(zip, *end, &count, &cd_size, &cd_offset); !s.ok()) return s;
  }
  if (!InRange(cd_offset, cd_size, *end)) return Invalid("zip: central directory out of range");
  if (count > cd_size / kCentralHeaderSize) {
    return Invalid(absl::StrCat("zip: ", count, " entries cannot fit the central directory"));
  }
  const std::string_view cd = zip.substr(cd_offset, cd_size);
  ZipEntries entries;
  size_t pos = 0;
  for (uint64_t i = 0; i < count; ++i) {
    if (!InRange(pos, kCentralHeaderSize, cd.size()) || LoadLE(cd, pos, 4) != kCentralHeaderSig) {
      return Invalid(absl::StrCat("zip: bad central directory entry ", i));
    }
    const uint64_t flags = LoadLE(cd, pos + 8, 2);
    const uint64_t method = LoadLE(cd, pos + 10, 2);
    const uint32_t crc = static_cast<uint32_t>(LoadLE(cd, pos + 16, 4));
    uint64_t compressed = LoadLE(cd, pos + 20, 4);
    uint64_t size = LoadLE(cd, pos + 24, 4);
    const uint64_t name_len = LoadLE(cd, pos + 28, 2);
    const uint64_t extra_len = LoadLE(cd, pos + 30, 2);
    const uint64_t comment_len = LoadLE(cd, pos + 32, 2);
    uint64_t local = LoadLE(cd, pos + 42, 4);
    if (!InRange(pos + kCentralHeaderSize, name_len + extra_len + comment_len, cd.size())) {
      return Invalid(absl::StrCat("zip: central directory entry ", i, " is truncated"));
    }
    const std::string name(cd.substr(pos + kCentralHeaderSize, name_len));
    const std::string_view extra = cd.substr(pos + kCentralHeaderSize + name_len, extra_len);
    pos += kCentralHeaderSize + name_len + extra_len + comment_len;
    if (absl::Status s = ApplyZip64Extra(extra, &size, &compressed, &local); !s.ok()) return s;
    const std::string where = absl::StrCat("zip entry '", name, "': ");
    if (flags & 1) return Invalid(absl::StrCat(where, "encrypted entries are not supported"));
    if (method != 0 || compressed != size) {
      return Invalid(absl::StrCat(where, "compressed (method ", method,
                                  "); torch.save writes uncompressed (stored) entries"));
    }
    if (!InRange(local, kLocalHeaderSize, zip.size()) || LoadLE(zip, local, 4) != kLocalHeaderSig) {
      return Invalid(absl::StrCat(where, "local header missing or out of range"));
    }
    const uint64_t local_name_len = LoadLE(zip, local + 26, 2);
    const uint64_t data = local + kLocalHeaderSize + local_name_len + LoadLE(zip, local + 28, 2);
    if (!InRange(local + kLocalHeaderSize, local_name_len, zip.size()) ||
        zip.substr(local + kLocalHeaderSize, local_name_len) != name) {
      return Invalid(absl::StrCat(where, "local header names a different entry"));
    }
    if (!InRange(data, size, zip.size())) {
      return Invalid(absl::StrCat(where, size, " bytes of data run past the end of the archive"));
    }
    const std::string_view contents = zip.substr(data, size);
    if (Crc32(contents) != crc) return absl::DataLossError(absl::StrCat(where, "CRC mismatch"));
    if (!entries.emplace(name, contents).second) {
      return Invalid(absl::StrCat(where, "appears twice in the archive"));
    }
  }
  return entries;
}

}  // namespace ner::model
