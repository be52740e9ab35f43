// The pool alone (native/pool): connections are fakes whose state each test sets, so the pool's
// own rules (LIFO idle, the limits, eviction, HTTP/2 stream slots, the sweep, the live counts) are
// checked without an engine, a socket or a clock. The engine's use of the pool is
// engine_pool_test.cc's.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "pool/pool.h"

namespace {

using ctn::OriginStats;
using ctn::Pool;
using ctn::PooledConnection;
using ctn::PoolKey;
using ctn::PoolLimits;
using TimePoint = std::chrono::steady_clock::time_point;

PoolKey key_of(const std::string& host, bool http1_only = false) {
  PoolKey key;
  key.host = host;
  key.port = 443;
  key.server_name = host;
  key.profile = "chrome";
  key.http1_only = http1_only;
  return key;
}

// A connection as the pool sees it. close() tells the pool, as a real connection does.
class FakeConnection : public PooledConnection {
 public:
  FakeConnection(Pool& pool, PoolKey key) : pool_(pool), key_(std::move(key)) {}

  const PoolKey& key() const override { return key_; }
  bool idle() const override { return !is_closed && !http2 && !server_closed && !busy; }
  bool session_idle() const override { return !is_closed && http2 && streams == 0 && takes_streams; }
  bool peer_closed() const override { return server_closed; }
  bool is_http2() const override { return http2; }
  TimePoint idle_since() const override { return idle_at; }
  bool connecting() const override { return setting_up && !is_closed; }
  bool can_take_stream() const override { return takes_streams && streams < max_streams; }
  bool accepts_streams() const override { return !is_closed && takes_streams; }
  size_t open_streams() const override { return streams; }
  void close(const char* why) override {
    if (is_closed) return;
    is_closed = true;
    closed_why = why;
    pool_.remove(this);
  }
  void retire() override {
    retired = true;
    close("retired");
  }

  // The state the pool reads; tests set it.
  bool http2 = false;
  bool busy = false;           // HTTP/1.1: carrying a request
  bool server_closed = false;  // FIN seen by the kernel
  bool setting_up = false;
  bool takes_streams = true;
  size_t streams = 0;
  size_t max_streams = 100;
  TimePoint idle_at{};
  // What the pool did to it.
  bool is_closed = false;
  bool retired = false;
  std::string closed_why;

 private:
  Pool& pool_;
  PoolKey key_;
};

class PoolAlone : public ::testing::Test {
 protected:
  void make_pool(PoolLimits limits) {
    conns_.clear();
    pool_ = std::make_unique<Pool>(limits);
  }

  // A new connection of `key`, added to the pool as the engine adds one before dialling.
  std::shared_ptr<FakeConnection> open(const PoolKey& key) {
    auto conn = std::make_shared<FakeConnection>(*pool_, key);
    pool_->add(conn);
    conns_.push_back(conn);
    return conn;
  }
  // An established HTTP/2 session taking streams.
  std::shared_ptr<FakeConnection> open_http2(const PoolKey& key) {
    auto conn = open(key);
    conn->http2 = true;
    pool_->http2_ready(conn);
    return conn;
  }
  static TimePoint at(int seconds) { return TimePoint{} + std::chrono::seconds(seconds); }

