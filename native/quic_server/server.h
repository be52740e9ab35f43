// An HTTP/3 server for the echo: ngtcp2 (server side) + nghttp3 (server session) + BoringSSL through
// ngtcp2_crypto_boringssl, on one Asio UDP socket. It exists to observe clients: every connection
// records all its datagrams (both directions, bounded) and its TLS key log, and each complete request
// is handed over with that record so the caller can decode the very connection it arrived on
// (lib/echo/quic-conn.ts). The caller answers later, from any thread, through respond().
//
// Every byte that arrives is hostile. The bounds:
//   connections: at most Options::max_connections at once; Initials beyond are dropped (counted).
//   streams:     at most Options::max_streams_per_connection requests open per connection (QUIC
//                MAX_STREAMS; raised again as requests end); the peer's own uni streams: 3 + 1.
//   bytes:       a request's header section (QPACK, max_field_section_size) and body
//                (max_request_body_bytes; beyond: the stream is reset with H3_EXCESSIVE_LOAD);
//                the recorded datagrams (max_recorded_bytes; beyond: recording stops, flagged).
//   time:        the handshake (handshake_timeout_ms) and QUIC's idle timeout (idle_timeout_ms).
// Datagrams that are not QUIC, truncated Initials, unknown connection IDs and unsupported versions
// are dropped without an answer (no Version Negotiation, no Stateless Reset, no Retry).
//
// Threads: the server lives on the io_context's thread. respond() and close() may be called from
// any thread (they post). The handlers given in Options are called on the io thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/base.h>
#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>

#include "common/error.h"
#include "common/http_types.h"

namespace ctn::quic_server {

// One datagram of a connection as it crossed the socket: `sent` by the server, or received.
struct RecordedDatagram {
  bool sent = false;
  std::string bytes;
};

// A complete request (head and body, the client's FIN seen) and the connection it arrived on.
struct RequestEvent {
  uint64_t connection = 0;  // this server's number for the connection, for respond()
  int64_t stream = -1;
  std::string client;  // "address:port" of the client
  HeaderList fields;   // every field line in wire order, pseudo-headers (":method", ...) included
  std::string body;
  // The connection so far: every datagram (received up to and including the one that completed this
  // request, and what the server sent before it) and the TLS key log (NSS SSLKEYLOGFILE lines).
  std::vector<RecordedDatagram> datagrams;
  std::string key_log;
  bool recording_truncated = false;  // max_recorded_bytes was reached: later datagrams are missing
  // With Options::report_hellos: the ClientHello as it arrived (the outer one under ECH), the
  // decrypted ClientHelloInner ("" unless ECH was accepted), whether ECH was accepted, and the SNI
  // the handshake went by (the inner hello's when accepted; "" when none).
  std::string client_hello;
  std::string inner_client_hello;
  bool ech_accepted = false;
  std::string server_name;
};

// A datagram that begins with a long-header packet (a client's Initial, Handshake or 0-RTT), as it
// arrived, for a first-flight view that must exist even when the handshake never completes.
struct LongHeaderDatagram {
  std::string bytes;
  std::string client;  // "address:port"
};

struct Reply {
  int status = 200;
  HeaderList headers;  // lower-case names; connection-specific ones are dropped
  std::string body;
};

struct Options {
  asio::ip::udp::endpoint listen{asio::ip::make_address("127.0.0.1"), 0};
  std::string certificate_pem;  // the certificate chain, leaf first (PEM)
  std::string private_key_pem;  // PEM
  size_t max_connections = 64;
  uint64_t max_streams_per_connection = 16;
  size_t max_request_body_bytes = 1 << 20;
  size_t max_recorded_bytes = 4 << 20;
  size_t max_recorded_datagrams = 4096;
  uint32_t handshake_timeout_ms = 10'000;
  uint32_t idle_timeout_ms = 30'000;
  // The QPACK dynamic table the server lets clients use (SETTINGS_QPACK_MAX_TABLE_CAPACITY and
  // SETTINGS_QPACK_BLOCKED_STREAMS): with a table, a client's encoder behaviour becomes visible; 0
  // behaves like caddy (literals only).
  uint64_t qpack_max_table_capacity = 4096;
  uint64_t qpack_blocked_streams = 16;
  // Whether each request reports its connection's hellos (RequestEvent::client_hello and after), to
  // see a client's Encrypted ClientHello (RFC 9849).
  bool report_hellos = false;
  // Optional: called with the server's TLS context before each new connection's handshake (1, 2,
  // ...), e.g. to give it ECH keys or change them between connections (SSL_CTX_set1_ech_keys; with
  // none every offer is rejected without retry configs), as the echo's TCP endpoint
  // (native/ech_server) holds them.
  std::function<void(SSL_CTX* ctx, uint64_t connection)> before_connection;
  // Called for each complete request. The server answers when respond() is called for it; until then
  // the stream stays open (it counts against max_streams_per_connection).
  std::function<void(RequestEvent&&)> on_request;
  // Optional: each datagram starting with a long-header packet sent to a client's first DCID (at most 16
  // per connection), and every long-header datagram for no connection of ours (those the server refuses
  // included: truncated, too short, beyond max_connections), for first-flight views. Bound it yourself.
  std::function<void(LongHeaderDatagram&&)> on_long_header_datagram;
};

struct Stats {
  uint64_t connections_accepted = 0;
  uint64_t connections_refused = 0;  // max_connections reached
  uint64_t datagrams_dropped = 0;    // not QUIC, unknown connection, refused by ngtcp2
  uint64_t connections_open = 0;
  uint64_t requests = 0;
};

class Server {
 public:
  // Opens the socket and loads the certificate; null with *error on failure (ERR_INVALID_OPTION for a
  // certificate or key that does not load, ERR_CONNECT for a socket that cannot bind).
  static std::shared_ptr<Server> create(asio::io_context& io, Options options, Error* error);
  virtual ~Server() = default;

  virtual uint16_t port() const = 0;
  // Answers the request `stream` of `connection` (any thread). A connection or stream that is gone
  // (closed, reset by the client, timed out) makes it a no-op.
  virtual void respond(uint64_t connection, int64_t stream, Reply reply) = 0;
  // Closes every connection (CONNECTION_CLOSE) and the socket (any thread).
  virtual void close() = 0;
  // On the io thread only.
  virtual Stats stats() const = 0;
  // Takes one datagram as if it had arrived on the socket from `from` (io thread; the fuzz target's
  // door: test/fuzz/quic_server_datagram_fuzz.cc). What the server answers goes to `from`.
  virtual void receive(std::string_view datagram, const asio::ip::udp::endpoint& from) = 0;
};

}  // namespace ctn::quic_server
