// The upstream connection pool: connections grouped by identity (PoolKey), the connection limits,
// idle HTTP/1.1 connections (LIFO), HTTP/2 sessions taking streams, the cold-origin guard (one
// connection attempt per identity that may turn out HTTP/2, which identities known to answer
// HTTP/1.1 go without), eviction of idle connections to make
// room, and the live per-identity counts origin_stats() reads. io thread only, except
// snapshot(), which any thread may call.
// The pool sits below the connections: it sees them only as PooledConnection (what it asks of
// one), so it is built and tested without an engine or a socket (test/native/pool_test.cc).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

namespace ctn {

// Connection identity: never cookies, user agent, timeouts or redirect policy.
struct PoolKey {
  bool tls = true;
  std::string host;
  uint16_t port = 0;
  std::string proxy;        // proxy::canonical_url, credentials included ("" = direct)
  std::string server_name;  // SNI (and the name the certificate must match)
  std::string profile;      // profile id (composed profiles' ids name their fingerprint strings)
  bool verify = true;
  bool http1_only = false;   // the ALPN constraint
  bool http1_retry = false;  // the hello of a WebSocket's http/1.1-only reconnect (TlsOptions::http1_retry)
  // HTTP/3: the UDP endpoint QUIC goes to (the origin's own, or an Alt-Svc alternative's); port 0:
  // a TCP connection. Connections of both kinds to one origin are distinct identities.
  std::string quic_host;
  uint16_t quic_port = 0;
  // The caller's identity (issue #19: the `identity` option; "" = the engine's default one). Nothing
  // of one identity serves another: its connections, TLS sessions (tls_session_key) and Alt-Svc
  // memory (alt_svc_key) are its own.
  std::string identity;
  // Rotation: a connection of this key takes at most max_requests requests and none once it is
  // max_age_ms old (0 = no limit); past either it closes when idle. Connections of different limits
  // are distinct, so a request never lands on a connection kept under another policy.
  uint64_t max_requests = 0;
  uint64_t max_age_ms = 0;
  // The addresses the caller resolved the host to (lib's `lookup` or DNS over HTTPS), sorted and
  // joined by ","; "" = the engine resolves. Chrome pools by host, not by address, and so do we
  // for the engine's own answers; but a caller who names addresses (a pinned backend, a split
  // horizon) must never be handed a connection dialled elsewhere. Sorted: the same set in another
  // order (a round-robin answer) shares its connections.
  std::string dial_addresses;
  bool http3() const { return quic_port != 0; }
  auto tie() const {
    return std::tie(tls, host, port, proxy, server_name, profile, verify, http1_only, http1_retry, quic_host,
                    quic_port, identity, max_requests, max_age_ms, dial_addresses);
  }
  bool operator<(const PoolKey& o) const { return tie() < o.tie(); }
  bool operator==(const PoolKey& o) const { return tie() == o.tie(); }
};

// "https://host:port [profile]", plus " via proxy", " sni=name", " insecure", " http1",
// " http1-retry", " dns=addresses", " h3" (" h3=host:port" for an alternative endpoint),
// " identity=\"name\"", " max-requests=N", " max-age=Nms" when they differ from the defaults, so
// that distinct keys read differently.
std::string describe(const PoolKey& key);

// PoolKey::dial_addresses for a caller's answer: the addresses sorted and joined by ",".
std::string dial_address_set(std::vector<std::string> addresses);

// The key under which a connection's TLS sessions are kept: its identity without the ALPN variant
// (a browser resumes a site's session whatever protocols the new connection offers: Firefox's
// WebSocket reconnect with http/1.1 only resumes the session of the HTTP/2 connection before it)
// and without the rotation limits (a policy of the pool, not a different client). The caller's
// identity stays in it: one identity never resumes another's session.
std::string tls_session_key(const PoolKey& key);

// The pool's limits; 0 = unlimited. The defaults and the meaning of each are EngineOptions'
// (core/engine.h), which hands these to its pool.
struct PoolLimits {
  size_t max_idle_per_origin = 0;
  size_t max_connections_per_origin = 0;
  size_t max_connections = 0;
  size_t max_h2_sessions_per_origin = 0;  // 0 counts as 1
};

// Live counts of one identity; written by its connections on the io thread, read from anywhere.
struct OriginCounters {
  std::atomic<uint64_t> open{0}, idle{0}, connecting{0}, h2_streams{0};
};

// One connection identity's share of the pool now.
struct OriginStats {
  std::string key;    // "https://host:port [profile]" (+ " sni=..", " insecure", " http1")
  uint64_t open = 0;  // connections, set up or being set up
  uint64_t idle = 0;
  uint64_t connecting = 0;
  uint64_t h2_streams = 0;  // HTTP/2 streams open (those waiting for a stream slot included)
};

// What the pool asks of a connection. A connection tells the pool of its own changes (park,
// http2_ready, remove on close); close() and retire() may call back into the pool.
class PooledConnection {
 public:
  virtual ~PooledConnection() = default;
  virtual const PoolKey& key() const = 0;
  // HTTP/1.1: established, unused, and not closed by the server.
  virtual bool idle() const = 0;
  // HTTP/2: established, no stream, still taking streams.
  virtual bool session_idle() const = 0;
  // The server closed the socket (seen by the kernel, not yet by the connection).
  virtual bool peer_closed() const = 0;
  virtual bool is_http2() const = 0;
  // When the connection last became idle (parked, or its last stream ended).
  virtual std::chrono::steady_clock::time_point idle_since() const = 0;
  // Still resolving, connecting or handshaking.
  virtual bool connecting() const = 0;
  // HTTP/2: a new stream would go out at once.
  virtual bool can_take_stream() const = 0;
  // HTTP/2: the session still takes streams (queued beyond the server's limit); no GOAWAY.
  virtual bool accepts_streams() const = 0;
  virtual size_t open_streams() const = 0;
  // Closes the connection; exchanges still on it fail with `why`.
  virtual void close(const char* why) = 0;
  // HTTP/2: sends GOAWAY (best effort) and closes.
  virtual void retire() = 0;
};

class Pool {
 public:
  explicit Pool(PoolLimits limits) : limits_(limits) {}
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // A new connection of `key` exists (from before its DNS lookup until close()).
  std::shared_ptr<OriginCounters> add(const std::shared_ptr<PooledConnection>& conn);
  // It is closed: forget it everywhere.
  void remove(PooledConnection* conn);

