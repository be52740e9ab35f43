// Tests for the upstream pool and the request lifecycle (native/pool, Engine::Impl's queue, limits,
// keep-alive, drain, cancel and per-phase deadlines) end to end against in-process HTTP/1.1 and
// HTTP/2 servers (test_server.h), plus the fair queue on its own.
//
// Servers that must hold responses wait on a gate the test opens, so that "N requests reached the
// server" is a fact, not a timing guess. Every wait is bounded; a watchdog aborts a hung test.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "core/engine.h"
#include "core/request.h"
#include "engine_harness.h"
#include "pool/fair_queue.h"
#include "profiles/profile.h"
#include "test_server.h"
#include "tls/tls_context.h"

namespace {

using namespace ctn;
using namespace ctn_test;

// ---------------------------------------------------------------------------------------------
// The fair queue alone

TEST(FairQueue, RoundRobinBetweenClientsFifoWithin) {
  FairQueue<int> q;
  for (int i = 0; i < 3; ++i) q.push_back(1, 10 + i);
  for (int i = 0; i < 2; ++i) q.push_back(2, 20 + i);
  q.push_back(3, 30);
  EXPECT_EQ(q.size(), 6u);
  EXPECT_EQ(q.size(1), 3u);
  std::vector<int> order;
  while (auto v = q.take([](int) { return true; })) order.push_back(*v);
  EXPECT_EQ(order, (std::vector<int>{10, 20, 30, 11, 21, 12}));
  EXPECT_TRUE(q.empty());
}

TEST(FairQueue, IneligibleItemsAreSkippedNotBlocking) {
  FairQueue<int> q;
  q.push_back(1, 1);  // blocked
  q.push_back(1, 2);
  q.push_back(2, 3);  // blocked
  auto eligible = [](int v) { return v != 1 && v != 3; };
  auto a = q.take(eligible);
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, 2);
  EXPECT_FALSE(q.take(eligible));
  EXPECT_EQ(q.size(), 2u);
}

TEST(FairQueue, EraseAnywhereAndRetriesFirst) {
  FairQueue<int> q;
  auto h1 = q.push_back(1, 1);
  q.push_back(1, 2);
  auto h3 = q.push_back(2, 3);
  q.push_front(1, 0);  // a retry goes before its client's newcomers
  q.erase(h1);
  q.erase(h3);  // client 2's lane goes away
  EXPECT_EQ(q.size(2), 0u);
  std::vector<int> order;
  while (auto v = q.take([](int) { return true; })) order.push_back(*v);
  EXPECT_EQ(order, (std::vector<int>{0, 2}));
}

TEST(FairQueue, ClientServedPastTheQueueGoesLast) {
  FairQueue<int> q;
  q.served(1);  // client 1's first request went straight to a connection
  q.push_back(1, 11);
  q.push_back(2, 21);
  q.push_back(1, 12);
  q.push_back(2, 22);
  std::vector<int> order;
  while (auto v = q.take([](int) { return true; })) order.push_back(*v);
  EXPECT_EQ(order, (std::vector<int>{21, 11, 22, 12}));
}

// ---------------------------------------------------------------------------------------------
// Fixture

const Profile& used_profile() { return test_tls_profile() ? *test_tls_profile() : default_profile(); }

bool http2_profile_usable() {
  std::string why;
  return check_tls_profile(default_profile().tls, &why);
}

#define REQUIRE_H2() \
  if (!http2_profile_usable()) GTEST_SKIP() << "the default profile cannot go on the wire"

// An HTTP/1.1 handler that answers each request (body: its X-Req header) once `gate` is open.
Handler gated(std::atomic<bool>& gate) {
  return [&gate](ServerConn& c) {
    std::string raw;
    while (c.read_request(&raw)) {
      if (!c.wait_until([&] { return gate.load(); }, 20s)) return;
      if (!c.write(response("re:" + header_value(raw, "x-req")))) return;
    }
  };
}

// Answers one request with Connection: close and closes: every request needs a new connection.
Handler answer_once_and_close() {
  return [](ServerConn& c) {
    if (c.read_request()) c.write(response("once", "Connection: close\r\n"));
    c.close();
  };
}

class PoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    watchdog_.arm(90s);
    restart(EngineOptions{});
  }
  void TearDown() override {
    engine_.reset();
    sink_.hook = nullptr;
    sink_.expect_consistent();
    watchdog_.disarm();
  }

  void restart(EngineOptions options) {
    engine_.reset();
    engine_ = std::make_unique<Engine>(options, sink_);
  }

  RequestSpec h1(const TestServer& s, std::string target = "/", uint64_t client = 0) {
    return h1_at(s.tls(), s.port(), std::move(target), client);
  }
  RequestSpec h1_at(bool tls, uint16_t port, std::string target = "/", uint64_t client = 0) {
    RequestSpec r;
    r.id = next_id_++;
    r.method = "GET";
    r.tls = tls;
    r.host = "127.0.0.1";
    r.port = port;
    r.target = std::move(target);
    r.custom_profile = test_tls_profile();
    r.client_id = client;
    r.headers = {{"X-Req", std::to_string(r.id)}, {"X-Client", std::to_string(client)}};
    return r;
  }
  RequestSpec h2(const H2Server& s, std::string target, uint64_t client = 0) {
    RequestSpec r;
    r.id = next_id_++;
    r.method = "GET";
    r.tls = true;
    r.host = "localhost";
    r.port = s.port();
    r.target = std::move(target);
    r.client_id = client;
    return r;
  }
  uint64_t submit(RequestSpec s) {
    const uint64_t id = s.id;
    engine_->submit(std::move(s));
    return id;
  }
  EngineStats stats() { return engine_->stats(); }
  // The request's terminal record, expected a success (a value, for lambdas AWAIT cannot serve).
  Record settled(uint64_t id) {
    auto r = sink_.wait_terminal(id);
    EXPECT_TRUE(r.has_value()) << "no terminal event for request " << id;
    if (!r) return Record{};
    EXPECT_TRUE(r->ok()) << r->describe();
    return *r;
  }
  bool wait_stats(const std::function<bool(const EngineStats&)>& pred,
                  std::chrono::milliseconds timeout = kWait) {
    const auto deadline = Clock::now() + timeout;
    while (!pred(engine_->stats())) {
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(2ms);
    }
    return true;
  }
  bool wait_quiet() {
    return wait_stats([](const EngineStats& s) {
      return s.requests_in_flight == 0 && s.connections_connecting == 0 &&
             s.connections_idle == s.connections_open;
    });
  }
  uint64_t errors(ErrorCode code) { return stats().errors[static_cast<size_t>(code)]; }
  // Submits `n` requests to `server` (whose handshakes after its first connection wait for `gate`),
  // waits (bounded) until the server has accepted a connection for each, then opens the gate.
  std::vector<uint64_t> burst_behind_gate(const TestServer& server, int n, std::atomic<bool>& gate) {
    const int before = server.connections();
    std::vector<uint64_t> ids;
    for (int i = 0; i < n; ++i) ids.push_back(submit(h1(server)));
    const auto deadline = Clock::now() + kWait;
    while (server.connections() < before + n && Clock::now() < deadline) std::this_thread::sleep_for(2ms);
    gate = true;
    return ids;
  }

  Sink sink_;
  std::unique_ptr<Engine> engine_;
  uint64_t next_id_ = 1;
  Watchdog watchdog_;
};

// ---------------------------------------------------------------------------------------------
// Reuse

