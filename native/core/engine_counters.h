// The engine's counters: what stats() reports, written on the io thread and read from any thread
// (relaxed atomics: each figure is exact, a snapshot need not be consistent across figures).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "core/engine.h"
#include "pool/pool.h"

namespace ctn {

struct EngineCounters {
  std::atomic<uint64_t> requests_started{0}, requests_in_flight{0}, connections_opened{0}, tls_handshakes{0},
      connections_open{0}, connections_idle{0}, bytes_in{0}, bytes_out{0}, connections_live{0},
      connections_connecting{0}, requests_queued{0}, tls_resumed{0}, exchanges{0}, exchanges_reused{0},
      h2_pings_timed_out{0}, connections_swept{0};
  std::array<std::atomic<uint64_t>, kErrorCodeCount> errors{};

  // A TCP connection (tls false) or a TLS handshake (resumed or not) completed.
  void connection_established(bool tls, bool resumed) {
    if (tls) {
      tls_handshakes++;
      if (resumed) tls_resumed++;
    } else {
      connections_opened++;
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
