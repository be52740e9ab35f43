// What a connection's first flight says about the client, as fingerprinting services write it:
// JA3 / JA3N (Salesforce's JA3), JA4 / JA4_r (FoxIO's JA4: `t` over TCP, `q` in QUIC) of the
// ClientHello as it was written, and the Akamai HTTP/2 string of the frames our session sent.
// Pure functions over bytes and frame facts: no I/O, no TLS object. The echo server's TypeScript
// (lib/echo/ja.ts, lib/echo/h2.ts akamaiString) computes the same strings from what it received;
// test/integration/response-fingerprint.test.js holds the two equal.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ctn::fingerprint {

// JA4's first character: the transport that carried the hello.
enum class Transport : char { kTcp = 't', kQuic = 'q' };

// JA3N, JA4 and JA4_r: everything they read but the extensions' order. One preset's hellos differ
// only in that order (Chrome permutes it per connection), GREASE values and random bytes, so these
// are computed once per hello shape and shared by every connection of that shape.
struct OrderFreeFingerprint {
  std::string ja3n;  // JA3 with the extensions sorted (stable when a browser permutes them)
  std::string ja4;   // a_b_c with b and c hashed
  std::string ja4r;  // JA4 unhashed (sorted lists)
};

struct TlsFingerprint {
  std::string ja3;  // version,ciphers,extensions,groups,point_formats: decimal, GREASE removed
  std::shared_ptr<const OrderFreeFingerprint> order_free;  // null: none computed (all three "")
  bool offers_ech = false;  // the hello carried encrypted_client_hello (real or GREASE)

  const std::string& ja3n() const { return order_free ? order_free->ja3n : empty(); }
  const std::string& ja4() const { return order_free ? order_free->ja4 : empty(); }
  const std::string& ja4r() const { return order_free ? order_free->ja4r : empty(); }

 private:
  static const std::string& empty() {
    static const std::string& none = *new std::string;  // never destroyed: threads run past exit()
    return none;
  }
};

// `hello`: one ClientHello handshake message as written (type 1, 24-bit length, body). False for
// bytes that are not one whole ClientHello; never reads past `hello`.
bool tls_fingerprint(std::string_view hello, Transport transport, TlsFingerprint* out);

// The HTTP/2 frames the Akamai string is made of, as the client's session sent them before (and
// with) its first request: the first SETTINGS, the connection WINDOW_UPDATE, the PRIORITY frames,
// and the pseudo-header order of the first HEADERS.
struct H2Priority {
  uint32_t stream_id = 0;
  bool exclusive = false;
  uint32_t depends_on = 0;
  uint16_t weight = 16;  // 1..256, as the frame's byte + 1
  bool operator==(const H2Priority&) const = default;
};
struct H2FirstFlight {
  std::vector<std::pair<uint16_t, uint32_t>> settings;  // id, value in wire order
  std::optional<uint32_t> connection_window_update;
  std::vector<H2Priority> priority_frames;
  std::vector<std::string> pseudo_headers;  // ":method", ... in wire order
  bool settings_sent = false;
  bool headers_sent = false;  // the first request's HEADERS went out: the flight is complete
};

// `S|WU|P|PS`: settings "id:value;...", the window increment ("00" without one), the PRIORITY
// frames "stream:exclusive:depends_on:weight,..." ("0" without any), pseudo-headers as m,a,s,p.
std::string akamai(const H2FirstFlight& flight);

// Whether the hello carried encrypted_client_hello, and if so whether it was a real one the server
// accepted or GREASE.
enum class EchSent { kNone, kGrease, kReal };
std::string_view ech_name(EchSent ech);

// Everything the engine reports about the client side of one connection, computed once per
// connection and shared by every response over it.
struct ConnectionFingerprint {
  TlsFingerprint tls;
  std::string akamai;  // HTTP/2 only
  bool quic = false;   // the hello went in QUIC: quic_ja4() is its JA4 (`q...`)
  EchSent ech = EchSent::kNone;
  bool resumed = false;  // the handshake resumed an earlier session (pre_shared_key accepted)

  // HTTP/3 only: the QUIC hello's JA4; "" over TCP.
  const std::string& quic_ja4() const {
    static const std::string& none = *new std::string;  // never destroyed: threads run past exit()
    return quic ? tls.ja4() : none;
  }
};

}  // namespace ctn::fingerprint