  std::unique_ptr<Pool> pool_;
  std::vector<std::shared_ptr<FakeConnection>> conns_;  // keeps fakes alive as the engine does
};

TEST_F(PoolAlone, IdleConnectionsAreTakenLastParkedFirst) {
  make_pool({.max_idle_per_origin = 8});
  const PoolKey key = key_of("a.test");
  auto first = open(key), second = open(key), third = open(key);
  for (auto& c : {first, second, third}) ASSERT_TRUE(pool_->park(c));
  EXPECT_EQ(pool_->take_idle(key), third);
  EXPECT_EQ(pool_->take_idle(key), second);
  EXPECT_EQ(pool_->take_idle(key), first);
  EXPECT_EQ(pool_->take_idle(key), nullptr);
  EXPECT_EQ(pool_->take_idle(key_of("b.test")), nullptr);
}

TEST_F(PoolAlone, StaleIdleConnectionsMetOnTheWayAreClosed) {
  make_pool({.max_idle_per_origin = 8});
  const PoolKey key = key_of("a.test");
  auto usable = open(key), stale = open(key);
  pool_->park(usable);
  pool_->park(stale);
  stale->server_closed = true;
  EXPECT_EQ(pool_->take_idle(key), usable);
  EXPECT_TRUE(stale->is_closed);
  EXPECT_EQ(stale->closed_why, "the server closed the idle connection");
  EXPECT_EQ(pool_->size(), 1u);
}

TEST_F(PoolAlone, ParkingBeyondTheIdleLimitClosesTheOldest) {
  make_pool({.max_idle_per_origin = 2});
  const PoolKey key = key_of("a.test");
  auto oldest = open(key), middle = open(key), newest = open(key);
  pool_->park(oldest);
  pool_->park(middle);
  pool_->park(newest);
  EXPECT_TRUE(oldest->is_closed);
  EXPECT_EQ(oldest->closed_why, "too many idle connections");
  EXPECT_FALSE(middle->is_closed);
  EXPECT_EQ(pool_->take_idle(key), newest);
  EXPECT_EQ(pool_->take_idle(key), middle);

  make_pool({.max_idle_per_origin = 0});  // no idle connection may be kept: the caller closes it
  EXPECT_FALSE(pool_->park(open(key)));
}

TEST_F(PoolAlone, PerIdentityLimit) {
  make_pool({.max_connections_per_origin = 2});
  const PoolKey a = key_of("a.test"), b = key_of("b.test");
  open(a);
  EXPECT_TRUE(pool_->may_open(a));
  auto second = open(a);
  EXPECT_FALSE(pool_->may_open(a));
  EXPECT_TRUE(pool_->at_origin_limit(a));
  EXPECT_FALSE(pool_->can_place(a, /*fresh_only=*/true));
  EXPECT_TRUE(pool_->may_open(b));
  EXPECT_FALSE(pool_->at_origin_limit(b));
  second->close("done");
  EXPECT_TRUE(pool_->may_open(a));
}

TEST_F(PoolAlone, TotalLimit) {
  make_pool({.max_connections = 2});
  const PoolKey a = key_of("a.test"), b = key_of("b.test"), c = key_of("c.test");
  open(a);
  auto busy = open(b);
  busy->busy = true;
  EXPECT_EQ(pool_->size(), 2u);
  EXPECT_FALSE(pool_->may_open(c));
  EXPECT_FALSE(pool_->at_origin_limit(c));  // the total limit is not c's own
  // No idle connection anywhere to close for room.
  EXPECT_FALSE(pool_->can_place(c, false));
  busy->close("done");
  EXPECT_TRUE(pool_->may_open(c));
  EXPECT_TRUE(pool_->can_place(c, false));
}

TEST_F(PoolAlone, EvictIdleClosesTheLongestIdleOfAnotherIdentity) {
  make_pool({.max_idle_per_origin = 8, .max_connections = 3});
  const PoolKey a = key_of("a.test"), b = key_of("b.test"), c = key_of("c.test");
  auto a_idle = open(a), b_idle = open(b), b_session = open_http2(b);
  a_idle->idle_at = at(20);
  b_idle->idle_at = at(10);
  b_session->idle_at = at(5);
  pool_->park(a_idle);
  pool_->park(b_idle);
  EXPECT_TRUE(pool_->can_place(c, false));  // room can be made

  // The idle HTTP/2 session has waited longest: retired (GOAWAY), not merely closed.
  ASSERT_TRUE(pool_->evict_idle(&c));
  EXPECT_TRUE(b_session->retired);
  // Then the older HTTP/1.1 one, but never one of the identity making room.
  ASSERT_TRUE(pool_->evict_idle(&b));
  EXPECT_TRUE(a_idle->is_closed);
  EXPECT_EQ(a_idle->closed_why, "closed to make room for another connection");
  EXPECT_FALSE(b_idle->is_closed);
  EXPECT_FALSE(pool_->evict_idle(&b));  // nothing idle elsewhere
  ASSERT_TRUE(pool_->evict_idle(nullptr));
  EXPECT_TRUE(b_idle->is_closed);
  EXPECT_EQ(pool_->size(), 0u);
}

TEST_F(PoolAlone, Http2TakeReturnsASessionWithAFreeSlot) {
  make_pool({.max_h2_sessions_per_origin = 2});
  const PoolKey key = key_of("a.test");
  auto full = open_http2(key);
  full->streams = full->max_streams = 1;
  auto roomy = open_http2(key);
  roomy->streams = 1;
  EXPECT_EQ(pool_->take_http2(key), roomy);
  EXPECT_EQ(pool_->take_http2(key_of("b.test")), nullptr);
}

TEST_F(PoolAlone, Http2FullSessionsWaitOrOpenAnother) {
  const PoolKey key = key_of("a.test");
  // One session per identity (as browsers do): the request waits on the least loaded.
  make_pool({.max_h2_sessions_per_origin = 1});
  auto only = open_http2(key);
  only->streams = only->max_streams = 3;
  EXPECT_EQ(pool_->take_http2(key), only);

  // Two allowed and room to open: nullptr says "open another".
  make_pool({.max_h2_sessions_per_origin = 2});
  auto busy = open_http2(key);
  busy->streams = busy->max_streams = 3;
  EXPECT_EQ(pool_->take_http2(key), nullptr);
  // ... unless as many sessions as allowed are open, or the identity is at its connection limit.
  make_pool({.max_connections_per_origin = 2, .max_h2_sessions_per_origin = 2});
  auto more = open_http2(key), fewer = open_http2(key);
  more->streams = more->max_streams = 5;
  fewer->streams = fewer->max_streams = 2;
  EXPECT_EQ(pool_->take_http2(key), fewer) << "two sessions already: wait on the least loaded";
  make_pool({.max_connections_per_origin = 1, .max_h2_sessions_per_origin = 2});
  auto alone = open_http2(key);
  alone->streams = alone->max_streams = 4;
  EXPECT_EQ(pool_->take_http2(key), alone);
}

TEST_F(PoolAlone, Http2TakeDropsSessionsThatNoLongerServe) {
  make_pool({.max_h2_sessions_per_origin = 1});
  const PoolKey key = key_of("a.test");
  auto goaway = open_http2(key);
  goaway->takes_streams = false;
  auto dead = open_http2(key);
  dead->server_closed = true;  // idle, and the server has closed it
  EXPECT_EQ(pool_->take_http2(key), nullptr);
  EXPECT_TRUE(dead->is_closed);
  EXPECT_EQ(dead->closed_why, "the server closed the idle HTTP/2 connection");
  EXPECT_FALSE(goaway->is_closed);  // it finishes its streams; only no longer offered
  goaway->takes_streams = true;
  EXPECT_EQ(pool_->take_http2(key), nullptr) << "dropped from the sessions for good";
}

TEST_F(PoolAlone, ColdOriginGuard) {
  make_pool({});
  const PoolKey key = key_of("a.test");
  auto dialling = open(key);
  dialling->setting_up = true;
  EXPECT_EQ(pool_->connecting(key), nullptr);
  pool_->set_connecting(dialling);
  EXPECT_EQ(pool_->connecting(key), dialling);
  EXPECT_TRUE(pool_->can_place(key, false));
  dialling->setting_up = false;
  EXPECT_EQ(pool_->connecting(key), nullptr);
}

// An identity whose server answered HTTP/1.1 is remembered past its connections (a server that closes
// after each response leaves none), forgotten when it answers HTTP/2, and only the newest
// kRememberedHttp1Origins identities are kept.
TEST_F(PoolAlone, IdentitiesKnownToAnswerHttp1GoWithoutTheColdOriginGuard) {
  make_pool({});
  const PoolKey key = key_of("a.test");
  EXPECT_TRUE(pool_->may_be_http2(key)) << "unknown: may be HTTP/2";
  auto conn = open(key);
  pool_->note_protocol(key, false);
  conn->close("done");
  EXPECT_FALSE(pool_->may_be_http2(key)) << "remembered after its last connection closed";
  EXPECT_TRUE(pool_->may_be_http2(key_of("b.test")));
  PoolKey http1_only = key;
  http1_only.http1_only = true;
  EXPECT_TRUE(pool_->may_be_http2(http1_only)) << "another identity";
  pool_->note_protocol(key, true);
  EXPECT_TRUE(pool_->may_be_http2(key)) << "the server now answers HTTP/2";

  pool_->note_protocol(key, false);
  for (size_t i = 0; i < Pool::kRememberedHttp1Origins; ++i) {
    // Built piecewise: GCC 12 warns falsely (-Wrestrict) on "h" + std::to_string(i) here.
    const std::string host = std::string("h").append(std::to_string(i)).append(".test");
    pool_->note_protocol(key_of(host), false);
    pool_->note_protocol(key_of(host), false);  // known already: no change
  }
  EXPECT_TRUE(pool_->may_be_http2(key)) << "the oldest is forgotten";
  EXPECT_FALSE(pool_->may_be_http2(key_of("h1.test")));
  EXPECT_FALSE(
      pool_->may_be_http2(key_of("h" + std::to_string(Pool::kRememberedHttp1Origins - 1) + ".test")));
}

TEST_F(PoolAlone, SweepClosesWhatTheServerClosed) {
  make_pool({.max_idle_per_origin = 8});
  const PoolKey a = key_of("a.test"), b = key_of("b.test");
  auto fine = open(a), gone = open(a), session = open_http2(b), busy_session = open_http2(b);
  pool_->park(fine);
  pool_->park(gone);
  gone->server_closed = true;
  session->server_closed = true;
  busy_session->server_closed = true;
  busy_session->streams = 1;  // its streams still end on their own
  EXPECT_EQ(pool_->sweep(), 2u);
  EXPECT_TRUE(gone->is_closed);
  EXPECT_TRUE(session->is_closed);
  EXPECT_FALSE(fine->is_closed);
  EXPECT_FALSE(busy_session->is_closed);
  EXPECT_EQ(pool_->sweep(), 0u);
  EXPECT_EQ(pool_->all().size(), 2u);
}

TEST_F(PoolAlone, SnapshotReadsTheLiveCountsOfIdentitiesInUse) {
  make_pool({});
  const PoolKey a = key_of("a.test"), b = key_of("b.test", /*http1_only=*/true);
  auto conn = std::make_shared<FakeConnection>(*pool_, a);
  auto counters = pool_->add(conn);
  counters->open = 2;
  counters->idle = 1;
  counters->h2_streams = 3;
  auto other = std::make_shared<FakeConnection>(*pool_, b);
  pool_->add(other);  // all counts zero: not listed
  std::vector<OriginStats> stats = pool_->snapshot();
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].key, ctn::describe(a));
  EXPECT_EQ(stats[0].key, "https://a.test:443 [chrome]");
  EXPECT_EQ(stats[0].open, 2u);
  EXPECT_EQ(stats[0].idle, 1u);
  EXPECT_EQ(stats[0].connecting, 0u);
  EXPECT_EQ(stats[0].h2_streams, 3u);
  EXPECT_EQ(ctn::describe(b), "https://b.test:443 [chrome] http1");
  counters->open = counters->idle = counters->h2_streams = 0;
  conn->close("done");
  other->close("done");
  EXPECT_TRUE(pool_->snapshot().empty());
  EXPECT_EQ(pool_->size(), 0u);
}

