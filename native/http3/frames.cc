#include "http3/frames.h"

namespace ctn::http3 {

namespace {

void put_big_endian(std::string& out, uint64_t value, int bytes, uint8_t length_bits) {
  for (int i = bytes - 1; i >= 0; --i) {
    uint8_t b = static_cast<uint8_t>(value >> (8 * i));
    if (i == bytes - 1) b |= length_bits;
    out.push_back(static_cast<char>(b));
  }
}

}  // namespace

void put_varint(std::string& out, uint64_t value) {
  if (value < (uint64_t{1} << 6)) return put_big_endian(out, value, 1, 0x00);
  if (value < (uint64_t{1} << 14)) return put_big_endian(out, value, 2, 0x40);
  if (value < (uint64_t{1} << 30)) return put_big_endian(out, value, 4, 0x80);
  put_varint8(out, value);
}

void put_varint8(std::string& out, uint64_t value) {
  put_big_endian(out, value & ((uint64_t{1} << 62) - 1), 8, 0xc0);
}

std::string encode_control_preamble(const Http3Profile& shape, const Random64& random) {
  std::string settings;
  for (const Http3Setting& s : shape.settings) {
    put_varint(settings, s.id);
    put_varint(settings, s.value);
  }
  if (shape.grease_setting) {
    put_varint8(settings, reserved_id(random() & 0xffffffffu));
    put_varint8(settings, random() & 0xffffffffu);
  }
  std::string out;
  put_varint(out, 0x04);  // SETTINGS
  put_varint(out, settings.size());
  out += settings;
  if (shape.grease_frame) {
    const uint64_t n = shape.grease_frame_wide_type ? random() % (kMaxReservedN + 1) : random() & 0xffffffffu;
    const size_t length = random() % (size_t{shape.grease_frame_max_payload} + 1);
    put_varint8(out, reserved_id(n));
    put_varint(out, length);
    for (size_t i = 0; i < length; ++i) out.push_back(static_cast<char>(random() & 0xff));
  }
  return out;
}

std::string encode_priority_update(uint64_t stream, std::string_view priority_field_value) {
  std::string payload;
  put_varint(payload, stream);
  payload += priority_field_value;
  std::string out;
  put_varint(out, 0xf0700);  // PRIORITY_UPDATE for a request stream
  put_varint(out, payload.size());
  out += payload;
  return out;
}

}  // namespace ctn::http3
