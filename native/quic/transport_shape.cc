#include "quic/transport_shape.h"

#include <array>
#include <utility>

namespace ctn::quic {

namespace {

using Kind = TransportParameter::Kind;
namespace tp = transport_param;

TransportParameter varint(uint64_t id, uint64_t value) { return {Kind::kVarint, id, value, {}, false}; }

uint64_t random_u64(void (*random_bytes)(uint8_t*, size_t)) {
  std::array<uint8_t, 8> b{};
  random_bytes(b.data(), b.size());
  uint64_t v = 0;
  for (uint8_t x : b) v = v << 8 | x;
  return v;
}

void append_u32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift & 0xff));
}

// A reserved version 0x?a?a?a?a (RFC 9000 §15): every byte's low nibble is 0xa.
uint32_t grease_version(void (*random_bytes)(uint8_t*, size_t)) {
  return (static_cast<uint32_t>(random_u64(random_bytes)) & 0xf0f0f0f0u) | 0x0a0a0a0au;
}

void append_parameter(std::string& out, const TransportParameter& p, const std::string& scid,
                      void (*random_bytes)(uint8_t*, size_t)) {
  std::string value;
  uint64_t id = p.id;
  size_t id_width = 0;
  switch (p.kind) {
    case Kind::kVarint:
      append_varint(value, p.value);
      break;
    case Kind::kBytes:
      value = p.bytes;
      break;
    case Kind::kInitialSourceConnectionId:
      value = scid;
      break;
    case Kind::kVersionInformation: {
      constexpr uint32_t kV1 = 0x00000001;
      const uint32_t grease = grease_version(random_bytes);
      const bool grease_first = p.grease_version_first || random_below(2, random_bytes) == 0;
      append_u32(value, kV1);  // chosen
      append_u32(value, grease_first ? grease : kV1);
      append_u32(value, grease_first ? kV1 : grease);
      break;
    }
    case Kind::kGrease: {
      // 31*N+27 (RFC 9000 §18.1) below 2^62, written on 8 bytes as Chrome does.
      constexpr uint64_t kMaxN = ((uint64_t{1} << 62) - 1 - 27) / 31;
      id = 31 * (random_u64(random_bytes) % (kMaxN + 1)) + 27;
      id_width = 8;
      value.resize(1 + random_below(15, random_bytes));
      random_bytes(reinterpret_cast<uint8_t*>(value.data()), value.size());
      break;
    }
  }
  append_varint(out, id, id_width);
  append_varint(out, value.size());
  out += value;
}

}  // namespace

// n is small: the modulo bias of a 64-bit draw is negligible.
size_t random_below(size_t n, RandomBytes random_bytes) {
  return static_cast<size_t>(random_u64(random_bytes) % n);
}

void append_varint(std::string& out, uint64_t v, size_t width) {
  if (width == 0) width = v < 64 ? 1 : v < 16'384 ? 2 : v < (uint64_t{1} << 30) ? 4 : 8;
  const uint8_t prefix = width == 1 ? 0x00 : width == 2 ? 0x40 : width == 4 ? 0x80 : 0xc0;
  for (size_t i = 0; i < width; ++i) {
    uint8_t b = static_cast<uint8_t>(v >> (8 * (width - 1 - i)));
    if (i == 0) b = static_cast<uint8_t>((b & 0x3f) | prefix);
    out.push_back(static_cast<char>(b));
  }
}

uint8_t draw_dcid_length(const TransportShape& shape, void (*random_bytes)(uint8_t* out, size_t n)) {
  if (shape.dcid_max <= shape.dcid_min) return shape.dcid_min;
  return static_cast<uint8_t>(shape.dcid_min +
                              random_below(shape.dcid_max - shape.dcid_min + 1, random_bytes));
}

bool valid_first_packet_numbers(const TransportShape& shape) {
  for (const auto& r : shape.first_packet_number) {
    if (r.weight == 0 || r.min > r.max || r.max >= (uint32_t{1} << 30)) return false;
  }
  return shape.packet_number_length_after_first <= 4;
}

uint32_t draw_first_packet_number(const TransportShape& shape, void (*random_bytes)(uint8_t* out, size_t n)) {
  uint64_t total = 0;
  for (const auto& r : shape.first_packet_number) total += r.weight;
  if (total == 0) return 0;
  uint64_t pick = random_u64(random_bytes) % total;
  for (const auto& r : shape.first_packet_number) {
    if (pick < r.weight) return r.min + static_cast<uint32_t>(random_below(r.max - r.min + 1, random_bytes));
    pick -= r.weight;
  }
  return 0;
}