  // Whether one more connection of `key` fits the per-identity and the total limit.
  bool may_open(const PoolKey& key) const;
  bool at_origin_limit(const PoolKey& key) const;
  // Whether `key` has a connection (set up or being set up) not yet closed.
  bool has_connection(const PoolKey& key) const;
  // Whether some request of `key` can go somewhere now without waiting, and without side effects:
  // a session, an idle connection, a connection being set up that may be HTTP/2, room for a new
  // connection, or an idle connection of another identity to close for room.
  bool can_place(const PoolKey& key, bool fresh_only) const;

  // A session of `key` with a free stream slot; else, when no other session may open, the least
  // loaded one (the request waits on it for a slot). nullptr: none, or open another.
  std::shared_ptr<PooledConnection> take_http2(const PoolKey& key);
  // The most recently parked idle HTTP/1.1 connection of `key` that is still usable. Stale ones met
  // on the way are closed.
  std::shared_ptr<PooledConnection> take_idle(const PoolKey& key);
  // The cold-origin guard: a connection of `key` being set up that may turn out HTTP/2.
  std::shared_ptr<PooledConnection> connecting(const PoolKey& key);
  void set_connecting(const std::shared_ptr<PooledConnection>& conn);
  // What ALPN chose on a connection of `key`. An identity whose server answered HTTP/1.1 gets no
  // cold-origin guard: a burst of requests to a server that closes after each response (or to a
  // fresh HTTP/1.1 origin) would otherwise wait for one handshake after another, none of which
  // they can share. Kept for the last kRememberedHttp1Origins such identities, beyond their
  // connections' life (an HTTP/1.1 server that closes leaves none behind).
  void note_protocol(const PoolKey& key, bool http2);
  // Whether a new connection of `key` may turn out HTTP/2: unknown, or HTTP/2 the last time.
  bool may_be_http2(const PoolKey& key) const { return http1_origins_.count(key) == 0; }
  static constexpr size_t kRememberedHttp1Origins = 4096;

