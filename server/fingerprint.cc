#include "server/fingerprint.h"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ner::server {
namespace {

// FNV-1a's offset basis and prime, applied to 64-bit little-endian words instead of bytes (eight
// times fewer dependent multiplications), with a final avalanche (splitmix64's finaliser).
constexpr uint64_t kOffsetBasis = 0xcbf29ce484222325ULL;
constexpr uint64_t kPrime = 0x100000001b3ULL;

uint64_t Mix(uint64_t hash, uint64_t word) { return (hash ^ word) * kPrime; }

uint64_t Finalise(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

absl::StatusOr<std::string> FingerprintFiles(const std::vector<std::string>& paths) {
  uint64_t hash = kOffsetBasis;
  std::string buffer(1 << 20, '\0');
  for (const std::string& path : paths) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return absl::NotFoundError(
          absl::StrCat("cannot open '", path, "' to fingerprint it: ", std::strerror(errno)));
    }
    uint64_t size = 0;
    while (true) {
      in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      const auto got = static_cast<size_t>(in.gcount());
      if (got == 0) break;
      size += got;
      size_t i = 0;
      for (; i + 8 <= got; i += 8) {
        uint64_t word;
        std::memcpy(&word, buffer.data() + i, 8);
        hash = Mix(hash, word);
      }
      // A chunk's tail only occurs at the end of a file: chunks are a multiple of 8 bytes.
      for (; i < got; ++i) hash = Mix(hash, static_cast<unsigned char>(buffer[i]));
    }
    if (in.bad()) {
      return absl::InternalError(absl::StrCat("cannot read '", path, "' to fingerprint it"));
    }
    hash = Mix(hash, size);
  }
  return absl::StrFormat("%016x", Finalise(hash));
}

}  // namespace ner::server