// Issue #19: an identity's connections, TLS sessions and description are its own; the rotation
// limits split connections but not TLS sessions (a pool policy, not another client).
TEST_F(PoolAlone, IdentitiesNeverShareConnectionsOrSessions) {
  make_pool({.max_idle_per_origin = 8});
  const PoolKey plain = key_of("a.test");
  PoolKey alice = plain, bob = plain;
  alice.identity = "alice";
  bob.identity = "bob account";
  auto alices = open(alice);
  ASSERT_TRUE(pool_->park(alices));
  auto bobs_session = open_http2(bob);
  EXPECT_EQ(pool_->take_idle(bob), nullptr);
  EXPECT_EQ(pool_->take_idle(plain), nullptr);
  EXPECT_EQ(pool_->take_http2(alice), nullptr);
  EXPECT_EQ(pool_->take_http2(plain), nullptr);
  EXPECT_EQ(pool_->take_http2(bob), bobs_session);
  EXPECT_EQ(pool_->take_idle(alice), alices);

  EXPECT_EQ(ctn::describe(plain), "https://a.test:443 [chrome]");
  EXPECT_EQ(ctn::describe(bob), "https://a.test:443 [chrome] identity=\"bob account\"");
  EXPECT_NE(ctn::tls_session_key(alice), ctn::tls_session_key(bob));
  EXPECT_NE(ctn::tls_session_key(alice), ctn::tls_session_key(plain));

  PoolKey rotated = alice;
  rotated.max_requests = 2;
  rotated.max_age_ms = 1500;
  EXPECT_EQ(ctn::describe(rotated),
            "https://a.test:443 [chrome] identity=\"alice\" max-requests=2 max-age=1500ms");
  EXPECT_FALSE(rotated == alice);
  EXPECT_EQ(ctn::tls_session_key(rotated), ctn::tls_session_key(alice));
  pool_->clear();
}

}  // namespace

