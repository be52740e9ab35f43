// Payloads of the link's frames. Decoders are strict: a payload that does not parse exactly (short,
// trailing bytes, out-of-range values) is a protocol error that closes the link it came on.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"
#include "core/request.h"

namespace ctn::mux {

// Link v3 authenticated with nonces and proofs; from v4 the kernel vouches for the peer's user
// (SO_PEERCRED on a Unix socket). HELLO keeps the 32 bytes, sent as zeros and ignored.
using Nonce = std::array<uint8_t, 32>;

// Eight bytes that open every HELLO: a peer that does not start with them is not ours.
inline constexpr std::string_view kMagic{"CTNLINK\x01", 8};

struct Hello {
  uint16_t version = 0;
  uint32_t pid = 0;
  Nonce reserved{};
};
std::string encode_hello(const Hello& h);
// False when the payload is not a HELLO of ours at all (no magic); a version mismatch decodes.
bool decode_hello(std::string_view payload, Hello* h);

struct Ready {
  uint32_t stream_window = 0;  // body bytes the host may send per stream before a WINDOW
  uint32_t host_pid = 0;
};
std::string encode_ready(const Ready& r);
bool decode_ready(std::string_view payload, Ready* r);

// A request without its body (the body follows in REQUEST_BODY frames). The id is the frame's
// stream; custom_profile is not sent: the host composes it again from `fingerprint`.
std::string encode_request(const RequestSpec& spec);
// `body_size`: the size of the body the REQUEST_BODY frames will carry.
bool decode_request(std::string_view payload, RequestSpec* spec, uint64_t* body_size, std::string* why);

// A HEAD carries its connection's fingerprint (response.fingerprint) in full once, and then, while
// the responses on one link keep coming over the same connection, as "the one before": each end
// keeps the last fingerprint of each link here (the host per peer, the client per link). Without
// one (nullptr) the fingerprint always goes in full and "the one before" does not decode.
struct LinkFingerprint {
  std::shared_ptr<const fingerprint::ConnectionFingerprint> last;
};
std::string encode_head(const ResponseHead& head, const ConnectionInfo& connection,
                        LinkFingerprint* sent = nullptr);
bool decode_head(std::string_view payload, ResponseHead* head, ConnectionInfo* connection,
                 LinkFingerprint* received = nullptr);

// Codes and stages travel by name, so the two ends never depend on enum order.
std::string encode_error(const Error& error);
bool decode_error(std::string_view payload, Error* error);

struct ClientLimitsMessage {
  uint32_t max_in_flight = 0;
  uint32_t max_queued = 0;
};
std::string encode_client_limits(const ClientLimitsMessage& m);
bool decode_client_limits(std::string_view payload, ClientLimitsMessage* m);

std::string encode_u32(uint32_t v);
bool decode_u32(std::string_view payload, uint32_t* v);
std::string encode_u64(uint64_t v);
bool decode_u64(std::string_view payload, uint64_t* v);

}  // namespace ctn::mux
