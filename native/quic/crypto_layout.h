// The frame layout of a browser's first flight: how the ClientHello's CRYPTO data, PING frames and
// PADDING are laid out in the client's first Initial packets (TransportShape::crypto_layout). The
// plan is ours; ngtcp2 writes it (patch 0003, ngtcp2_conn_set_first_flight), each CRYPTO fragment its
// own retransmittable frame, and takes over for every later Initial.
//
// Chrome 156 ("chaos protection", the captures in shared/fingerprints/quic): packet 1 carries the
// hello's first A bytes (A 67..83) and its tail, floor(H/2) - 2 bytes in all; packet 2 the middle.
// Each packet's data is cut into 5..12 fragments (11..20 over both) by splitting a random fragment at a
// random point, sent in random order among 2..10 PINGs (10..18 over both); the rest of the packet is
// PADDING in 1..6 runs (4..11 over both) at random places between the frames, at least 175 bytes per
// packet as captured (a draw leaving less is drawn again).
//
// Firefox 153 (neqo's SNI slicing): the hello is cut in the middle of the server name (Y); with H
// bytes over n packets, packet 1 takes H/n bytes: CRYPTO(tail of [Y, H)) then CRYPTO(0..Y), and
// packet 2 the rest in order (without a server name: in order, still half each). No PING, no
// PADDING: each packet ends after its frames and zero bytes after it fill the datagram (connection.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "quic/transport_shape.h"

struct ngtcp2_conn;

namespace ctn::quic {

struct FirstFlightFrame {
  enum class Type : uint8_t { kCrypto, kPing, kPadding };
  size_t packet = 0;  // 0-based: which first-flight packet it goes in
  Type type = Type::kCrypto;
  uint64_t offset = 0;  // kCrypto: offset in the crypto stream
  size_t length = 0;    // kCrypto: data bytes; kPadding: bytes
};

// The bytes a first-flight frame takes in the packet (RFC 9000 §19: minimal varints, as ngtcp2 writes).
size_t frame_size(const FirstFlightFrame& frame);

// The middle of the server name in a ClientHello handshake message (where neqo cuts it), or 0 when it
// has none or does not parse.
size_t server_name_midpoint(std::string_view hello);

// The frames of the first flight for `hello` in packets whose frames may take `capacity[i]` bytes
// each (a packet that fills its datagram). Empty: the layout is ngtcp2's (CryptoLayout::kNgtcp2, or a
// hello the two packets cannot hold).
std::vector<FirstFlightFrame> plan_first_flight(CryptoLayout layout, std::string_view hello,
                                                const size_t (&capacity)[2], RandomBytes random_bytes);

// What the first Initial packets' headers take, for their capacity.
struct InitialHeader {
  size_t dcid_length = 0;
  size_t scid_length = 0;
  uint32_t first_packet_number = 0;
  uint8_t packet_number_length_after_first = 0;  // TransportShape's (0: ngtcp2's shortest)
  size_t length_field_width = 4;                 // 2 with TransportShape::length_field_width 2, else 4
  uint32_t datagram_size = 0;
};

// The frame bytes a first-flight Initial packet `index` (0, 1) can carry when it fills the datagram.
size_t initial_capacity(const InitialHeader& header, size_t index);

// Plans `shape`'s layout for the ClientHello queued in `conn` (a client before its first write) and
// hands it to ngtcp2. Returns the number of packets it shapes (0: ngtcp2's own layout), or -1 when
// ngtcp2 refuses it.
int shape_first_flight(ngtcp2_conn* conn, const TransportShape& shape, const InitialHeader& header,
                       RandomBytes random_bytes);

}  // namespace ctn::quic