TEST_F(PoolTest, Http1ReuseRatioAndOriginStats) {
  TestServer server(TestServer::respond_always(response("r")));
  for (int i = 0; i < 10; ++i) {
    const uint64_t id = submit(h1(server));
    AWAIT(r, id);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(r.connection.reused, i > 0);
  }
  ASSERT_TRUE(wait_quiet());
  const EngineStats s = stats();
  EXPECT_EQ(s.exchanges, 10u);
  EXPECT_EQ(s.exchanges_reused, 9u);
  EXPECT_EQ(s.connections_reused, 9u);
  EXPECT_EQ(s.connections_opened, 1u);
  EXPECT_EQ(s.connections_live, 1u);
  EXPECT_EQ(server.connections(), 1);
  const auto origins = engine_->origin_stats();
  ASSERT_EQ(origins.size(), 1u);
  EXPECT_EQ(origins[0].key,
            "http://127.0.0.1:" + std::to_string(server.port()) + " [" + used_profile().id + "]");
  EXPECT_EQ(origins[0].open, 1u);
  EXPECT_EQ(origins[0].idle, 1u);
  EXPECT_EQ(origins[0].connecting, 0u);
  EXPECT_EQ(origins[0].h2_streams, 0u);
}

TEST_F(PoolTest, Http2ReuseRatioAndOriginStats) {
  REQUIRE_H2();
  H2Server server([](const RequestInfo& r) { return respond(body_for(r.path, 700)); });
  const uint64_t warm = submit(h2(server, "/warm"));
  {
    AWAIT(w, warm);
    ASSERT_TRUE(w.ok()) << w.describe();
  }
  std::vector<uint64_t> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(submit(h2(server, "/r/" + std::to_string(i))));
  for (size_t i = 0; i < ids.size(); ++i) {
    AWAIT(r, ids[i]);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(r.body, body_for("/r/" + std::to_string(i), 700));
    EXPECT_TRUE(r.connection.reused);
  }
  ASSERT_TRUE(wait_quiet());
  const EngineStats s = stats();
  EXPECT_EQ(s.exchanges, 21u);
  EXPECT_EQ(s.exchanges_reused, 20u);
  EXPECT_EQ(s.tls_handshakes, 1u);
  EXPECT_EQ(s.connections_idle, 1u) << "an HTTP/2 session without streams is idle";
  const auto origins = engine_->origin_stats();
  ASSERT_EQ(origins.size(), 1u);
  EXPECT_EQ(origins[0].key,
            "https://localhost:" + std::to_string(server.port()) + " [" + default_profile().id + "]");
  EXPECT_EQ(origins[0].open, 1u);
  EXPECT_EQ(origins[0].idle, 1u);
  EXPECT_EQ(origins[0].h2_streams, 0u);
}

TEST_F(PoolTest, Http2StreamLimitHundredInFlightOneConnection) {
  REQUIRE_H2();
  H2ServerOptions options;
  options.max_concurrent_streams = 10;
  std::atomic<bool> gate{false};
  H2Server server(
      [&](const RequestInfo& r) {
        Action a = respond(body_for(r.path, 2000));
        if (!gate.load()) a.pace = 500;  // slow at first: the streams pile up against the limit
        return a;
      },
      options);
  const uint64_t warm = submit(h2(server, "/warm"));
  {
    AWAIT(w, warm);
    ASSERT_TRUE(w.ok()) << w.describe();
  }
  std::vector<uint64_t> ids;
  for (int i = 0; i < 100; ++i) ids.push_back(submit(h2(server, "/s/" + std::to_string(i))));
  ASSERT_TRUE(wait_stats([](const EngineStats& s) { return s.exchanges >= 101; }));
  const auto origins = engine_->origin_stats();
  ASSERT_EQ(origins.size(), 1u);
  EXPECT_GT(origins[0].h2_streams, 10u) << "the requests beyond the limit wait on the session";
  gate = true;
  uint64_t conn = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    AWAIT(r, ids[i]);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(r.body, body_for("/s/" + std::to_string(i), 2000));
    if (conn == 0) conn = r.connection.connection_id;
    EXPECT_EQ(r.connection.connection_id, conn);
  }
  EXPECT_EQ(server.connections(), 1);
  EXPECT_LE(server.max_active(), 10);
  EXPECT_EQ(server.streams(), 101);
}

// With more than one session allowed per identity, a full session makes room for a second one.
TEST_F(PoolTest, Http2SecondSessionOnlyWhenTheFirstIsFull) {
  REQUIRE_H2();
  EngineOptions o;
  o.max_h2_sessions_per_origin = 2;
  restart(o);
  H2ServerOptions options;
  options.max_concurrent_streams = 5;
  std::atomic<bool> gate{false};
  H2Server server(
      [&](const RequestInfo& r) {
        // Holding the connection's thread keeps the streams open on the client's side too.
        if (r.path.rfind("/b/", 0) == 0) {
          while (!gate.load()) std::this_thread::sleep_for(1ms);
        }
        return respond(body_for(r.path, 100));
      },
      options);
  const uint64_t warm = submit(h2(server, "/warm"));
  {
    AWAIT(w, warm);
    ASSERT_TRUE(w.ok()) << w.describe();
  }
  // Within the limit: the one session.
  std::vector<uint64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(submit(h2(server, "/a/" + std::to_string(i))));
  for (uint64_t id : ids) {
    AWAIT(r, id);
    ASSERT_TRUE(r.ok()) << r.describe();
  }
  EXPECT_EQ(server.connections(), 1);
  // Beyond it: a second session, and no third.
  ids.clear();
  for (int i = 0; i < 30; ++i) ids.push_back(submit(h2(server, "/b/" + std::to_string(i))));
  ASSERT_TRUE(server.wait_for([&] { return server.connections() >= 2; }));
  std::this_thread::sleep_for(50ms);
  gate = true;
  for (size_t i = 0; i < ids.size(); ++i) {
    AWAIT(r, ids[i]);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(r.body, body_for("/b/" + std::to_string(i), 100));
  }
  EXPECT_EQ(server.connections(), 2);
  EXPECT_LE(server.max_active(), 5);
}

TEST_F(PoolTest, ColdOriginFiftyRequestsShareOneHandshake) {
  REQUIRE_H2();
  H2Server server([](const RequestInfo& r) { return respond(body_for(r.path, 300)); });
  std::vector<uint64_t> ids;
  for (int i = 0; i < 50; ++i) ids.push_back(submit(h2(server, "/c/" + std::to_string(i))));
  for (size_t i = 0; i < ids.size(); ++i) {
    AWAIT(r, ids[i]);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(r.body, body_for("/c/" + std::to_string(i), 300));
  }
  EXPECT_EQ(server.connections(), 1);
  const EngineStats s = stats();
  EXPECT_EQ(s.tls_handshakes, 1u);
  EXPECT_EQ(s.connections_opened, 1u);
  EXPECT_EQ(s.exchanges, 50u);
  EXPECT_EQ(s.exchanges_reused, 49u) << "all but the first rode on another's handshake";
}

// An origin known to answer HTTP/1.1 gets no cold-origin guard: a burst to a server that closes
// after each response opens its connections side by side, none waiting for another's handshake.
TEST_F(PoolTest, ABurstToAnHttp1OriginThatClosesHandshakesInParallel) {
  std::atomic<bool> gate{false};
  TestServer server(
      [](ServerConn& c) {
        if (c.read_request()) c.write(response("bye", "Connection: close\r\n"));
      },
      ServerOptions{.tls = true, .handshake_gate = &gate});
  const uint64_t first = submit(h1(server));
  AWAIT(r, first);
  ASSERT_TRUE(r.ok()) << r.describe();
  // The four connections are accepted while every handshake is held: nobody waits for another.
  const std::vector<uint64_t> ids = burst_behind_gate(server, 4, gate);
  EXPECT_EQ(server.connections(), 5);
  for (uint64_t id : ids) {
    AWAIT(each, id);
    ASSERT_TRUE(each.ok()) << each.describe();
    EXPECT_EQ(each.body, "bye");
  }
  EXPECT_EQ(stats().exchanges_reused, 0u);
}

