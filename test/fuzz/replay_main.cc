// Replays fuzz inputs through a target's LLVMFuzzerTestOneInput without libFuzzer: the ctest
// <target>_replay runs every file of its seed corpus and crash regressions once, so they are
// regression tests in every build (the plain one and the ASan/UBSan one). Arguments are files or
// directories (read in name order; a missing directory is an empty one).
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
// Optional: a target that keeps threads for the whole run (hub_peer) stops them here, before
// static destruction.
extern "C" void CtnFuzzTeardown() __attribute__((weak));

namespace {

std::vector<std::filesystem::path> inputs_under(const std::filesystem::path& arg) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  if (std::filesystem::is_directory(arg, ec)) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(arg, ec)) {
      if (entry.is_regular_file()) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
  } else if (std::filesystem::exists(arg, ec)) {
    files.push_back(arg);
  }
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  size_t replayed = 0;
  for (int i = 1; i < argc; ++i) {
    for (const auto& file : inputs_under(argv[i])) {
      std::ifstream in(file, std::ios::binary);
      if (!in) {
        std::fprintf(stderr, "cannot read %s\n", file.c_str());
        return 1;
      }
      const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
      // A crash names its input here first (stderr is unbuffered).
      std::fprintf(stderr, "replay %s (%zu bytes)\n", file.c_str(), bytes.size());
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      ++replayed;
    }
  }
  if (CtnFuzzTeardown) CtnFuzzTeardown();
  std::printf("%zu inputs replayed\n", replayed);
  return replayed > 0 ? 0 : 1;
}