uint64_t transport_value(const TransportShape& shape, uint64_t id, uint64_t otherwise) {
  for (const auto& p : shape.parameters) {
    if (p.kind == Kind::kVarint && p.id == id) return p.value;
  }
  return otherwise;
}

std::string encode_transport_parameters(const TransportShape& shape, const std::string& scid,
                                        void (*random_bytes)(uint8_t* out, size_t n)) {
  std::vector<const TransportParameter*> order;
  order.reserve(shape.parameters.size());
  for (const auto& p : shape.parameters) order.push_back(&p);
  if (shape.shuffle) {  // Fisher-Yates
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[random_below(i, random_bytes)]);
  }
  std::string out;
  for (const TransportParameter* p : order) append_parameter(out, *p, scid, random_bytes);
  return out;
}

TransportShape chrome_156_transport() {
  TransportShape s;
  s.dcid_min = s.dcid_max = 8;
  s.scid_length = 0;
  s.shuffle = true;
  s.first_packet_number = {{1, 1, 1}};  // PN 1 (1 byte), then PN 2 on 2 bytes
  s.packet_number_length_after_first = 2;
  s.datagram_size = 1250;
  s.crypto_layout = CryptoLayout::kChromeChaos;
  s.length_field_width = 2;
  // Listed in the order of the README (the wire order is shuffled per connection).
  s.parameters = {
      varint(tp::kMaxIdleTimeout, 30'000),
      varint(tp::kMaxUdpPayloadSize, 1472),
      varint(tp::kInitialMaxData, 15'728'640),
      varint(tp::kInitialMaxStreamDataBidiLocal, 6'291'456),
      varint(tp::kInitialMaxStreamDataBidiRemote, 6'291'456),
      varint(tp::kInitialMaxStreamDataUni, 6'291'456),
      varint(tp::kInitialMaxStreamsBidi, 100),
      varint(tp::kInitialMaxStreamsUni, 103),
      {Kind::kInitialSourceConnectionId, tp::kInitialSourceConnectionId, 0, {}, false},
      varint(tp::kMaxDatagramFrameSize, 65'536),
      {Kind::kBytes, tp::kGoogleConnectionOptions, 0, "ORIG", false},
      {Kind::kVersionInformation, tp::kVersionInformation, 0, {}, false},
      {Kind::kGrease, 0, 0, {}, false},
  };
  return s;
}

TransportShape firefox_153_transport() {
  TransportShape s;
  s.dcid_min = 8;
  s.dcid_max = 20;
  s.scid_length = 3;
  // Seen in 12 connections: 1, 5, 6, 7, 13, 16, 18, 20, 28, 31, 575, 653. The rule behind it is not
  // established; this is that empirical spread (10 small, 2 in the 512..1023 band).
  s.first_packet_number = {{10, 1, 31}, {2, 512, 1023}};
  s.datagram_size = 1252;
  // The first flight is sized by its frames (crypto_layout.h: half the hello each, 984..999 bytes as
  // captured); initial_packet_size bounds the Initials ngtcp2 writes after it, before the server is heard.
  s.initial_packet_size = 981;
  s.crypto_layout = CryptoLayout::kFirefoxSniSlice;
  s.length_field_width = 2;
  s.parameters = {
      varint(tp::kMaxIdleTimeout, 30'000),
      varint(tp::kInitialMaxData, 25'165'824),
      varint(tp::kInitialMaxStreamDataBidiLocal, 12'582'912),
      varint(tp::kInitialMaxStreamDataBidiRemote, 1'048'576),
      varint(tp::kInitialMaxStreamDataUni, 1'048'576),
      varint(tp::kInitialMaxStreamsBidi, 100),
      varint(tp::kInitialMaxStreamsUni, 100),
      varint(tp::kMaxAckDelay, 20),
      varint(tp::kActiveConnectionIdLimit, 8),
      {Kind::kInitialSourceConnectionId, tp::kInitialSourceConnectionId, 0, {}, false},
      {Kind::kVersionInformation, tp::kVersionInformation, 0, {}, true},
      varint(tp::kMinAckDelayDraft, 1000),
      varint(tp::kMaxDatagramFrameSize, 65'535),
  };
  return s;
}

}  // namespace ctn::quic
