// What a browser puts in the QUIC first flight outside the TLS ClientHello's own fields: the
// connection-ID lengths and the transport parameters (RFC 9000 §18), as data, encoded by us in the
// listed order so that unknown ids (google_connection_options, min_ack_delay), GREASE parameters
// and the RFC 9368 version_information (id 0x11) reach the wire. ngtcp2 only ever sees the values
// it must act on (flow-control windows, timeouts); the bytes in extension 57 are ours.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ctn::quic {

// RFC 9000 §18.2, RFC 9221, RFC 9368 and the drafts browsers send.
namespace transport_param {
constexpr uint64_t kMaxIdleTimeout = 0x01;
constexpr uint64_t kMaxUdpPayloadSize = 0x03;
constexpr uint64_t kInitialMaxData = 0x04;
constexpr uint64_t kInitialMaxStreamDataBidiLocal = 0x05;
constexpr uint64_t kInitialMaxStreamDataBidiRemote = 0x06;
constexpr uint64_t kInitialMaxStreamDataUni = 0x07;
constexpr uint64_t kInitialMaxStreamsBidi = 0x08;
constexpr uint64_t kInitialMaxStreamsUni = 0x09;
constexpr uint64_t kMaxAckDelay = 0x0b;
constexpr uint64_t kActiveConnectionIdLimit = 0x0e;
constexpr uint64_t kInitialSourceConnectionId = 0x0f;
constexpr uint64_t kVersionInformation = 0x11;  // RFC 9368
constexpr uint64_t kMaxDatagramFrameSize = 0x20;
constexpr uint64_t kGoogleConnectionOptions = 0x3128;
constexpr uint64_t kMinAckDelayDraft = 0xff02de1a;  // draft-ietf-quic-ack-frequency
}  // namespace transport_param

struct TransportParameter {
  enum class Kind : uint8_t {
    kVarint,                     // `value` as a QUIC varint (minimal width)
    kBytes,                      // `bytes` as they are
    kInitialSourceConnectionId,  // the connection's SCID
    kVersionInformation,         // chosen v1; others v1 and one GREASE version (grease_version_first)
    kGrease,                     // id 31*N+27 (8-byte varint), 1..15 random bytes
  };
  Kind kind = Kind::kVarint;
  uint64_t id = 0;
  uint64_t value = 0;
  std::string bytes;
  bool grease_version_first = false;  // kVersionInformation: GREASE first (Firefox); else random (Chrome)
};

// Where the ClientHello's CRYPTO data, PINGs and PADDING sit in the first flight (crypto_layout.h).
enum class CryptoLayout : uint8_t {
  kNgtcp2,           // in offset order, as many bytes per packet as fit, PADDING at the end
  kChromeChaos,      // Chrome's chaos protection: 11..20 fragments in random order, PINGs, PADDING runs
  kFirefoxSniSlice,  // neqo: cut in the server name, tail first, half the hello per packet
};

// Fills `out` with `n` random bytes.
using RandomBytes = void (*)(uint8_t* out, size_t n);

struct TransportShape {
  // The client's first Destination Connection ID is dcid_min..dcid_max random bytes (RFC 9000: 8..20).
  uint8_t dcid_min = 18;
  uint8_t dcid_max = 18;
  uint8_t scid_length = 17;  // 0 (Chrome: ngtcp2 then issues no further connection IDs) .. 20
  bool shuffle = false;      // a fresh order per connection (Chrome)
  // The first Initial's packet number: drawn from one of these ranges, picked with the given weights
  // (ngtcp2 patch 0002). Empty: 0, ngtcp2's own start.
  struct NumberRange {
    uint32_t weight, min, max;
  };
  std::vector<NumberRange> first_packet_number;
  // The shortest packet-number encoding of every Initial after the first (Chrome: 2); 0: ngtcp2's.
  uint8_t packet_number_length_after_first = 0;
  // The size of every datagram (Chrome 1250, Firefox 1252) when Options::datagram_size is 0.
  uint32_t datagram_size = 0;
  // Firefox's padding: until the server is heard, zero bytes after an Initial packet fill the
  // datagram; a shaped first-flight packet is as long as its frames (crypto_layout.h), a later one
  // takes this many bytes plus the DCID's length. 0: ngtcp2 pads the packet itself to the datagram
  // size with PADDING frames (Chrome).
  uint32_t initial_packet_size = 0;
  // The first flight's frame layout (ngtcp2 patch 0003); later Initials are ngtcp2's.
  CryptoLayout crypto_layout = CryptoLayout::kNgtcp2;
  // The width of the long header's Length field: 2 (both browsers), or 0 for ngtcp2's 4 (patch 0004).
  uint8_t length_field_width = 0;
  // In wire order (when not shuffled). Empty: ngtcp2 encodes its own (connection.cc's defaults).
  std::vector<TransportParameter> parameters;
};

// Chromium 156 and Firefox ESR 153 (shared/fingerprints/quic/README.md).
TransportShape chrome_156_transport();
TransportShape firefox_153_transport();

// The first DCID's length, uniform in dcid_min..dcid_max.
uint8_t draw_dcid_length(const TransportShape& shape, void (*random_bytes)(uint8_t* out, size_t n));

// Every first_packet_number range has min <= max < 2^30 and a weight; the PN length is 0..4.
bool valid_first_packet_numbers(const TransportShape& shape);

// A uniform draw from [0, n), n > 0.
size_t random_below(size_t n, RandomBytes random_bytes);

// A first packet number drawn from shape.first_packet_number (0 when it is empty).
uint32_t draw_first_packet_number(const TransportShape& shape, void (*random_bytes)(uint8_t* out, size_t n));

// The value of a kVarint parameter `id` in `shape`, or `otherwise` when it is absent.
uint64_t transport_value(const TransportShape& shape, uint64_t id, uint64_t otherwise);

// Extension 57's body for this connection: the parameters in order (shuffled when asked), with the
// randomised parts drawn from `random_bytes`. Wire format: RFC 9000 §18.
std::string encode_transport_parameters(const TransportShape& shape, const std::string& scid,
                                        void (*random_bytes)(uint8_t* out, size_t n));

// A QUIC variable-length integer (RFC 9000 §16) of `width` bytes (1, 2, 4 or 8), or minimal when 0.
void append_varint(std::string& out, uint64_t v, size_t width = 0);

}  // namespace ctn::quic
