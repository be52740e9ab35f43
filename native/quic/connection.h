// One client QUIC connection carrying HTTP/3 (RFC 9000/9001/9114): ngtcp2 for QUIC, BoringSSL for
// the handshake (ngtcp2_crypto_boringssl), nghttp3 through http3::ClientSession for HTTP/3, and one
// Asio UDP socket on the caller's io_context. Beast style: one object per connection, each step a
// handler named for its stage (on_datagram, on_expiry, on_handshake_deadline, ...), one deadline per
// stage, nothing thrown out of a handler.
//
// Stages and their deadlines:
//   handshake: from start() until the handshake completes (Options::handshake_timeout_ms)
//              -> ERR_TIMEOUT, stage tls; a TLS alert -> ERR_TLS_HANDSHAKE / ERR_TLS_CERT; a rejected
//              Encrypted ClientHello -> ERR_ECH_REJECTED (Options::ech_rejected).
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
// or, streamed (the engine's way): open_stream(request, listener) returns a handle; the listener
// gets the head, the body as it arrives and one on_end; write_body() feeds a streamed request body
// (flow control paces it; on_body_sent reports what the server acknowledged), set_paused() holds
// the body back (no flow-control credit goes back to the server), cancel_stream() resets the stream
// (RESET_STREAM + STOP_SENDING, H3_REQUEST_CANCELLED) and nothing more is reported for it.
//
// CTN_QUIC_CONNECTION_DUMP_DIR=<dir> (tests only; off by default): each connection writes its datagrams
// (both directions) and its TLS key log there, for lib/echo's decoder (see ConnectionDump in the .cc).
//
// Browser shape: Options::transport gives a browser's connection IDs, transport parameters, first
// packet number, padding and the CRYPTO/PING/PADDING layout of the first flight (transport_shape.h,
// crypto_layout.h), Options::shape_client_hello its ClientHello (docs/quic-gap.md says field by field
// what still differs from Chrome and Firefox).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

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
  uint32_t read_timeout_ms = 30'000;  // 0: none (the engine runs its own deadlines)
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
  // After a failed handshake: whether the server rejected a real Encrypted ClientHello that
  // shape_client_hello_ssl set up, and if so its retry configs ("" = none). Reading BoringSSL's
  // reason is the TLS layer's (tls_context's ech_rejected). True fails the connection with
  // ERR_ECH_REJECTED (stage tls), its retry configs kept in ech_retry_configs(): whoever opened the
  // connection decides on the retry. Empty: a rejection is a plain handshake failure.
  std::function<bool(SSL* ssl, std::string* retry_configs)> ech_rejected;
};

struct Request {
  std::string method = "GET";
  std::string authority;  // :authority
  std::string path = "/";
  HeaderList headers;
  // The request body: `body` first; with body_stream the rest follows through write_body().
  std::string body;
  bool body_stream = false;
};

struct Response {
  ResponseHead head;  // version 3.0
  std::string body;
};

// A settled request: `error` null and the whole response, or the error.
using ResponseHandler = std::function<void(const Error* error, Response&& response)>;

// The events of one request of open_stream(), on the io thread. Nothing follows on_end.
class StreamListener {
 public:
  virtual ~StreamListener() = default;
  // The final response head (version 3.0).
  virtual void on_head(ResponseHead&& head) = 0;
  // A slice of the body, valid during the call only.
  virtual void on_body(std::string_view bytes) = 0;
  // The request is over: `error` null after a complete response.
  virtual void on_end(const Error* error) = 0;
  // `n` more bytes of the request body were acknowledged by the server.
  virtual void on_body_sent(uint64_t n) { (void)n; }
};

// The connection's own events, for whoever pools it (on the io thread).
class ConnectionListener {
 public:
  virtual ~ConnectionListener() = default;
  // The handshake completed: requests go out now.
  virtual void on_established() = 0;
  // The connection is over (every stream got its on_end first).
  virtual void on_closed(const Error& why) = 0;
};

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

  // Streamed requests (see above). The handle is never 0.
  virtual uint64_t open_stream(Request request, std::shared_ptr<StreamListener> listener) = 0;
  virtual void write_body(uint64_t handle, std::string chunk, bool end) = 0;
  virtual void set_paused(uint64_t handle, bool paused) = 0;
  virtual void cancel_stream(uint64_t handle) = 0;
  // Requests open or waiting for a stream.
  virtual size_t open_streams() const = 0;
  virtual bool closed() const = 0;
  // Held weakly: events stop when the listener is gone.
  virtual void set_listener(std::weak_ptr<ConnectionListener> listener) = 0;
  // The TLS connection (the negotiated version and cipher), once established; else null.
  virtual const SSL* tls() const = 0;
  // The server's ECH retry configs after a failure with ERR_ECH_REJECTED ("" = none, or no such failure).
  virtual const std::string& ech_retry_configs() const = 0;
};

}  // namespace ctn::quic
