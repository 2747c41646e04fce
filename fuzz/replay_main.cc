// A main() for fuzz targets built without libFuzzer (gcc, or clang without NER_BUILD_FUZZERS):
// runs LLVMFuzzerTestOneInput once on each file named on the command line, and on every file
// under each directory named, in sorted order. The ctests fuzz_replay_<target> use it to replay
// the committed seed corpus, so targets and seeds stay compiling and passing in every build.
// A failing property aborts (FUZZ_CHECK); the exit status is 1 when an argument cannot be read.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

bool ReplayFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "replay: cannot open %s\n", path.c_str());
    return false;
  }
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // A copy of exactly `size` bytes, so that ASan catches reads past the end as libFuzzer would.
  const std::vector<uint8_t> input(bytes.begin(), bytes.end());
  LLVMFuzzerTestOneInput(input.data(), input.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int replayed = 0;
  bool ok = true;
  for (int a = 1; a < argc; ++a) {
    const fs::path arg(argv[a]);
    std::error_code error;
    std::vector<fs::path> files;
    if (fs::is_directory(arg, error)) {
      for (const fs::directory_entry& entry : fs::recursive_directory_iterator(arg, error)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
      if (error) {
        std::fprintf(stderr, "replay: cannot list %s: %s\n", argv[a], error.message().c_str());
        ok = false;
      }
      std::sort(files.begin(), files.end());
    } else {
      files.push_back(arg);
    }
    for (const fs::path& file : files) {
      if (ReplayFile(file)) {
        ++replayed;
      } else {
        ok = false;
      }
    }
  }
  std::printf("replay: %d input(s) ran without a failure\n", replayed);
  return ok && replayed > 0 ? 0 : 1;
}