// A burst of connections side by side to an identity that has resumed before: each one resumes
// (TLS 1.3 tickets are single-use; the server issues two per handshake and the cache keeps up to
// 16 per identity, so eight sequential connections leave enough for eight at once).
TEST_F(PoolTest, ABurstOfNewConnectionsEachResumesItsOwnSession) {
  std::atomic<bool> gate{true};
  TestServer server(
      [](ServerConn& c) {
        if (c.read_request()) c.write(response("once", "Connection: close\r\n"));
        c.close();
      },
      ServerOptions{.tls = true, .handshake_gate = &gate});
  for (int i = 0; i < 8; ++i) {
    const uint64_t id = submit(h1(server));
    AWAIT(r, id);
    ASSERT_TRUE(r.ok()) << r.describe();
  }
  ASSERT_EQ(server.resumed(), 7);
  gate = false;  // the burst's connections all start before any of them gets a new ticket
  const std::vector<uint64_t> ids = burst_behind_gate(server, 8, gate);
  ASSERT_EQ(server.connections(), 16);
  for (uint64_t id : ids) {
    AWAIT(r, id);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_TRUE(r.connection.tls_resumed);
  }
  EXPECT_EQ(server.resumed(), 15);
}

// ---------------------------------------------------------------------------------------------
// Limits and the queue

TEST_F(PoolTest, PerOriginConnectionLimit) {
  EngineOptions o;
  o.max_connections_per_origin = 2;
  restart(o);
  std::atomic<bool> gate{false};
  TestServer server(gated(gate));
  std::vector<uint64_t> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(submit(h1(server)));
  ASSERT_TRUE(server.wait_requests(2));
  ASSERT_TRUE(wait_stats([](const EngineStats& s) { return s.requests_queued == 4; }))
      << stats().requests_queued;
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(server.request_count(), 2u);
  EXPECT_EQ(server.connections(), 2);
  auto origins = engine_->origin_stats();
  ASSERT_EQ(origins.size(), 1u);
  EXPECT_EQ(origins[0].open, 2u);
  EXPECT_EQ(origins[0].idle, 0u);
  gate = true;
  for (uint64_t id : ids) {
    AWAIT(r, id);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(r.body, "re:" + std::to_string(id)) << "answered for another request";
  }
  EXPECT_EQ(server.connections(), 2);
  EXPECT_LE(server.max_open(), 2);
  EXPECT_EQ(stats().requests_queued, 0u);
}

TEST_F(PoolTest, TotalConnectionLimitAcrossOrigins) {
  EngineOptions o;
  o.max_connections = 3;
  restart(o);
  std::atomic<bool> gate{false};
  TestServer a(gated(gate)), b(gated(gate));
  std::atomic<bool> sampling{true};
  std::atomic<uint64_t> most{0};
  Engine* engine = engine_.get();
  std::thread sampler([&] {
    while (sampling.load()) {
      const uint64_t live = engine->stats().connections_live;
      if (live > most.load()) most = live;
      std::this_thread::sleep_for(200us);
    }
  });
  std::vector<uint64_t> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(submit(h1(a)));
    ids.push_back(submit(h1(b)));
  }
  ASSERT_TRUE(a.wait_for([&] { return a.request_count() + b.request_count() >= 3; }));
  ASSERT_TRUE(wait_stats([](const EngineStats& s) { return s.requests_queued == 5; }));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(a.request_count() + b.request_count(), 3u);
  EXPECT_EQ(a.connections() + b.connections(), 3);
  gate = true;
  for (uint64_t id : ids) {
    AWAIT(r, id);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(r.body, "re:" + std::to_string(id));
  }
  sampling = false;
  sampler.join();
  EXPECT_LE(most.load(), 3u);
  EXPECT_LE(stats().connections_live, 3u);
}

TEST_F(PoolTest, TotalLimitClosesAnIdleConnectionOfAnotherOrigin) {
  EngineOptions o;
  o.max_connections = 1;
  restart(o);
  TestServer a(TestServer::respond_always(response("a")));
  TestServer b(TestServer::respond_always(response("b")));
  const uint64_t first = submit(h1(a));
  {
    AWAIT(r, first);
    ASSERT_TRUE(r.ok()) << r.describe();
  }
  ASSERT_TRUE(wait_stats([](const EngineStats& s) { return s.connections_idle == 1; }));
  const uint64_t second = submit(h1(b));
  AWAIT(r, second);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.body, "b");
  EXPECT_TRUE(a.wait_peer_closes(1, 5s)) << "the idle connection to a made room";
  ASSERT_TRUE(wait_quiet());
  EXPECT_EQ(stats().connections_live, 1u);
  const auto origins = engine_->origin_stats();
  ASSERT_EQ(origins.size(), 1u);
  EXPECT_NE(origins[0].key.find(std::to_string(b.port())), std::string::npos) << origins[0].key;
}

TEST_F(PoolTest, PerClientLimitCannotStarveOtherClients) {
  engine_->set_client_limits(1, ClientLimits{.max_in_flight = 2});
  std::atomic<bool> gate{false};
  std::mutex mu;
  std::map<std::string, int> active, most;
  TestServer server([&](ServerConn& c) {
    std::string raw;
    while (c.read_request(&raw)) {
      const std::string client = header_value(raw, "x-client");
      {
        std::lock_guard<std::mutex> lock(mu);
        most[client] = std::max(most[client], ++active[client]);
      }
      if (!c.wait_until([&] { return gate.load(); }, 20s)) return;
      {
        std::lock_guard<std::mutex> lock(mu);
        --active[client];
      }
      if (!c.write(response("re:" + header_value(raw, "x-req")))) return;
    }
  });
  std::vector<uint64_t> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(submit(h1(server, "/one", 1)));
  for (int i = 0; i < 3; ++i) ids.push_back(submit(h1(server, "/two", 2)));
  ASSERT_TRUE(server.wait_requests(5)) << server.request_count();
  ASSERT_TRUE(wait_stats([](const EngineStats& s) { return s.requests_queued == 4; }));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(server.request_count(), 5u) << "client 1: 2 in flight; client 2: all 3";
  gate = true;
  for (uint64_t id : ids) {
    AWAIT(r, id);
    ASSERT_TRUE(r.ok()) << r.describe();
  }
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(most["1"], 2);
  EXPECT_EQ(most["2"], 3);
}

TEST_F(PoolTest, DefaultPerClientLimitFromEngineOptions) {
  EngineOptions o;
  o.max_in_flight_per_client = 1;
  restart(o);
  std::atomic<int> active{0}, most{0};
  TestServer server([&](ServerConn& c) {
    std::string raw;
    while (c.read_request(&raw)) {
      most = std::max(most.load(), ++active);
      c.sleep_for(5ms);
      --active;
      if (!c.write(response("ok"))) return;
    }
  });
  std::vector<uint64_t> ids;
  for (int i = 0; i < 8; ++i) ids.push_back(submit(h1(server, "/", 4)));
  for (uint64_t id : ids) {
    AWAIT(r, id);
    ASSERT_TRUE(r.ok()) << r.describe();
  }
  EXPECT_EQ(most.load(), 1);
  EXPECT_EQ(server.connections(), 1) << "one at a time: the one connection is reused";
}

