// The link's frame decoder (native/mux/frame) fed a peer's byte stream in pieces, as the link reads
// it: every other piece goes straight into the payload being filled (payload_space, commit) when
// there is one, the others through feed_until_frame, one frame at a time; BODY frames are appended
// to a claimed buffer. Every frame it returns must re-encode to exactly the bytes it was cut from
// (nothing invented, nothing lost), with the claimed bytes in front, untouched.
//
// Input: one control byte, then the stream.
//   bits 0-6  read size: 0 = everything at once, else pieces of that many bytes
//   bit 7     the limit before a peer has proven itself (tiny frames only), as the hub sets it
#include <cstdint>
#include <cstring>
#include <span>
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
  static const std::string kClaimed = "gathered so far";
  decoder.set_claim([](ctn::mux::FrameType type, uint64_t, size_t) {
    return type == ctn::mux::FrameType::kBody ? kClaimed : std::string();
  });
  std::vector<ctn::mux::Frame> frames;
  bool ok = true;
  bool in_place = false;
  ctn::fuzz::in_pieces(stream, control & 0x7f, [&](std::string_view piece) {
    in_place = !in_place;
    if (in_place && decoder.payload_remaining() > 0) {
      const std::span<char> space = decoder.payload_space(piece.size());
      if (space.size() > piece.size() || space.size() > decoder.payload_remaining()) __builtin_trap();
      std::memcpy(space.data(), piece.data(), space.size());
      decoder.commit(space.size(), frames);
      piece.remove_prefix(space.size());
    }
    const char* data = piece.data();
    size_t left = piece.size();
    while (ok && left > 0) {
      const size_t before = frames.size();
      ok = decoder.feed_until_frame(&data, &left, frames);
      if (ok && left > 0 && frames.size() != before + 1) __builtin_trap();  // stopped after one frame
    }
    if (!ok && decoder.error().empty()) __builtin_trap();  // a refusal always says why
    return ok;
  });
  if (decoder.untouched() != stream.empty()) __builtin_trap();
  std::string encoded;
  for (const auto& f : frames) {
    if (ctn::mux::frame_type_name(f.type).empty()) __builtin_trap();
    const bool claimed = f.type == ctn::mux::FrameType::kBody;
    if (f.payload_start != (claimed ? kClaimed.size() : 0)) __builtin_trap();
    if (f.payload.compare(0, f.payload_start, kClaimed, 0, f.payload_start) != 0) __builtin_trap();
    ctn::mux::append_frame(encoded, f.type, f.flags, f.stream,
                           std::string_view(f.payload).substr(f.payload_start));
  }
  if (stream.substr(0, encoded.size()) != encoded) __builtin_trap();
  // After a clean run everything not returned as a frame is a frame still being assembled.
  if (ok && encoded.size() + decoder.buffered() > stream.size()) __builtin_trap();
  return 0;
}