  // HTTP/1.1: parks `conn` as idle (LIFO), closing the oldest idle one beyond max_idle_per_origin.
  // False when no idle connection may be kept (the caller closes it).
  bool park(const std::shared_ptr<PooledConnection>& conn);
  // HTTP/2: `conn` takes streams from now on; or no longer (GOAWAY, closing, dead).
  void http2_ready(const std::shared_ptr<PooledConnection>& conn);
  void http2_unusable(PooledConnection* conn);

  // Closes the connection idle the longest (HTTP/1.1 parked, HTTP/2 without streams) of any
  // identity but `except`, to make room under max_connections. False when there is none.
  bool evict_idle(const PoolKey* except);
  // Closes idle connections the server has closed (or sent something unasked on); drops dead
  // references. Returns how many were closed.
  size_t sweep();
  // Every connection not yet closed, for shutdown.
  std::vector<std::shared_ptr<PooledConnection>> all() const;
  size_t size() const { return total_; }
  void clear();

  std::vector<OriginStats> snapshot() const;

 private:
  struct Origin {
    size_t connections = 0;                               // not yet closed, set up or being set up
    std::vector<std::shared_ptr<PooledConnection>> idle;  // HTTP/1.1, most recently parked last
    std::vector<std::weak_ptr<PooledConnection>> http2;   // sessions that take streams
    std::weak_ptr<PooledConnection> connecting;           // the cold-origin guard
    std::shared_ptr<OriginCounters> counters = std::make_shared<OriginCounters>();
  };
  Origin* find(const PoolKey& key);
  const Origin* find(const PoolKey& key) const;
  void prune(std::map<PoolKey, Origin>::iterator it);

  const PoolLimits limits_;
  std::map<PoolKey, Origin> origins_;  // structure guarded by mu_ (counters are atomics)
  std::map<PooledConnection*, std::weak_ptr<PooledConnection>> all_;
  // Identities whose last connection chose HTTP/1.1, and the order they were learned (oldest first).
  std::list<PoolKey> http1_order_;
  std::map<PoolKey, std::list<PoolKey>::iterator> http1_origins_;
  size_t total_ = 0;
  mutable std::mutex mu_;  // origins_ insertions and erasures vs snapshot()
};

// The pool of one connection type: the same pool, handing back that type (only `Conn`s are added).
template <class Conn>
class PoolOf : public Pool {
 public:
  using Pool::Pool;
  std::shared_ptr<OriginCounters> add(const std::shared_ptr<Conn>& conn) { return Pool::add(conn); }
  std::shared_ptr<Conn> take_http2(const PoolKey& key) { return typed(Pool::take_http2(key)); }
  std::shared_ptr<Conn> take_idle(const PoolKey& key) { return typed(Pool::take_idle(key)); }
  std::shared_ptr<Conn> connecting(const PoolKey& key) { return typed(Pool::connecting(key)); }
  std::vector<std::shared_ptr<Conn>> all() const {
    std::vector<std::shared_ptr<Conn>> out;
    for (auto& conn : Pool::all()) out.push_back(typed(std::move(conn)));
    return out;
  }

 private:
  static std::shared_ptr<Conn> typed(std::shared_ptr<PooledConnection> conn) {
    return std::static_pointer_cast<Conn>(std::move(conn));
  }
};

}  // namespace ctn
