// What the engine is asked to do, and what it reports back.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/dns_answer.h"
#include "common/error.h"
#include "common/http_types.h"
#include "fingerprint/fingerprint.h"
#include "profiles/fingerprint_strings.h"
#include "profiles/profile.h"

namespace ctn {

// What a RequestSpec::consumer_credit exchange reads ahead of its consumer before it pauses itself:
// the engine's, and the hub's for a stream of another process. lib/ reads it from the addon
// (constants().consumerCreditBytes) to pace how often it says "go on".
inline constexpr uint64_t kConsumerCreditBytes = uint64_t{2} << 20;

// One HTTP exchange, already validated and normalised by the TypeScript layer.
struct RequestSpec {
  uint64_t id = 0;     // unique per engine, chosen by the caller
  std::string method;  // upper-case token, e.g. "GET"
  bool tls = true;     // https vs http
  std::string host;    // URL host without brackets (IPv6 literal allowed)
  uint16_t port = 443;
  std::string target;  // origin-form: "/path?query"
  HeaderList headers;  // exact order and casing; Host/Content-Length added when absent
  std::string body;
  // The body is not in `body`: it follows after submit through Engine::write_body, as the caller
  // reads it (a stream being uploaded). Sent as it comes: chunked on HTTP/1.1 unless the headers
  // give a Content-Length, DATA frames on HTTP/2. Never re-sent once a byte of it went out.
  bool body_stream = false;
  // An HTTP/1.1 Upgrade (a WebSocket opening handshake, RFC 6455 §4): on a connection of its own,
  // never pooled. A 101 answer turns the connection into a two-way byte pipe: what the server sends
  // arrives as body events, what Engine::write_body gets goes out as it is; the server's EOF, or
  // the caller's end (write_body with end, once what it wrote went out), ends the exchange. The deadlines
  // stop at the 101 (they cover the handshake). Any other answer is an ordinary response. Implies force_http1
  // and body_stream (unless websocket_over_http2).
  bool upgrade = false;
  // With upgrade, a WebSocket opened as Firefox opens it: the profile's own ALPN offer, and a pooled
  // HTTP/2 connection may carry it. What the server picks decides, once its first SETTINGS are in:
  //   http/1.1                              -> the HTTP/1.1 upgrade above, on that connection;
  //   h2 with SETTINGS_ENABLE_CONNECT_PROTOCOL -> an extended CONNECT stream (RFC 8441): `headers`
  //     without Host, Connection, Upgrade and Sec-WebSocket-Key, `:protocol websocket`; a 200 turns
  //     the stream into the byte pipe (DATA both ways), the caller's end sends END_STREAM;
  //   h2 without it                         -> again on a new connection offering http/1.1 only
  //     (the HTTP/1.1 upgrade), as Firefox reconnects; the h2 connection is dropped if it carries
  //     nothing else.
  bool websocket_over_http2 = false;
  // HTTP/3 (lib/ validates it): "" or "off" = TCP only; "force" = QUIC to host:port, never TCP (a
  // profile without an established QUIC fingerprint, a proxy or http:// are refused); "alt-svc" =
  // QUIC when the origin advertised h3 (Alt-Svc) and no proxy is in the way, falling back to TCP
  // silently (and backing off that alternative) when the QUIC attempt fails before its handshake.
  std::string http3;
  std::string server_name;  // SNI override; empty = host (IP literals send no SNI)
  bool insecure_skip_verify = false;
  bool force_http1 = false;
  // The ClientHello of a browser's reconnect with http/1.1 only after an HTTP/2 server could not
  // carry a WebSocket (no RFC 8441): force_http1 plus the profile's differences for that hello
  // (TlsOptions::http1_retry; Firefox leaves out compress_certificate). Implies force_http1; part
  // of the connection's identity.
  bool http1_retry_hello = false;
  std::string profile;  // preset id; empty = the default preset
  // A profile composed from fingerprint strings (JA3, JA4_r, Akamai); wins over `profile`.
  std::shared_ptr<const Profile> custom_profile;
  // `headers` are the profile's HTTP/2 defaults merged with the caller's: should ALPN choose
  // HTTP/1.1, they are written as the browser writes them there (http1::respell_preset_headers).
  bool preset_headers = false;
  // The proxy URL ("" = direct): http, https, socks4, socks4a, socks5 or socks5h, with optional
  // user:password@ (percent-encoded). Validated by the TypeScript layer, parsed again by the engine.
  std::string proxy;
  uint64_t timeout_ms = 0;  // whole exchange: dns, connect, proxy, tls, headers and body; 0 = none
  // The caller wants the body only whole (not streamed): deliver it as one event at the end, so
  // nobody has to concatenate pieces.
  bool whole_body = false;
  // Decode a gzip/deflate/br/zstd Content-Encoding; 0 caps the decoded size at nothing.
  bool decompress = false;
  uint64_t max_decoded_bytes = 0;
  // A whole_body response may not exceed this many bytes, counted after decoding (what the body
  // holds in memory), else ERR_BODY_TOO_LARGE. 0 = no limit. Streamed bodies are not limited.
  uint64_t max_response_bytes = 0;

