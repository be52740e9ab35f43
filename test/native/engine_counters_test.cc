// The engine's counters alone: live counts going up and down (negative deltas) here and in the
// origin's counters, the figures a snapshot reports, and connections_reused as exchanges_reused.
#include "core/engine_counters.h"

#include <gtest/gtest.h>

namespace ctn {
namespace {

TEST(EngineCounters, LiveCountsMoveBothWaysHereAndInTheOrigin) {
  EngineCounters c;
  OriginCounters origin;
  c.adjust(&origin, 1, 0, 1, 0);   // connecting
  c.adjust(&origin, 0, 1, -1, 0);  // established, idle
  c.adjust(&origin, 0, -1, 0, 3);  // three streams
  EngineStats s = c.snapshot();
  EXPECT_EQ(s.connections_open, 1u);
  EXPECT_EQ(s.connections_idle, 0u);
  EXPECT_EQ(s.connections_connecting, 0u);
  EXPECT_EQ(origin.open.load(), 1u);
  EXPECT_EQ(origin.h2_streams.load(), 3u);
  c.adjust(nullptr, -1, 0, 0, -3);  // no origin: only the engine's counts move
  s = c.snapshot();
  EXPECT_EQ(s.connections_open, 0u);
  EXPECT_EQ(origin.open.load(), 1u);
}

TEST(EngineCounters, TheSnapshotReportsWhatWasCounted) {
  EngineCounters c;
  c.connection_established(false, false);
  c.connection_established(true, true);
  c.connection_established(true, false);
  c.count_io(10, 20);
  c.count_io(1, 2);
  c.count_exchange(false);
  c.count_exchange(true);
  c.count_ping_timeout();
  c.count_error(ErrorCode::kTimeout);
  c.count_error(ErrorCode::kTimeout);
  const EngineStats s = c.snapshot();
  EXPECT_EQ(s.connections_opened, 1u);
  EXPECT_EQ(s.tls_handshakes, 2u);
  EXPECT_EQ(s.tls_resumed, 1u);
  EXPECT_EQ(s.bytes_in, 11u);
  EXPECT_EQ(s.bytes_out, 22u);
  EXPECT_EQ(s.exchanges, 2u);
  EXPECT_EQ(s.exchanges_reused, 1u);
  EXPECT_EQ(s.connections_reused, 1u);
  EXPECT_EQ(s.h2_pings_timed_out, 1u);
  EXPECT_EQ(s.errors[static_cast<size_t>(ErrorCode::kTimeout)], 2u);
  EXPECT_EQ(s.errors[static_cast<size_t>(ErrorCode::kProtocol)], 0u);
}

}  // namespace
}  // namespace ctn
