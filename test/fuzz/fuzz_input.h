// Helpers shared by the fuzz targets: a leading control byte that selects a mode, and a way to cut
// the rest of the input into the pieces a socket might deliver (every parser here must accept its
// input split at any byte).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ctn::fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : rest_(reinterpret_cast<const char*>(data), size) {}

  // The next byte as a control value (0 once the input is exhausted).
  uint8_t control() {
    if (rest_.empty()) return 0;
    const uint8_t v = static_cast<uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return v;
  }
  std::string_view rest() const { return rest_; }

 private:
  std::string_view rest_;
};

// Cuts `bytes` into pieces: `piece` 0 means all at once, otherwise pieces of `piece` bytes (the
// last one shorter), so one control byte reaches one-byte splits as well as whole reads. `fn`
// returns false to stop early.
template <typename Fn>
void in_pieces(std::string_view bytes, size_t piece, Fn&& fn) {
  if (piece == 0) piece = std::max<size_t>(bytes.size(), 1);
  for (size_t at = 0; at < bytes.size(); at += piece) {
    if (!fn(bytes.substr(at, std::min(piece, bytes.size() - at)))) return;
  }
}

}  // namespace ctn::fuzz
