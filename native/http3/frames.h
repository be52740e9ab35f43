// The HTTP/3 frames a browser shape needs byte-exact, which nghttp3 0.8.0 cannot write (patch 0001
// of native/http3/patches/nghttp3 sends them as we encode them here): the control stream's first
// frames (SETTINGS in the profile's order, GREASE setting and GREASE frame) and PRIORITY_UPDATE.
// Pure functions: bytes out, randomness from the caller.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "profiles/profile.h"

namespace ctn::http3 {

// A reserved identifier (RFC 9114 §7.2.4.1, §7.2.8): 0x1f * n + 0x21.
constexpr uint64_t reserved_id(uint64_t n) noexcept { return 0x1f * n + 0x21; }
// The largest n whose reserved_id fits a QUIC varint (62 bits).
inline constexpr uint64_t kMaxReservedN = ((uint64_t{1} << 62) - 1 - 0x21) / 0x1f;

// QUIC variable-length integers (RFC 9000 §16): the shortest encoding, or always 8 bytes.
void put_varint(std::string& out, uint64_t value);
void put_varint8(std::string& out, uint64_t value);

// Uniform random 64-bit numbers.
using Random64 = std::function<uint64_t()>;

// The control stream's frames after its type byte: SETTINGS with `shape.settings` in order (each on
// its shortest varints), Chrome's GREASE setting last when asked (8-byte id 0x1f*N+0x21 with N a
// random 32-bit number, 8-byte random 32-bit value), then the GREASE frame (8-byte type, N random
// over 32 or 62 bits, 0..grease_frame_max_payload random payload bytes) when asked.
std::string encode_control_preamble(const Http3Profile& shape, const Random64& random);

// PRIORITY_UPDATE for a request stream (RFC 9218 §7.1): type 0xf0700, the stream id, the value.
std::string encode_priority_update(uint64_t stream, std::string_view priority_field_value);

}  // namespace ctn::http3