TEST_F(PoolTest, FairQueueAlternatesBetweenClients) {
  EngineOptions o;
  o.max_connections_per_origin = 1;
  restart(o);
  std::atomic<bool> gate{false};
  TestServer server([&](ServerConn& c) {
    std::string raw;
    while (c.read_request(&raw)) {
      if (!c.wait_until([&] { return gate.load(); }, 20s)) return;
      if (!c.write(response("ok"))) return;
    }
  });
  std::vector<uint64_t> ids;
  for (int i = 0; i < 8; ++i) ids.push_back(submit(h1(server, "/a", 1)));
  for (int i = 0; i < 8; ++i) ids.push_back(submit(h1(server, "/b", 2)));
  ASSERT_TRUE(wait_stats([](const EngineStats& s) { return s.requests_queued == 15; }));
  gate = true;
  for (uint64_t id : ids) {
    AWAIT(r, id);
    ASSERT_TRUE(r.ok()) << r.describe();
  }
  std::string order;
  for (const auto& raw : server.requests()) order += header_value(raw, "x-client");
  EXPECT_EQ(order, "1212121212121212") << "round-robin between the clients, FIFO within each";
  // FIFO within a client: request ids rise.
  uint64_t last[3] = {0, 0, 0};
  for (const auto& raw : server.requests()) {
    const int c = std::stoi(header_value(raw, "x-client"));
    const uint64_t id = std::stoull(header_value(raw, "x-req"));
    EXPECT_GT(id, last[c]);
    last[c] = id;
  }
}

TEST_F(PoolTest, QueueFullIsRefusedAtOnce) {
  EngineOptions o;
  o.max_connections_per_origin = 1;
  o.max_queued = 3;
  restart(o);
  std::atomic<bool> gate{false};
  TestServer server(gated(gate));
  std::vector<uint64_t> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(submit(h1(server)));
  for (size_t i = 4; i < 6; ++i) {
    AWAIT(r, ids[i]);  // while the gate is still shut
    EXPECT_EQ(r.code(), "ERR_QUEUE_FULL") << r.describe();
    EXPECT_EQ(r.stage(), "queue");
  }
  EXPECT_EQ(errors(ErrorCode::kQueueFull), 2u);
  EXPECT_EQ(stats().requests_queued, 3u);
  gate = true;
  for (size_t i = 0; i < 4; ++i) {
    AWAIT(r, ids[i]);
    EXPECT_TRUE(r.ok()) << r.describe();
  }
  EXPECT_EQ(error_code_name(ErrorCode::kQueueFull), "ERR_QUEUE_FULL");
}

TEST_F(PoolTest, PerClientQueueBound) {
  EngineOptions o;
  o.max_connections_per_origin = 1;
  restart(o);
  engine_->set_client_limits(9, ClientLimits{.max_in_flight = 0, .max_queued = 1});
  std::atomic<bool> gate{false};
  TestServer server(gated(gate));
  const uint64_t a = submit(h1(server, "/", 9));  // on the connection
  ASSERT_TRUE(server.wait_requests(1));
  const uint64_t b = submit(h1(server, "/", 9));   // queued
  const uint64_t c = submit(h1(server, "/", 9));   // over this client's bound
  const uint64_t d = submit(h1(server, "/", 10));  // another client still queues
  AWAIT(rc, c);
  EXPECT_EQ(rc.code(), "ERR_QUEUE_FULL") << rc.describe();
  ASSERT_TRUE(wait_stats([](const EngineStats& s) { return s.requests_queued == 2; }));
  gate = true;
  for (uint64_t id : {a, b, d}) {
    AWAIT(r, id);
    EXPECT_TRUE(r.ok()) << r.describe();
  }
}

TEST_F(PoolTest, QueuedRequestsTimeOutAndCancelWhileWaiting) {
  EngineOptions o;
  o.max_connections_per_origin = 1;
  restart(o);
  std::atomic<bool> gate{false};
  TestServer server(gated(gate));
  const uint64_t a = submit(h1(server));
  ASSERT_TRUE(server.wait_requests(1));
  RequestSpec s = h1(server);
  s.timeout_ms = 150;
  const uint64_t b = submit(std::move(s));
  const uint64_t c = submit(h1(server));
  {
    AWAIT(rb, b);
    EXPECT_EQ(rb.code(), "ERR_TIMEOUT") << rb.describe();
    EXPECT_EQ(rb.stage(), "queue");
  }
  ASSERT_TRUE(wait_stats([](const EngineStats& st) { return st.requests_queued == 1; }));
  engine_->cancel(c);
  {
    AWAIT(rc, c);
    EXPECT_EQ(rc.code(), "ERR_ABORTED") << rc.describe();
    EXPECT_EQ(rc.stage(), "queue");
  }
  EXPECT_EQ(stats().requests_queued, 0u);
  gate = true;
  AWAIT(ra, a);
  EXPECT_TRUE(ra.ok()) << ra.describe();
  EXPECT_EQ(server.request_count(), 1u) << "neither waiting request reached the server";
}

TEST_F(PoolTest, CancelClientCancelsOnlyItsOwnRequests) {
  std::atomic<bool> gate{false};
  TestServer server(gated(gate));
  std::vector<uint64_t> mine, theirs;
  for (int i = 0; i < 3; ++i) mine.push_back(submit(h1(server, "/", 5)));
  for (int i = 0; i < 2; ++i) theirs.push_back(submit(h1(server, "/", 6)));
  ASSERT_TRUE(server.wait_requests(5));
  engine_->cancel_client(5);
  for (uint64_t id : mine) {
    AWAIT(r, id);
    EXPECT_EQ(r.code(), "ERR_CLIENT_CLOSED") << r.describe();
  }
  gate = true;
  for (uint64_t id : theirs) {
    AWAIT(r, id);
    EXPECT_TRUE(r.ok()) << r.describe();
  }
}

// ---------------------------------------------------------------------------------------------
// Health

// A server that closes kept-alive connections idle for 15 ms, while the client sends requests
// with pauses around that: some meet a connection at the moment it is closed. None may fail.
TEST_F(PoolTest, ServerClosingIdleConnectionsBetweenRequests) {
  for (bool tls : {false, true}) {
    SCOPED_TRACE(tls ? "https" : "http");
    TestServer server(
        [](ServerConn& c) {
          while (c.read_request()) {
            if (!c.write(response("k"))) return;
            if (!c.readable_within(15ms)) {
              c.close();
              return;
            }
          }
        },
        ServerOptions{.tls = tls});
    for (int i = 0; i < 40; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds((i * 7) % 31));
      const uint64_t id = submit(h1(server));
      AWAIT(r, id);
      ASSERT_TRUE(r.ok()) << "request " << i << ": " << r.describe();
      EXPECT_EQ(r.body, "k");
    }
    EXPECT_GT(server.connections(), 1) << "the server did close idle connections";
    if (tls) {
      EXPECT_GT(server.resumed(), 0) << "later connections resumed the TLS session";
    }
  }
}

TEST_F(PoolTest, Http2ServerClosingIdleSessionsBetweenRequests) {
  REQUIRE_H2();
  for (bool goaway : {true, false}) {
    SCOPED_TRACE(goaway ? "GOAWAY then close" : "just close");
    H2ServerOptions options;
    options.idle_close_ms = 15;
    options.idle_goaway = goaway;
    H2Server server([](const RequestInfo& r) { return respond(body_for(r.path, 200)); }, options);
    for (int i = 0; i < 30; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds((i * 7) % 31));
      const std::string path = "/i/" + std::to_string(i);
      const uint64_t id = submit(h2(server, path));
      AWAIT(r, id);
      ASSERT_TRUE(r.ok()) << "request " << i << ": " << r.describe();
      EXPECT_EQ(r.body, body_for(path, 200));
    }
    EXPECT_GT(server.closed_idle(), 0);
    EXPECT_GT(server.connections(), 1);
    EXPECT_GT(server.resumed(), 0) << "later sessions resumed the TLS session";
  }
}

