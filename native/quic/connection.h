// One client QUIC connection carrying HTTP/3 (RFC 9000/9001/9114): ngtcp2 for QUIC, BoringSSL for
// the handshake (ngtcp2_crypto_boringssl), nghttp3 through http3::ClientSession for HTTP/3, and one
// Asio UDP socket on the caller's io_context. Beast style: one object per connection, each step a
// handler named for its stage (on_datagram, on_expiry, on_handshake_deadline, ...), one deadline per
// stage, nothing thrown out of a handler.
//
// Stages and their deadlines:
//   handshake: from start() until the handshake completes (Options::handshake_timeout_ms)
//              -> ERR_TIMEOUT, stage tls; a TLS alert -> ERR_TLS_HANDSHAKE / ERR_TLS_CERT.
//   read:      per request, from the moment it is sent until its head arrives (stage headers), then
//              between body bytes (stage body) (Options::read_timeout_ms) -> ERR_TIMEOUT.
//   idle:      QUIC's max_idle_timeout (Options::idle_timeout_ms): the connection closes silently;
//              requests still open fail with ERR_CONNECTION_CLOSED (no head) / ERR_BODY_TRUNCATED.
// The server closing the connection (CONNECTION_CLOSE) or resetting a stream fails the requests it
// cuts with ERR_CONNECTION_CLOSED or ERR_PROTOCOL (no head yet) / ERR_BODY_TRUNCATED (mid-body).
//
// Lifetime: the connection keeps itself alive (its pending handlers hold it) until close(), a
// failure or the idle timeout; dropping the last outside reference does not end it.
//
// Usage (on the io_context's thread):
//   auto c = quic::ClientConnection::create(io, options);
//   c->fetch(request, [](const ctn::Error* err, quic::Response&& res) { ... });   // any number
//   c->start();   // before or after fetch(); requests wait for the handshake
//   c->close();   // fails what is still open with ERR_ABORTED, sends CONNECTION_CLOSE
//
// Browser shape: Options::transport gives a browser's connection IDs, transport parameters, first
// packet number and padding (transport_shape.h), Options::shape_client_hello its ClientHello. Not yet
// browser-exact: the CRYPTO/PING/PADDING layout of the Initials is ngtcp2's (docs/quic-gap.md says
// field by field what differs from Chrome and Firefox).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <openssl/base.h>
#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>

#include "common/error.h"
#include "common/http_types.h"
#include "profiles/profile.h"
#include "quic/transport_shape.h"

namespace ctn::quic {

struct Options {
  asio::ip::udp::endpoint server;
  // SNI and the name the certificate must carry; an IP literal is sent without SNI and checked
  // against the certificate's IP addresses. Empty: no SNI, no name check.
  std::string server_name;
  // Certificate checks: verify against ca_file (PEM) or the system store when empty; off: none.
  bool verify = true;
  std::string ca_file;
  // The size of every datagram ngtcp2 builds, padded Initials included (Chrome: 1250, Firefox: 1252);
  // 1200..1452. 0: ngtcp2's own shaping (1200 bytes, raised by path MTU discovery).
  uint32_t datagram_size = 0;
  uint32_t handshake_timeout_ms = 10'000;
  uint32_t idle_timeout_ms = 30'000;
  uint32_t read_timeout_ms = 30'000;
  // Shapes the QUIC ClientHello: called once on this connection's own SSL_CTX, after ngtcp2 set its
  // QUIC callbacks and before the SSL object exists (groups, key shares, extension order, GREASE,
  // ALPS, certificate compression: what native/tls does for a profile over TCP). False with *error
  // fails the connection with that error. Empty: BoringSSL's defaults (docs/quic-gap.md).
  std::function<bool(SSL_CTX* ctx, Error* error)> shape_client_hello;
  // Connection-ID lengths, transport parameters, first packet number, datagram size and padding
  // (chrome_156_transport(), firefox_153_transport()). With parameters listed, their values are what
  // the connection enforces (max_idle_timeout replaces idle_timeout_ms); with none, ngtcp2 encodes
  // its own, from idle_timeout_ms and our window sizes.
  TransportShape transport;
  // The rest of that shaping, which BoringSSL takes per SSL object (ALPS, trust_anchors, ECH
  // GREASE): called once on the connection's SSL after ALPN, before SNI and the first flight.
  std::function<bool(SSL* ssl, Error* error)> shape_client_hello_ssl;
  // The HTTP/3 layer's shape (Profile::http3): SETTINGS, GREASE, PRIORITY_UPDATE, QPACK. Default:
  // nghttp3's own.
  Http3Profile http3;
};

struct Request {
  std::string method = "GET";
  std::string authority;  // :authority
  std::string path = "/";
  HeaderList headers;
};

struct Response {
  ResponseHead head;  // version 3.0
  std::string body;
};

// A settled request: `error` null and the whole response, or the error.
using ResponseHandler = std::function<void(const Error* error, Response&& response)>;

class ClientConnection {
 public:
  static std::shared_ptr<ClientConnection> create(asio::io_context& io, Options options);
  virtual ~ClientConnection() = default;

  // Opens the socket and sends the first flight. Failures settle every request (and later ones).
  virtual void start() = 0;
  // Queues a request; `done` is called exactly once, on the io thread.
  virtual void fetch(Request request, ResponseHandler done) = 0;
  // Ends the connection: open requests fail with ERR_ABORTED; a CONNECTION_CLOSE goes out.
  virtual void close() = 0;
  // The handshake completed (for tests and the pool).
  virtual bool established() const = 0;
};

}  // namespace ctn::quic
