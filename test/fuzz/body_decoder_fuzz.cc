// Content-Encoding decoders (native/core/body_decoder): gzip, deflate (zlib-wrapped and raw), br,
// zstd, alone or chained two deep ("Content-Encoding: gzip, br": br is undone first, its output is
// gzip), fed in pieces, then finished. The output cap is small (256 KiB per stage) so a bomb is
// refused long before it could exhaust the fuzzer's memory; the cap must hold (checked here).
//
// Input: one control byte, one read-size byte (0 = all at once), then the encoded body.
//   bits 0-2  outer coding (undone first), bits 3-5 inner coding (0 = none); see kCodings
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/body_decoder.h"
#include "fuzz_input.h"

namespace {

constexpr uint64_t kMaxOutput = 256 * 1024;
// Spellings as they arrive in Content-Encoding, with the case and padding servers use.
constexpr std::string_view kCodings[] = {"", "gzip", "deflate", "br", "zstd", "x-gzip", " GZIP ", "Br"};

std::unique_ptr<ctn::BodyDecoder> decoder_for(uint8_t selector) {
  const std::string_view coding = kCodings[selector & 7];
  return coding.empty() ? nullptr : ctn::BodyDecoder::for_encoding(coding, kMaxOutput);
}

// One stage: decodes what it is given and hands its output to the next stage (or drops it).
struct Stage {
  std::unique_ptr<ctn::BodyDecoder> decoder;
  uint64_t produced = 0;

  bool decode(std::string_view in, std::string& out) {
    std::string why;
    const size_t before = out.size();
    const bool ok = decoder->decode(in, out, &why);
    produced += out.size() - before;
    // The cap bounds memory: a decoder may overshoot by one internal step, never by more.
    if (produced > kMaxOutput + (1u << 20)) __builtin_trap();
    if (!ok && why.empty()) __builtin_trap();  // a refusal always says why
    return ok;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ctn::fuzz::FuzzInput input(data, size);
  const uint8_t control = input.control();
  const size_t piece = input.control();
  Stage outer{decoder_for(control)}, inner{decoder_for(control >> 3)};
  if (!outer.decoder) return 0;  // identity: nothing to decode

  bool ok = true;
  std::string middle, out;
  ctn::fuzz::in_pieces(input.rest(), piece, [&](std::string_view bytes) {
    middle.clear();
    ok = outer.decode(bytes, middle);
    if (ok && inner.decoder && !middle.empty()) {
      out.clear();
      ok = inner.decode(middle, out);
    }
    return ok;
  });
  std::string why;
  if (ok && outer.decoder->finish(&why) && inner.decoder) inner.decoder->finish(&why);
  return 0;
}