TEST_F(PoolTest, ServerDyingMidBody) {
  TestServer dying([](ServerConn& c) {
    if (!c.read_request()) return;
    c.write("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + std::string(1000, 'x'));
    c.sleep_for(20ms);
    c.close();
  });
  const uint64_t a = submit(h1(dying));
  {
    AWAIT(r, a);
    EXPECT_EQ(r.code(), "ERR_BODY_TRUNCATED") << r.describe();
    EXPECT_EQ(r.stage(), "body");
    EXPECT_TRUE(r.has_head);
  }
  EXPECT_EQ(errors(ErrorCode::kBodyTruncated), 1u);
  ASSERT_TRUE(wait_stats([](const EngineStats& s) { return s.connections_live == 0; }));
  EXPECT_TRUE(engine_->origin_stats().empty());

  if (!http2_profile_usable()) return;
  H2Server server([](const RequestInfo& r) {
    if (r.path == "/partial" && r.conn_index == 0) {
      Action a = respond(std::string(100000, 'p'));
      a.close_after = 3000;
      return a;
    }
    return respond(body_for(r.path, 500));
  });
  const uint64_t warm = submit(h2(server, "/warm"));
  {
    AWAIT(w, warm);
    ASSERT_TRUE(w.ok()) << w.describe();
  }
  const uint64_t partial = submit(h2(server, "/partial"));
  {
    AWAIT(p, partial);
    EXPECT_EQ(p.code(), "ERR_BODY_TRUNCATED") << p.describe();
    EXPECT_TRUE(p.has_head);
  }
  const uint64_t after = submit(h2(server, "/after"));
  AWAIT(r, after);
  EXPECT_TRUE(r.ok()) << r.describe();
  EXPECT_FALSE(r.connection.reused);
  EXPECT_EQ(server.connections(), 2);
}

// The server stops answering PINGs while one stream is stuck and a second waits for a stream slot
// (the server allows one): the session is given up, the stuck POST fails, the waiting GET (never
// sent) goes to a new connection.
TEST_F(PoolTest, Http2PingTimeoutMovesUnsentRequestsToANewConnection) {
  REQUIRE_H2();
  EngineOptions o;
  o.ping_interval_ms = 200;
  o.ping_timeout_ms = 200;
  restart(o);
  H2ServerOptions options;
  options.max_concurrent_streams = 1;
  options.ignore_pings = true;
  H2Server server(
      [](const RequestInfo& r) {
        if (r.conn_index == 0 && r.path == "/stuck") return stall();
        return respond(body_for(r.path, 400));
      },
      options);
  const uint64_t warm = submit(h2(server, "/warm"));
  uint64_t first_conn = 0;
  {
    AWAIT(w, warm);
    ASSERT_TRUE(w.ok()) << w.describe();
    first_conn = w.connection.connection_id;
  }
  // A POST: never sent twice, so it fails with the session (a GET would be retried once).
  RequestSpec post = h2(server, "/stuck");
  post.method = "POST";
  const uint64_t stuck = submit(std::move(post));
  ASSERT_TRUE(server.wait_for([&] { return server.streams() >= 2; }));
  const uint64_t waiting = submit(h2(server, "/waiting"));
  {
    AWAIT(s, stuck);
    EXPECT_EQ(s.code(), "ERR_CONNECTION_CLOSED") << s.describe();
  }
  AWAIT(w, waiting);
  ASSERT_TRUE(w.ok()) << w.describe();
  EXPECT_EQ(w.body, body_for("/waiting", 400));
  EXPECT_NE(w.connection.connection_id, first_conn);
  EXPECT_EQ(stats().h2_pings_timed_out, 1u);
  EXPECT_GE(server.pings_received(), 1);
  EXPECT_EQ(server.connections(), 2);
}

TEST_F(PoolTest, Http2PingTimeoutClosesAnIdleDeadSession) {
  REQUIRE_H2();
  EngineOptions o;
  o.ping_interval_ms = 100;
  o.ping_timeout_ms = 100;
  restart(o);
  H2ServerOptions options;
  options.ignore_pings = true;
  H2Server server([](const RequestInfo& r) { return respond(body_for(r.path, 100)); }, options);
  const uint64_t warm = submit(h2(server, "/warm"));
  {
    AWAIT(w, warm);
    ASSERT_TRUE(w.ok()) << w.describe();
  }
  ASSERT_TRUE(
      wait_stats([](const EngineStats& s) { return s.h2_pings_timed_out == 1 && s.connections_live == 0; }));
  const uint64_t next = submit(h2(server, "/next"));
  AWAIT(r, next);
  EXPECT_TRUE(r.ok()) << r.describe();
  EXPECT_FALSE(r.connection.reused);
  EXPECT_EQ(server.connections(), 2);
}

TEST_F(PoolTest, Http2PingsKeepAHealthySessionInUse) {
  REQUIRE_H2();
  EngineOptions o;
  o.ping_interval_ms = 50;
  o.ping_timeout_ms = 1000;
  restart(o);
  H2Server server([](const RequestInfo& r) { return respond(body_for(r.path, 100)); });
  const uint64_t warm = submit(h2(server, "/warm"));
  uint64_t conn = 0;
  {
    AWAIT(w, warm);
    ASSERT_TRUE(w.ok()) << w.describe();
    conn = w.connection.connection_id;
  }
  ASSERT_TRUE(server.wait_for([&] { return server.pings_received() >= 3; }));
  const uint64_t next = submit(h2(server, "/next"));
  AWAIT(r, next);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.connection.connection_id, conn);
  EXPECT_EQ(stats().h2_pings_timed_out, 0u);
  EXPECT_EQ(server.connections(), 1);
}

TEST_F(PoolTest, TlsSessionResumptionPerIdentity) {
  // Every response closes its connection: each request needs a new one.
  TestServer server(answer_once_and_close(), ServerOptions{.tls = true});
  auto get = [&](const std::string& host, std::shared_ptr<const Profile> profile) {
    RequestSpec s = h1(server);
    s.host = host;
    if (profile) s.custom_profile = std::move(profile);
    return submit(std::move(s));
  };
  const uint64_t a = get("127.0.0.1", nullptr);
  {
    AWAIT(r, a);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_FALSE(r.connection.tls_resumed);
  }
  const uint64_t b = get("127.0.0.1", nullptr);
  {
    AWAIT(r, b);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_TRUE(r.connection.tls_resumed) << "a second connection to the same identity resumes";
  }
  EXPECT_EQ(server.resumed(), 1);
  EXPECT_EQ(stats().tls_resumed, 1u);
  // Another identity (SNI localhost) never gets the first one's session.
  const uint64_t c = get("localhost", nullptr);
  {
    AWAIT(r, c);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_FALSE(r.connection.tls_resumed);
  }
  const uint64_t d = get("localhost", nullptr);
  {
    AWAIT(r, d);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_TRUE(r.connection.tls_resumed);
  }
  // A profile without session tickets never resumes.
  auto no_tickets = std::make_shared<Profile>(used_profile());
  no_tickets->id += "-no-tickets";
  no_tickets->tls.session_tickets = false;
  for (int i = 0; i < 2; ++i) {
    const uint64_t id = get("127.0.0.1", no_tickets);
    AWAIT(r, id);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_FALSE(r.connection.tls_resumed);
  }
  EXPECT_EQ(server.resumed(), 2);
  EXPECT_EQ(stats().tls_resumed, 2u);
  EXPECT_EQ(stats().tls_handshakes, 6u);
  // The ALPN variants (forceHTTP1, the WebSocket retry hello) are identities of their own for the
  // pool, but share the TLS sessions: a browser resumes a site's session whatever the new
  // connection offers (Firefox's http/1.1-only WebSocket retry resumes its h2 connection's).
  for (const bool retry : {false, true}) {
    RequestSpec s = h1(server);
    s.host = "localhost";
    s.force_http1 = !retry;
    s.http1_retry_hello = retry;
    const uint64_t id = submit(std::move(s));
    AWAIT(r, id);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_TRUE(r.connection.tls_resumed) << (retry ? "retry hello" : "forceHTTP1");
    EXPECT_EQ(r.connection.alpn, "http/1.1");
  }
  EXPECT_EQ(stats().tls_resumed, 4u);
}

