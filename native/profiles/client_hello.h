// A captured TLS ClientHello (cycletls's `quicFingerprint`: hex of a TLS record, a handshake message
// or the bare ClientHello body) parsed into the TlsProfile that makes this stack send that hello
// again: cipher suites, extension order as given, groups, key-share groups, signature algorithms,
// ALPN, ALPS, supported_versions, certificate compression, record_size_limit, delegated
// credentials, ECH GREASE, GREASE, padding. What is drawn per connection (random, key shares, GREASE
// values, the ECH payload) is not kept. What the stack cannot send exactly is refused, naming it.
// Transport-independent: quic/hello_fingerprint.h adds extension 57 for QUIC.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "profiles/profile.h"

namespace ctn {

// The longest hello accepted (bytes, after hex decoding): a record's worth and then some.
constexpr size_t kMaxClientHelloBytes = 32 * 1024;

struct ParsedClientHello {
  TlsProfile tls;
  bool server_name_sent = false;  // server_name (0) present
  std::string server_name;        // its host_name ("" when absent)
  size_t session_id_length = 0;   // legacy_session_id's length (BoringSSL sends 32 over TCP, 0 in QUIC)
  bool quic_transport_parameters_sent = false;  // extension 57 present
  std::string quic_transport_parameters;        // extension 57's body, as given
};

enum class HelloRefusal : uint8_t {
  kMalformed,    // not a ClientHello (hex, framing, lengths): the caller's input is wrong
  kUnsupported,  // a ClientHello, but something in it this stack cannot send exactly
};

// Hex (whitespace and ':' tolerated, an optional "0x", everything from "@@" on ignored) to bytes.
bool decode_hello_hex(std::string_view text, std::string* bytes, std::string* why);

// `bytes`: a TLS handshake record (0x16), a handshake message (0x01) or the bare ClientHello body.
// False with `why` naming the element and `refusal` saying whose fault it is.
bool parse_client_hello(std::string_view bytes, ParsedClientHello* out, std::string* why,
                        HelloRefusal* refusal);

}  // namespace ctn
