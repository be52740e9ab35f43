#include "binding/websocket_mask.h"

#include <cstdint>
#include <cstring>

namespace ctn::binding {

std::optional<std::string> masked_frame(std::string_view header, std::string_view payload) {
  if (header.size() < 6) return std::nullopt;
  std::string frame;
  frame.resize(header.size() + payload.size());
  std::memcpy(frame.data(), header.data(), header.size());
  // Eight bytes at a time with the key twice over, then the tail byte by byte.
  unsigned char key[8];
  std::memcpy(key, header.data() + header.size() - 4, 4);
  std::memcpy(key + 4, key, 4);
  uint64_t key64;
  std::memcpy(&key64, key, 8);
  char* out = frame.data() + header.size();
  size_t i = 0;
  for (; i + 8 <= payload.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, payload.data() + i, 8);
    word ^= key64;
    std::memcpy(out + i, &word, 8);
  }
  for (; i < payload.size(); ++i) out[i] = static_cast<char>(payload[i] ^ key[i & 3]);
  return frame;
}

}  // namespace ctn::binding
