// The link's frame decoder (native/mux/frame) fed a peer's byte stream in pieces. Every frame it
// returns must re-encode to exactly the bytes it was cut from (nothing invented, nothing lost).
//
// Input: one control byte, then the stream.
//   bits 0-6  read size: 0 = everything at once, else pieces of that many bytes
//   bit 7     the limit before a peer has proven itself (tiny frames only), as the hub sets it
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_input.h"
#include "mux/frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ctn::fuzz::FuzzInput input(data, size);
  const uint8_t control = input.control();
  // The largest pre-authentication payload is a HELLO or CHALLENGE: a few dozen bytes.
  ctn::mux::FrameDecoder decoder((control & 0x80) ? 256 : ctn::mux::kMaxFramePayload);
  const std::string_view stream = input.rest();
  std::vector<ctn::mux::Frame> frames;
  bool ok = true;
  ctn::fuzz::in_pieces(stream, control & 0x7f, [&](std::string_view piece) {
    ok = decoder.feed(piece.data(), piece.size(), frames);
    if (!ok && decoder.error().empty()) __builtin_trap();  // a refusal always says why
    return ok;
  });
  if (decoder.untouched() != stream.empty()) __builtin_trap();
  std::string encoded;
  for (const auto& f : frames) {
    if (ctn::mux::frame_type_name(f.type).empty()) __builtin_trap();
    ctn::mux::append_frame(encoded, f.type, f.flags, f.stream, f.payload);
  }
  if (stream.substr(0, encoded.size()) != encoded) __builtin_trap();
  // After a clean run everything not returned as a frame is a frame still being assembled.
  if (ok && encoded.size() + decoder.buffered() > stream.size()) __builtin_trap();
  return 0;
}