namespace {

// A caller's answer (lib's `lookup`, DNS over HTTPS) is part of the connection's identity as a set:
// the same addresses in another order share connections, other addresses do not, and TLS sessions
// still resume by name (as a browser's session cache does).
TEST(PoolKeys, CallerAddressesPartitionConnectionsNotSessions) {
  PoolKey engine_resolved = key_of("site.test");
  PoolKey pinned = key_of("site.test");
  pinned.dial_addresses = ctn::dial_address_set({"127.0.0.2", "::1", "127.0.0.1"});
  PoolKey reordered = key_of("site.test");
  reordered.dial_addresses = ctn::dial_address_set({"::1", "127.0.0.1", "127.0.0.2"});
  PoolKey elsewhere = key_of("site.test");
  elsewhere.dial_addresses = ctn::dial_address_set({"127.0.0.3"});
  EXPECT_EQ(pinned.dial_addresses, "127.0.0.1,127.0.0.2,::1");
  EXPECT_EQ(pinned, reordered);
  EXPECT_FALSE(pinned == engine_resolved);
  EXPECT_FALSE(pinned == elsewhere);
  EXPECT_NE(ctn::describe(pinned), ctn::describe(engine_resolved));
  EXPECT_EQ(ctn::tls_session_key(pinned), ctn::tls_session_key(engine_resolved));
  EXPECT_EQ(ctn::tls_session_key(elsewhere), ctn::tls_session_key(engine_resolved));
}

}  // namespace