TEST_F(PoolTest, IdleTimeoutAndSweepCloseIdleConnections) {
  EngineOptions o;
  o.idle_timeout_ms = 80;
  o.sweep_interval_ms = 20;
  restart(o);
  TestServer server(TestServer::respond_always(response("x")));
  const uint64_t id = submit(h1(server));
  AWAIT(r, id);
  ASSERT_TRUE(r.ok()) << r.describe();
  ASSERT_TRUE(server.wait_peer_closes(1, 5s));
  ASSERT_TRUE(wait_stats([](const EngineStats& s) {
    return s.connections_live == 0 && s.connections_idle == 0 && s.connections_open == 0;
  }));
  EXPECT_TRUE(engine_->origin_stats().empty());
}

// ---------------------------------------------------------------------------------------------
// Identities and rotation (issue #19)

TEST_F(PoolTest, IdentitiesNeverShareAConnection) {
  TestServer server(TestServer::respond_always(response("r")), ServerOptions{.tls = true});
  auto get = [&](const std::string& identity) {
    RequestSpec s = h1(server);
    s.identity = identity;
    return settled(submit(std::move(s))).connection;
  };
  const ConnectionInfo alice1 = get("alice"), bob1 = get("bob"), alice2 = get("alice"), plain = get("");
  EXPECT_EQ(alice2.connection_id, alice1.connection_id) << "one identity keeps its connection";
  EXPECT_TRUE(alice2.reused);
  EXPECT_NE(bob1.connection_id, alice1.connection_id);
  EXPECT_FALSE(bob1.reused);
  EXPECT_NE(plain.connection_id, alice1.connection_id);
  EXPECT_NE(plain.connection_id, bob1.connection_id);
  EXPECT_EQ(server.connections(), 3);
  ASSERT_TRUE(wait_quiet());
  const auto origins = engine_->origin_stats();
  ASSERT_EQ(origins.size(), 3u);
  int named = 0;
  for (const auto& o : origins) named += o.key.find(" identity=\"") != std::string::npos;
  EXPECT_EQ(named, 2);
}

TEST_F(PoolTest, IdentitiesNeverShareATlsSessionAndCountTheirOwnStats) {
  // Every response closes its connection: each request needs a new one (and may resume).
  TestServer server(answer_once_and_close(), ServerOptions{.tls = true});
  auto get = [&](const std::string& identity) {
    RequestSpec s = h1(server);
    s.identity = identity;
    return settled(submit(std::move(s))).connection.tls_resumed;
  };
  EXPECT_FALSE(get("alice"));
  EXPECT_TRUE(get("alice")) << "the same identity resumes its own session";
  EXPECT_FALSE(get("bob")) << "another identity never gets alice's session";
  EXPECT_TRUE(get("bob"));
  EXPECT_FALSE(get("")) << "nor does the default identity";
  const EngineStats s = stats();
  EXPECT_EQ(s.tls_handshakes, 5u);
  EXPECT_EQ(s.tls_resumed, 2u);
  ASSERT_EQ(s.identities.size(), 2u);
  EXPECT_EQ(s.identities[0].identity, "alice");
  EXPECT_EQ(s.identities[1].identity, "bob");
  for (const IdentityStats& id : s.identities) {
    EXPECT_EQ(id.connections_opened, 2u) << id.identity;
    EXPECT_EQ(id.tls_handshakes, 2u) << id.identity;
    EXPECT_EQ(id.tls_resumed, 1u) << id.identity;
    EXPECT_EQ(id.exchanges, 2u) << id.identity;
  }
}

TEST_F(PoolTest, OneRequestPerConnectionOpensAndClosesOneEach) {
  TestServer server(TestServer::respond_always(response("r")));
  std::set<uint64_t> connections;
  for (int i = 0; i < 4; ++i) {
    RequestSpec s = h1(server);
    s.max_requests_per_connection = 1;
    const uint64_t id = submit(std::move(s));
    AWAIT(r, id);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_FALSE(r.connection.reused);
    connections.insert(r.connection.connection_id);
  }
  EXPECT_EQ(connections.size(), 4u);
  EXPECT_EQ(server.connections(), 4);
  // Each closed after its request: nothing is left idle.
  ASSERT_TRUE(wait_stats([](const EngineStats& s) { return s.connections_live == 0; }));
  ASSERT_TRUE(server.wait_peer_closes(4, 5s));
}

TEST_F(PoolTest, MaxRequestsPerConnectionRotatesEveryNRequests) {
  TestServer server(TestServer::respond_always(response("r")));
  for (int i = 0; i < 5; ++i) {
    RequestSpec s = h1(server);
    s.max_requests_per_connection = 2;
    const uint64_t id = submit(std::move(s));
    AWAIT(r, id);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(r.connection.reused, i % 2 == 1);
  }
  EXPECT_EQ(server.connections(), 3);
  // The third connection (one request so far) stays for more; the two worn out ones closed.
  ASSERT_TRUE(wait_stats([](const EngineStats& s) { return s.connections_live == 1; }));
  // A request without the limit is of another policy: it never lands on the rotating connection.
  const uint64_t id = submit(h1(server));
  AWAIT(r, id);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_FALSE(r.connection.reused);
  EXPECT_EQ(server.connections(), 4);
}

TEST_F(PoolTest, Http2SessionsRotateOnTheirRequestLimit) {
  REQUIRE_H2();
  H2Server server([](const RequestInfo& r) { return respond(body_for(r.path, 100)); });
  std::set<uint64_t> connections;
  for (int i = 0; i < 5; ++i) {
    RequestSpec s = h2(server, "/r/" + std::to_string(i));
    s.max_requests_per_connection = 2;
    const uint64_t id = submit(std::move(s));
    AWAIT(r, id);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(r.connection.alpn, "h2");
    connections.insert(r.connection.connection_id);
  }
  EXPECT_EQ(connections.size(), 3u);
  EXPECT_EQ(server.connections(), 3);
  ASSERT_TRUE(wait_stats([](const EngineStats& s) { return s.connections_live == 1; }));
}

TEST_F(PoolTest, ConnectionsPastTheirAgeTakeNoRequestAndCloseWhenIdle) {
  TestServer server(TestServer::respond_always(response("r")));
  auto get = [&] {
    RequestSpec s = h1(server);
    s.max_connection_age_ms = 150;
    return settled(submit(std::move(s))).connection;
  };
  const ConnectionInfo first = get();
  // Closed by its age while idle (the idle timeout is a minute away).
  ASSERT_TRUE(wait_stats([](const EngineStats& s) { return s.connections_live == 0; }, 10s));
  ASSERT_TRUE(server.wait_peer_closes(1, 5s));
  const ConnectionInfo second = get();
  EXPECT_NE(second.connection_id, first.connection_id);
  EXPECT_FALSE(second.reused);
  EXPECT_EQ(server.connections(), 2);
}

// ---------------------------------------------------------------------------------------------
// Drain and shutdown

