// What the engine remembers of servers' HTTP/3 offers (Alt-Svc, RFC 7838), per connection identity,
// the way Chrome's HttpServerProperties does: the h3 alternatives of each origin until their `ma`
// runs out or the server sends `clear` or a new Alt-Svc (which replaces the old one whole), and
// which alternatives failed recently (Chrome's "broken alternative services": 5 minutes after the
// first failure, doubling on each further one up to 2 days, forgotten on a success). Bounded: at
// most max_origins origins and max_broken failure records, the least recently used going first.
// Any thread (one short lock); the clock is injected so tests never wait.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "pool/alt_svc_header.h"
#include "pool/pool.h"

namespace ctn {

// The identity alternatives are remembered under: the pool's key (origin, proxy, profile, SNI,
// verification) without its ALPN variant and rotation limits, which alt_svc_key() drops, plus the
// caller's identity (PoolKey::identity, the `identity` option). Nothing learnt under one identity is
// seen under another.
struct AltSvcKey {
  PoolKey origin;
  std::string identity;
  bool operator<(const AltSvcKey& o) const {
    return std::tie(origin, identity) < std::tie(o.origin, o.identity);
  }
  bool operator==(const AltSvcKey& o) const { return origin == o.origin && identity == o.identity; }
};
AltSvcKey alt_svc_key(const PoolKey& key);

// Whether the responses on a connection of `key` may teach alternatives: an https origin (Chrome
// honours Alt-Svc from secure origins only), reached directly or through SOCKS. Never through an
// HTTP proxy: Chrome does no QUIC through one.
bool alt_svc_applies(const PoolKey& key);

// Chrome's rule when it consults an alternative: an origin on a port below 1024 does not move to an
// alternative port of 1024 or above (a user of a shared host must not take over its origin).
bool alt_svc_port_allowed(uint16_t origin_port, uint16_t alternative_port);

// A usable alternative: where to send QUIC (the host resolved: never ""). The TLS name stays the
// origin's: the certificate must still be valid for the origin (RFC 7838 §2.1).
struct AltSvcEndpoint {
  std::string host;
  uint16_t port = 0;
  bool operator<(const AltSvcEndpoint& o) const { return std::tie(host, port) < std::tie(o.host, o.port); }
  bool operator==(const AltSvcEndpoint& o) const = default;
};

struct AltSvcLimits {
  size_t max_origins = 1024;  // origins with alternatives
  size_t max_broken = 1024;   // failure records (the back-off of alternatives)
};

class AltSvcStore {
 public:
  using Clock = std::chrono::steady_clock;
  using Now = std::function<Clock::time_point()>;

  // `ma` beyond this is cut to it: nothing learnt from a server outlives a month in a process.
  static constexpr std::chrono::seconds kMaxAge{30 * 24 * 3600};
  // Kept per origin (h3 only, distinct endpoints, the header's order).
  static constexpr size_t kMaxAlternativesPerOrigin = 4;
  // Chrome's back-off: kBrokenDelay << (failures - 1), at most kMaxBrokenDelay.
  static constexpr std::chrono::seconds kBrokenDelay{300};
  static constexpr std::chrono::seconds kMaxBrokenDelay{2 * 24 * 3600};

  explicit AltSvcStore(AltSvcLimits limits = {}, Now now = &Clock::now);
  AltSvcStore(const AltSvcStore&) = delete;
  AltSvcStore& operator=(const AltSvcStore&) = delete;

  // A response of `key`'s origin carried `header`: `clear` forgets the origin; alternatives replace
  // what it had (an offer without h3, or whose h3 entries all have ma=0, forgets it too); an invalid
  // header changes nothing.
  void record(const AltSvcKey& key, const AltSvcHeader& header);
  // The response's Alt-Svc field lines (values), parsed and recorded. Nothing when there are none.
  void record_fields(const AltSvcKey& key, const std::vector<std::string_view>& lines);

  // `key`'s h3 alternatives now: unexpired, not broken and on a port alt_svc_port_allowed, most
  // preferred first. Expired ones are dropped on the way; a lookup makes the origin the most
  // recently used.
  std::vector<AltSvcEndpoint> lookup(const AltSvcKey& key);
  // The ALPN ids the origin's last kept Alt-Svc offered, in order, distinct (diagnostics).
  std::vector<std::string> offered(const AltSvcKey& key) const;

  // A QUIC attempt to `endpoint` for `key` failed (or lost a race it should have won): the endpoint
  // is broken for kBrokenDelay, doubled for each earlier failure not followed by a success.
  void mark_broken(const AltSvcKey& key, const AltSvcEndpoint& endpoint);
  // A QUIC connection to `endpoint` worked: its back-off starts over.
  void confirm(const AltSvcKey& key, const AltSvcEndpoint& endpoint);
  bool is_broken(const AltSvcKey& key, const AltSvcEndpoint& endpoint) const;

  // Origins with alternatives (expired ones until looked at); lock-free, for the engine's stats.
  size_t size() const { return size_.load(std::memory_order_relaxed); }
  size_t broken_size() const;  // failure records

 private:
  struct Alternative {
    AltSvcEndpoint endpoint;
    Clock::time_point expires;
    bool persist = false;
  };
  struct Origin {
    std::vector<Alternative> alternatives;
    std::vector<std::string> offered;
    std::list<AltSvcKey>::iterator recency;
  };
  using BrokenKey = std::pair<AltSvcKey, AltSvcEndpoint>;
  struct Broken {
    uint32_t failures = 0;  // since the last success
    Clock::time_point until;
    std::list<BrokenKey>::iterator recency;
  };

  void forget(std::map<AltSvcKey, Origin>::iterator it);

  const AltSvcLimits limits_;
  const Now now_;
  mutable std::mutex mu_;
  std::map<AltSvcKey, Origin> origins_;
  std::list<AltSvcKey> origin_recency_;  // most recently used first
  std::atomic<size_t> size_{0};          // origins_.size(), for size()
  std::map<BrokenKey, Broken> broken_;
  std::list<BrokenKey> broken_recency_;
};

}  // namespace ctn
