// Streaming decoders for Content-Encoding: gzip, deflate (zlib-wrapped or raw), br, zstd. Bytes in,
// decoded bytes appended out, with a cap on the decoded size (decompression bombs).
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
};

}  // namespace ctn
