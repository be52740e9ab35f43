// Streaming decoders for Content-Encoding: gzip, deflate (zlib-wrapped or raw), br, zstd. Bytes in,
// decoded bytes appended out, with a cap on the decoded size (decompression bombs), checked after
// every output buffer (64 KiB) the codec fills: one decode() call never holds more than the cap plus
// one buffer, however small its input. zstd frames may ask for a window of at most 8 MiB (RFC 9659
// §3: a decoder may refuse larger ones; browsers do).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace ctn {

class BodyDecoder {
 public:
  virtual ~BodyDecoder() = default;
  // nullptr for identity or an unknown coding (the body is then passed on as received).
  static std::unique_ptr<BodyDecoder> for_encoding(std::string_view content_encoding, uint64_t max_output);
  // Appends decoded bytes to `out`. False on corrupt input or when the cap is passed (`why` says which).
  virtual bool decode(std::string_view in, std::string& out, std::string* why) = 0;
  // The body ended: false when the encoded stream was cut short.
  virtual bool finish(std::string* why) = 0;
  // decode() failed because the decoded size passed `max_output` (not because the input is corrupt).
  virtual bool cap_exceeded() const noexcept = 0;
};

}  // namespace ctn
