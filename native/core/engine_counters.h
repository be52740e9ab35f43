// The engine's counters: what stats() reports, written on the io thread and read from any thread
// (relaxed atomics: each figure is exact, a snapshot need not be consistent across figures).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/engine.h"
#include "pool/pool.h"

namespace ctn {

// One named identity's counts (IdentityStats), held by its connections.
struct IdentityCounters {
  std::atomic<uint64_t> connections_opened{0}, tls_handshakes{0}, tls_resumed{0}, exchanges{0};
};

// The counts of the named identities, for stats(). Bounded: past kMaxIdentities the identity seen
// first is no longer reported (its connections keep counting into their own record, unseen). The
// default identity ("") has none: the engine's totals are its figures, and its path stays as cheap
// as it was. Looked up once per connection (a short lock), never per request.
class IdentityCounterTable {
 public:
  static constexpr size_t kMaxIdentities = 1024;
  std::shared_ptr<IdentityCounters> find_or_add(const std::string& identity);
  std::vector<IdentityStats> snapshot() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<IdentityCounters>> table_;
  std::list<std::string> order_;  // first seen first
};

struct EngineCounters {
  std::atomic<uint64_t> requests_started{0}, requests_in_flight{0}, connections_opened{0}, tls_handshakes{0},
      connections_open{0}, connections_idle{0}, bytes_in{0}, bytes_out{0}, connections_live{0},
      connections_connecting{0}, requests_queued{0}, tls_resumed{0}, exchanges{0}, exchanges_reused{0},
      h2_pings_timed_out{0}, connections_swept{0};
  std::array<std::atomic<uint64_t>, kErrorCodeCount> errors{};

  IdentityCounterTable identities;

  // A TCP connection (tls false) or a TLS handshake (resumed or not) completed; `identity`: its
  // named identity's counts, if any.
  void connection_established(bool tls, bool resumed, IdentityCounters* identity = nullptr) {
    if (tls) {
      tls_handshakes++;
      if (resumed) tls_resumed++;
    } else {
      connections_opened++;
    }
    if (!identity) return;
    if (tls) {
      identity->tls_handshakes++;
      if (resumed) identity->tls_resumed++;
    } else {
      identity->connections_opened++;
    }
  }
  void count_io(uint64_t in, uint64_t out) {
    bytes_in += in;
    bytes_out += out;
  }
  // A request (attempt) was put on a connection; `reused`: one that carried, or carries, another.
  void count_exchange(bool reused) {
    exchanges++;
    if (reused) exchanges_reused++;
  }
  void count_ping_timeout() { h2_pings_timed_out++; }
  void count_error(ErrorCode code) { errors[static_cast<size_t>(code)]++; }
  // A live-count change of one connection (deltas may be negative), here and in its origin's.
  void adjust(OriginCounters* origin, int64_t open, int64_t idle, int64_t connecting, int64_t streams);

  EngineStats snapshot() const;
};

}  // namespace ctn