TEST_F(PoolTest, DrainLetsInFlightAndQueuedRequestsFinish) {
  EngineOptions o;
  o.max_connections_per_origin = 1;
  restart(o);
  std::atomic<bool> gate{false};
  TestServer server(gated(gate));
  std::vector<uint64_t> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(submit(h1(server)));
  ASSERT_TRUE(server.wait_requests(1));
  ASSERT_TRUE(wait_stats([](const EngineStats& s) { return s.requests_queued == 2; }));
  std::atomic<int> done{0};
  engine_->drain(10'000, [&] { ++done; });
  const uint64_t late = submit(h1(server));
  {
    AWAIT(r, late);
    EXPECT_EQ(r.code(), "ERR_CLIENT_CLOSED") << r.describe();
    EXPECT_EQ(r.stage(), "queue");
  }
  EXPECT_EQ(done.load(), 0);
  gate = true;
  for (uint64_t id : ids) {
    AWAIT(r, id);
    EXPECT_TRUE(r.ok()) << r.describe();
  }
  engine_->join();
  EXPECT_EQ(done.load(), 1);
  EXPECT_TRUE(server.wait_peer_closes(1, 5s)) << "the pooled connection was closed";
  const EngineStats s = stats();
  EXPECT_EQ(s.requests_in_flight, 0u);
  EXPECT_EQ(s.connections_live, 0u);
  EXPECT_EQ(s.connections_open, 0u);
}

TEST_F(PoolTest, DrainGracePeriodEndsWithErrClientClosed) {
  TestServer stalled([](ServerConn& c) {
    if (c.read_request()) c.stall();
  });
  const uint64_t id = submit(h1(stalled));
  ASSERT_TRUE(stalled.wait_requests(1));
  std::atomic<int> done{0};
  const auto start = Clock::now();
  engine_->drain(150, [&] { ++done; });
  AWAIT(r, id);
  EXPECT_EQ(r.code(), "ERR_CLIENT_CLOSED") << r.describe();
  EXPECT_EQ(r.stage(), "headers");
  EXPECT_GE(Clock::now() - start, 140ms);
  engine_->join();
  EXPECT_EQ(done.load(), 1);
  EXPECT_TRUE(stalled.wait_peer_closes(1, 5s));
}

TEST_F(PoolTest, ShutdownAndDrainFromManyThreadsAtOnce) {
  TestServer stalled([](ServerConn& c) {
    if (c.read_request()) c.stall();
  });
  std::vector<uint64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(submit(h1(stalled)));
  ASSERT_TRUE(stalled.wait_requests(5));
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      if (t % 2 == 0) {
        engine_->shutdown([&] { ++done; });
      } else {
        engine_->drain(t * 1000, [&] { ++done; });
      }
    });
  }
  for (auto& t : threads) t.join();
  engine_->join();
  EXPECT_EQ(done.load(), 4) << "every callback runs once";
  for (uint64_t id : ids) {
    AWAIT(r, id);
    EXPECT_EQ(r.code(), "ERR_CLIENT_CLOSED") << r.describe();
  }
  // After the end: the callback runs at once, on this thread.
  std::thread::id ran_on;
  engine_->shutdown([&] {
    ran_on = std::this_thread::get_id();
    ++done;
  });
  EXPECT_EQ(done.load(), 5);
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_TRUE(stalled.wait_peer_closes(5, 5s));
}

// Shutdown from the io thread itself (an event handler), and destruction in the middle of a drain.
TEST_F(PoolTest, ShutdownFromAnEventAndDestructionWhileDraining) {
  TestServer server(TestServer::respond_always(response("x")));
  TestServer stalled([](ServerConn& c) {
    if (c.read_request()) c.stall();
  });
  std::atomic<int> done{0};
  const uint64_t stuck = submit(h1(stalled));
  ASSERT_TRUE(stalled.wait_requests(1));
  Engine* engine = engine_.get();
  const uint64_t first = next_id_;
  sink_.hook = [&, engine, first](const Event& e) {
    if (e.id == first && e.kind == Kind::kEnd) engine->shutdown([&] { ++done; });
  };
  submit(h1(server));
  AWAIT(r, first);
  EXPECT_TRUE(r.ok()) << r.describe();
  AWAIT(rs, stuck);
  EXPECT_EQ(rs.code(), "ERR_CLIENT_CLOSED") << rs.describe();
  engine_->join();
  EXPECT_EQ(done.load(), 1);
  sink_.hook = nullptr;

  restart(EngineOptions{});
  const uint64_t again = submit(h1(stalled));
  ASSERT_TRUE(stalled.wait_requests(2));
  engine_->drain(60'000, [&] { ++done; });
  engine_.reset();  // the destructor cuts the grace period short
  EXPECT_EQ(done.load(), 2);
  AWAIT(ra, again);
  EXPECT_EQ(ra.code(), "ERR_CLIENT_CLOSED") << ra.describe();
}

// ---------------------------------------------------------------------------------------------
// Cancel and per-phase deadlines

TEST_F(PoolTest, CancelInEveryPhase) {
  // Queued.
  {
    EngineOptions o;
    o.max_connections_per_origin = 1;
    restart(o);
    std::atomic<bool> gate{false};
    TestServer server(gated(gate));
    const uint64_t a = submit(h1(server));
    ASSERT_TRUE(server.wait_requests(1));
    const uint64_t b = submit(h1(server));
    ASSERT_TRUE(wait_stats([](const EngineStats& s) { return s.requests_queued == 1; }));
    engine_->cancel(b);
    AWAIT(rb, b);
    EXPECT_EQ(rb.code(), "ERR_ABORTED");
    EXPECT_EQ(rb.stage(), "queue");
    gate = true;
    AWAIT(ra, a);
    EXPECT_TRUE(ra.ok()) << ra.describe();
    restart(EngineOptions{});
  }
  // Connecting.
  HangingListener listener;
  if (listener.full()) {
    const uint64_t id = submit(h1_at(false, listener.port()));
    ASSERT_TRUE(wait_stats([](const EngineStats& st) { return st.connections_connecting == 1; }));
    std::this_thread::sleep_for(20ms);
    engine_->cancel(id);
    AWAIT(r, id);
    EXPECT_EQ(r.code(), "ERR_ABORTED");
    EXPECT_EQ(r.stage(), "connect");
    ASSERT_TRUE(wait_stats([](const EngineStats& st) { return st.connections_live == 0; }));
  }
  // TLS handshake, head, body: each connection is closed.
  TestServer silent([](ServerConn& c) { c.stall(); });
  TestServer no_head([](ServerConn& c) {
    if (c.read_request()) c.stall();
  });
  TestServer mid_body([](ServerConn& c) {
    if (!c.read_request()) return;
    c.write("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nsome");
    c.stall();
  });
  RequestSpec tls = h1(silent);
  tls.tls = true;
  const uint64_t in_tls = submit(std::move(tls));
  const uint64_t in_head = submit(h1(no_head));
  const uint64_t in_body = submit(h1(mid_body));
  ASSERT_TRUE(silent.wait_connections(1));
  ASSERT_TRUE(no_head.wait_requests(1));
  ASSERT_TRUE(sink_.wait_body_bytes(in_body, 4));
  ASSERT_TRUE(wait_stats([](const EngineStats& st) { return st.connections_opened == 3; }));
  std::this_thread::sleep_for(20ms);
  for (uint64_t id : {in_tls, in_head, in_body}) engine_->cancel(id);
  const std::pair<uint64_t, const char*> expected[] = {
      {in_tls, "tls"}, {in_head, "headers"}, {in_body, "body"}};
  for (const auto& [id, stage] : expected) {
    AWAIT(r, id);
    EXPECT_EQ(r.code(), "ERR_ABORTED") << r.describe();
    EXPECT_EQ(r.stage(), stage);
  }
  EXPECT_TRUE(silent.wait_peer_closes(1, 5s));
  EXPECT_TRUE(no_head.wait_peer_closes(1, 5s));
  EXPECT_TRUE(mid_body.wait_peer_closes(1, 5s)) << "an HTTP/1.1 connection mid-body is closed";
  ASSERT_TRUE(wait_stats(
      [](const EngineStats& st) { return st.requests_in_flight == 0 && st.connections_live == 0; }));
  EXPECT_EQ(errors(ErrorCode::kAborted), listener.full() ? 4u : 3u);
}

TEST_F(PoolTest, CancelAnHttp2StreamResetsItAndKeepsTheSession) {
  REQUIRE_H2();
  H2Server server([](const RequestInfo& r) {
    if (r.path == "/never") return stall();
    if (r.path == "/big") {
      Action a = respond(std::string(4 << 20, 'b'));
      a.pace = 16 * 1024;
      return a;
    }
    return respond(body_for(r.path, 300));
  });
  const uint64_t head = submit(h2(server, "/never"));
  const uint64_t body = submit(h2(server, "/big"));
  ASSERT_TRUE(server.wait_for([&] { return server.streams() >= 2; }));
  ASSERT_TRUE(sink_.wait_body_bytes(body, 16 * 1024));
  engine_->cancel(head);
  engine_->cancel(body);
  uint64_t conn = 0;
  {
    AWAIT(r, head);
    EXPECT_EQ(r.code(), "ERR_ABORTED");
    EXPECT_EQ(r.stage(), "headers");
  }
  {
    AWAIT(r, body);
    EXPECT_EQ(r.code(), "ERR_ABORTED");
    EXPECT_EQ(r.stage(), "body");
    conn = r.connection.connection_id;
  }
  EXPECT_TRUE(server.wait_for([&] { return server.resets_received() >= 2; }))
      << "RST_STREAM(CANCEL) for both";
  const uint64_t after = submit(h2(server, "/after"));
  AWAIT(r, after);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.connection.connection_id, conn) << "the session is kept";
  EXPECT_EQ(server.connections(), 1);
}