  // Sharing across processes (native/share).
  // The strings custom_profile was composed from: a request that crosses the process link carries
  // these, and the host composes the same profile again.
  FingerprintInputs fingerprint;
  // If the process hosting the engine goes away before the response head arrived, run the request
  // again on the next host (only honoured for idempotent methods).
  bool retry_on_host_gone = false;
  // The body streams to a consumer that says when it wants more (Engine::set_paused(id, false)):
  // after kConsumerCreditBytes delivered without such a word the exchange pauses itself, so a slow
  // consumer bounds what is read ahead, however fast the server and however late the consumer's
  // own pause arrives. Not sent across the process link (the host's hub paces its own streams).
  bool consumer_credit = false;

  // DNS (native/dns). The name servers to ask instead of the system's: c-ares's list form,
  // "127.0.0.1:5353,[::1]:53" (lib/ validated it); "" = the system's (/etc/resolv.conf).
  std::string dns_servers;
  // The address family to connect with, as Node's `family`: 0 = both (Happy Eyeballs), 4 or 6.
  uint64_t family = 0;

  // Upstream pool and lifecycle (native/pool).
  // The client (one initCycleTLS instance) this request belongs to: per-client limits, fair
  // queueing between clients, Engine::cancel_client. 0 = anonymous (a client of its own).
  uint64_t client_id = 0;
  // Per-phase deadlines beside timeout_ms (0 = none). Each fails the request with the phase as its
  // stage: DNS + TCP connect (ERR_CONNECT_TIMEOUT), TLS handshake (ERR_TIMEOUT "tls"), request
  // written to response head (ERR_TIMEOUT "headers"), and the longest gap between two pieces of
  // the body (ERR_TIMEOUT "body"; time spent paused by the caller does not count).
  uint64_t connect_timeout_ms = 0;
  uint64_t tls_timeout_ms = 0;
  uint64_t headers_timeout_ms = 0;
  uint64_t body_idle_timeout_ms = 0;

  // Identities and rotation (issue #19; PoolKey).
  // The caller's identity ("" = the engine's default one): connections, TLS sessions and Alt-Svc
  // memory are never shared between two identities.
  std::string identity;
  // A connection opened for this request takes at most this many requests (1: a fresh connection
  // for this request alone, closed after it: cycletls's enableConnectionReuse false) and none once
  // it is max_connection_age_ms old; 0 = no limit. Requests reuse only connections of the same limits.
  uint64_t max_requests_per_connection = 0;
  uint64_t max_connection_age_ms = 0;
  // What the host name resolved to, when lib/ resolved it (a caller's `lookup` function, DNS over
  // HTTPS); addresses empty = the engine resolves the name itself. The dialler connects to these
  // addresses (TLS still names `host`/server_name); ignored through a proxy. ttl_seconds is lib's.
  DnsAnswer dns;
  // A real Encrypted ClientHello (RFC 9849) for this host: an ECHConfigList in base64, as curl's
  // `--ech ecl:` takes it (lib/ checked the alphabet). It wins over the one DNS's HTTPS record
  // gives. "" = whatever DNS gives, else the profile's ECH GREASE. Not part of the connection's
  // identity (Chrome pools by destination, never by ECH config): a pooled connection is reused.
  std::string ech_config_list;
};

// Facts about the connection a response came over (for tests, stats and the demo).
struct ConnectionInfo {
  uint64_t connection_id = 0;
  bool reused = false;
  std::string alpn;          // "http/1.1", "h2" or "" (none negotiated)
  std::string tls_version;   // "TLSv1.3", ... ; empty for plain HTTP
  std::string cipher;        // IANA-style name
  bool tls_resumed = false;  // the TLS handshake resumed a session of an earlier connection
  // What the connection sent (response.fingerprint), made once per connection and shared by every
  // response over it; null for plain HTTP.
  std::shared_ptr<const fingerprint::ConnectionFingerprint> fingerprint;
};

struct Event {
  // kNotice: not about a request (id 0): the shared instance's role changed ("host", "client"),
  // it could not start ("failed", with error), or something the user should know ("warning").
  // kSent: `sent` more bytes of a streamed request body (Engine::write_body) left for the server
  // (written to the socket, or taken by HTTP/2 flow control): the caller's cue to write more.
  enum class Kind { kHead, kBody, kEnd, kError, kNotice, kSent };
  Kind kind = Kind::kEnd;
  uint64_t id = 0;
  ResponseHead head;          // kHead
  ConnectionInfo connection;  // kHead
  std::string body;           // kBody; kHead: the first body bytes, when EventQueue merged them in
  bool ended = false;         // kHead: the response's end was merged in too (EventQueue)
  Error error;                // kError, kNotice "failed"
  std::string notice;         // kNotice
  uint64_t sent = 0;          // kSent
};

// Receives engine events on the io thread; must not block.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void deliver(Event&& event) = 0;
};

}  // namespace ctn