// The request whose connection attempt others ride on (the cold-origin guard) is cancelled
// mid-handshake: one of the others takes its place; nobody else fails.
TEST_F(PoolTest, CancellingTheFirstOfAColdBurstKeepsTheOthersGoing) {
  TestServer server(TestServer::respond_always(response("ok")),
                    ServerOptions{.tls = true, .handshake_delay_ms = 200});
  const uint64_t a = submit(h1(server));
  const uint64_t b = submit(h1(server));
  const uint64_t c = submit(h1(server));
  ASSERT_TRUE(server.wait_connections(1));
  ASSERT_TRUE(wait_stats([](const EngineStats& s) { return s.connections_opened >= 1; }));
  engine_->cancel(a);
  {
    AWAIT(r, a);
    EXPECT_EQ(r.code(), "ERR_ABORTED");
    EXPECT_EQ(r.stage(), "tls");
  }
  for (uint64_t id : {b, c}) {
    AWAIT(r, id);
    EXPECT_TRUE(r.ok()) << r.describe();
  }
}

TEST_F(PoolTest, PerPhaseTimeouts) {
  HangingListener listener;
  if (listener.full()) {
    RequestSpec s = h1_at(false, listener.port());
    s.connect_timeout_ms = 150;
    s.timeout_ms = 5000;
    const uint64_t id = submit(std::move(s));
    AWAIT(r, id);
    EXPECT_EQ(r.code(), "ERR_CONNECT_TIMEOUT") << r.describe();
    EXPECT_EQ(r.stage(), "connect");
  }
  TestServer silent([](ServerConn& c) { c.stall(); });
  {
    RequestSpec s = h1(silent);
    s.tls = true;
    s.connect_timeout_ms = 5000;  // over by the time the handshake starts
    s.tls_timeout_ms = 150;
    const uint64_t id = submit(std::move(s));
    AWAIT(r, id);
    EXPECT_EQ(r.code(), "ERR_TIMEOUT") << r.describe();
    EXPECT_EQ(r.stage(), "tls");
  }
  TestServer no_head([](ServerConn& c) {
    std::string raw;
    while (c.read_request(&raw)) {
      if (raw.rfind("GET /slow", 0) == 0) {
        c.stall();
        return;
      }
      c.sleep_for(30ms);
      if (!c.write(response("fine"))) return;
    }
  });
  {
    RequestSpec s = h1(no_head, "/slow");
    s.headers_timeout_ms = 150;
    const uint64_t id = submit(std::move(s));
    AWAIT(r, id);
    EXPECT_EQ(r.code(), "ERR_TIMEOUT") << r.describe();
    EXPECT_EQ(r.stage(), "headers");
    RequestSpec ok = h1(no_head, "/ok");
    ok.headers_timeout_ms = 2000;
    const uint64_t id2 = submit(std::move(ok));
    AWAIT(r2, id2);
    EXPECT_TRUE(r2.ok()) << r2.describe();
  }
  TestServer trickle([](ServerConn& c) {
    std::string raw;
    while (c.read_request(&raw)) {
      const bool gap = raw.rfind("GET /gap", 0) == 0;
      if (!c.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")) return;
      for (int i = 0; i < 10; ++i) {
        if (!c.sleep_for(gap && i == 5 ? 600ms : 30ms)) return;
        if (!c.write("x")) return;
      }
    }
  });
  {
    RequestSpec s = h1(trickle, "/steady");
    s.body_idle_timeout_ms = 300;  // the whole body takes longer, but no gap does
    const uint64_t id = submit(std::move(s));
    AWAIT(r, id);
    EXPECT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(r.body, "xxxxxxxxxx");
    RequestSpec g = h1(trickle, "/gap");
    g.body_idle_timeout_ms = 300;
    const uint64_t id2 = submit(std::move(g));
    AWAIT(r2, id2);
    EXPECT_EQ(r2.code(), "ERR_TIMEOUT") << r2.describe();
    EXPECT_EQ(r2.stage(), "body");
    EXPECT_TRUE(r2.has_head);
  }
  if (!http2_profile_usable()) return;
  H2Server h2server([](const RequestInfo& r) {
    if (r.path == "/never") return stall();
    return respond(body_for(r.path, 100));
  });
  const uint64_t warm = submit(h2(h2server, "/warm"));
  uint64_t conn = 0;
  {
    AWAIT(w, warm);
    ASSERT_TRUE(w.ok()) << w.describe();
    conn = w.connection.connection_id;
  }
  RequestSpec s = h2(h2server, "/never");
  s.headers_timeout_ms = 150;
  const uint64_t id = submit(std::move(s));
  {
    AWAIT(r, id);
    EXPECT_EQ(r.code(), "ERR_TIMEOUT") << r.describe();
    EXPECT_EQ(r.stage(), "headers");
  }
  EXPECT_TRUE(h2server.wait_for([&] { return h2server.resets_received() >= 1; }));
  const uint64_t after = submit(h2(h2server, "/after"));
  AWAIT(r, after);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.connection.connection_id, conn) << "a timed-out stream leaves the session alone";
}

// A paused response does not run into its body idle deadline: the wait is the caller's.
TEST_F(PoolTest, PausedTimeDoesNotCountAsBodyIdle) {
  TestServer server([](ServerConn& c) {
    if (!c.read_request()) return;
    c.write("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nfour");
    c.sleep_for(600ms);  // far beyond the body idle deadline, but the client is paused
    c.write("more");
    c.stall();
  });
  RequestSpec s = h1(server);
  s.body_idle_timeout_ms = 150;
  const uint64_t id = submit(std::move(s));
  ASSERT_TRUE(sink_.wait_body_bytes(id, 4));
  engine_->set_paused(id, true);
  // Paused past the server's next write (which then completes the response), so the outcome does
  // not depend on how soon after resuming the 150 ms deadline would fire: resuming at 450 ms raced
  // the server's write at 600 ms on a loaded machine. Counted while paused, the deadline would
  // have failed the request 150 ms into the pause.
  std::this_thread::sleep_for(800ms);
  engine_->set_paused(id, false);
  AWAIT(r, id);
  EXPECT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.body, "fourmore");
}

}  // namespace
