// Tests for the engine's HTTP/2 glue (Connection::dialled / submit_stream, Http2Channel::flush /
// on_read / fail_streams / on_stream_closed / abandon / resume, Engine::Impl::take_http2 /
// http2_ready and the cold-origin guard) end to end against an in-process HTTP/2 server over TLS,
// so that they run under ASan/UBSan.
//
// The server is H2Server (test_server.h).
//
// Every wait is bounded (kWait) and fails the test when hit; a watchdog aborts a hung test.

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>
#include <zlib.h>

#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "core/engine.h"
#include "core/request.h"
#include "engine_harness.h"
#include "profiles/profile.h"
#include "test_server.h"
#include "tls/tls_context.h"

namespace {

using namespace ctn;
using namespace ctn_test;

std::string pattern(size_t n) {
  std::string s(n, '\0');
  uint32_t x = 12345;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    s[i] = static_cast<char>('a' + (x >> 16) % 26);
  }
  return s;
}

std::string gzip(const std::string& in) {
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, in.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

class EngineHttp2Test : public EngineFixture {
 protected:
  void SetUp() override {
    EngineFixture::SetUp();
    std::string why;
    if (!check_tls_profile(default_profile().tls, &why)) {
      GTEST_SKIP() << "the default profile cannot go on the wire in this build: " << why;
    }
  }

  RequestSpec spec(const H2Server& s, std::string target) {
    RequestSpec r;
    r.id = next_id_++;
    r.method = "GET";
    r.tls = true;
    r.host = "localhost";
    r.port = s.port();
    r.target = std::move(target);
    return r;
  }
};

// 1. A GET over h2.
TEST_F(EngineHttp2Test, GetOverHttp2) {
  H2Server server([](const RequestInfo& r) {
    Action a = respond("hello over h2 at " + r.path);
    a.headers = {{"x-test", "1"}};
    return a;
  });
  const uint64_t id = submit(spec(server, "/hello?x=1"));
  AWAIT(r, id);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.head.status, 200);
  EXPECT_EQ(r.head.version_major, 2);
  EXPECT_EQ(r.body, "hello over h2 at /hello?x=1");
  EXPECT_EQ(r.connection.alpn, "h2");
  EXPECT_FALSE(r.connection.reused);
  EXPECT_EQ(server.last_alpn(), "h2");
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(r.kinds.front(), Kind::kHead);
  EXPECT_EQ(r.kinds.back(), Kind::kEnd);
}

// maxResponseBytes on HTTP/2: a whole body past it fails with ERR_BODY_TOO_LARGE and only its stream
// is given up (reset while it still runs); the session serves the next request.
TEST_F(EngineHttp2Test, WholeBodyOverMaxResponseBytesLeavesTheSessionAlone) {
  H2Server server([](const RequestInfo& r) { return respond(body_for(r.path, 200'000)); });
  RequestSpec big = spec(server, "/big");
  big.whole_body = true;
  big.max_response_bytes = 199'999;
  const uint64_t id = submit(std::move(big));
  AWAIT(r, id);
  EXPECT_EQ(r.code(), "ERR_BODY_TOO_LARGE") << r.describe();
  EXPECT_EQ(r.stage(), "body");
  EXPECT_TRUE(r.body.empty());
  // (Whether a RST_STREAM goes out depends on whether the whole body arrived before the check.)
  RequestSpec exact = spec(server, "/big");
  exact.whole_body = true;
  exact.max_response_bytes = 200'000;
  const uint64_t next = submit(std::move(exact));
  AWAIT(rn, next);
  ASSERT_TRUE(rn.ok()) << rn.describe();
  EXPECT_EQ(rn.body.size(), 200'000u);
  EXPECT_TRUE(rn.connection.reused);
  EXPECT_EQ(server.connections(), 1);
}

// 2. 100 concurrent requests on a session whose server allows 10 streams at a time.
TEST_F(EngineHttp2Test, HundredConcurrentRequestsQueueOnOneSession) {
  H2ServerOptions options;
  options.max_concurrent_streams = 10;
  H2Server server([](const RequestInfo& r) { return respond(body_for(r.path, 1000 + r.path.size() * 97)); },
                  options);
  // Warm up: the server's SETTINGS (the limit) are known before the burst.
  const uint64_t warm = submit(spec(server, "/warm"));
  {
    AWAIT(w, warm);
    ASSERT_TRUE(w.ok()) << w.describe();
  }
  std::vector<std::pair<uint64_t, std::string>> ids;
  for (int i = 0; i < 100; ++i) {
    const std::string path = "/item/" + std::to_string(i);
    ids.emplace_back(submit(spec(server, path)), path);
  }
  uint64_t conn_id = 0;
  for (auto& [id, path] : ids) {
    AWAIT(r, id);
    ASSERT_TRUE(r.ok()) << path << ": " << r.describe();
    EXPECT_EQ(r.body, body_for(path, 1000 + path.size() * 97)) << path;
    EXPECT_EQ(r.connection.alpn, "h2");
    if (conn_id == 0) conn_id = r.connection.connection_id;
    EXPECT_EQ(r.connection.connection_id, conn_id);
  }
  EXPECT_EQ(server.connections(), 1);
  EXPECT_LE(server.max_active(), 10);
  EXPECT_EQ(server.streams(), 101);
}

// 3. A burst on a cold origin: one handshake, every request rides on it.
TEST_F(EngineHttp2Test, ColdOriginBurstOpensOneConnection) {
  H2Server server([](const RequestInfo& r) { return respond(body_for(r.path, 500)); });
  std::vector<uint64_t> ids;
  for (int i = 0; i < 30; ++i) ids.push_back(submit(spec(server, "/cold/" + std::to_string(i))));
  for (size_t i = 0; i < ids.size(); ++i) {
    AWAIT(r, ids[i]);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(r.body, body_for("/cold/" + std::to_string(i), 500));
  }
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(engine_->stats().tls_handshakes, 1u);
}

// 2b. The same burst on a cold origin. The first flight goes out before the server's SETTINGS
// (the session assumes 100 concurrent streams until then), so the server refuses the streams
// beyond its limit with REFUSED_STREAM. Those requests were never processed; they queue on the
// live session (Engine::Impl::exchange_refused), not open a connection each.
TEST_F(EngineHttp2Test, ColdBurstBeyondServerLimitStaysOnOneConnection) {
  H2ServerOptions options;
  options.max_concurrent_streams = 10;
  H2Server server([](const RequestInfo& r) { return respond(body_for(r.path, 700)); }, options);
  std::vector<uint64_t> ids;
  for (int i = 0; i < 60; ++i) ids.push_back(submit(spec(server, "/c/" + std::to_string(i))));
  for (size_t i = 0; i < ids.size(); ++i) {
    AWAIT(r, ids[i]);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(r.body, body_for("/c/" + std::to_string(i), 700));
  }
  EXPECT_LE(server.max_active(), 10);
  EXPECT_EQ(server.connections(), 1) << "refused streams each opened a connection of their own";
}

// 4. Cancelling one stream mid-body leaves the others (and the connection) alone.
TEST_F(EngineHttp2Test, CancelOneStreamMidBody) {
  H2Server server([](const RequestInfo& r) {
    if (r.path == "/big") {
      Action a = respond(pattern(4 << 20));
      a.pace = 16 * 1024;  // about 1.6 MB/s: still going when cancelled
      return a;
    }
    Action a = respond(body_for(r.path, 64 * 1024));
    a.pace = 16 * 1024;
    return a;
  });
  const uint64_t big = submit(spec(server, "/big"));
  std::vector<uint64_t> others;
  for (int i = 0; i < 5; ++i) others.push_back(submit(spec(server, "/small/" + std::to_string(i))));
  ASSERT_TRUE(sink_.wait_record(big, [](const Record& r) {
    return r.body.size() >= 32 * 1024 || r.terminals;
  })) << sink_.snapshot(big).describe();
  engine_->cancel(big);
  AWAIT(b, big);
  ASSERT_TRUE(b.error.has_value()) << b.describe();
  EXPECT_EQ(b.error_code(), ErrorCode::kAborted) << b.describe();
  EXPECT_LT(b.body.size(), 4u << 20);
  for (size_t i = 0; i < others.size(); ++i) {
    AWAIT(r, others[i]);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(r.body, body_for("/small/" + std::to_string(i), 64 * 1024));
    EXPECT_EQ(r.connection.connection_id, b.connection.connection_id);
  }
  EXPECT_TRUE(server.wait_for([&] { return server.resets_received() >= 1; }));
  // The connection still serves.
  const uint64_t after = submit(spec(server, "/after"));
  AWAIT(a, after);
  ASSERT_TRUE(a.ok()) << a.describe();
  EXPECT_EQ(a.connection.connection_id, b.connection.connection_id);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(sink_.snapshot(big).kinds.size(), b.kinds.size()) << "events after the cancel";
  EXPECT_EQ(server.connections(), 1);
}

// 5. A stream the server never answers times out alone.
TEST_F(EngineHttp2Test, TimeoutOfOneStream) {
  H2Server server([](const RequestInfo& r) {
    if (r.path == "/never") return stall();
    return respond(body_for(r.path, 2000));
  });
  const uint64_t warm = submit(spec(server, "/warm"));
  uint64_t conn_id = 0;
  {
    AWAIT(w, warm);
    ASSERT_TRUE(w.ok()) << w.describe();
    conn_id = w.connection.connection_id;
  }
  RequestSpec s = spec(server, "/never");
  s.timeout_ms = 300;
  const auto start = Clock::now();
  const uint64_t slow = submit(std::move(s));
  std::vector<uint64_t> others;
  for (int i = 0; i < 5; ++i) others.push_back(submit(spec(server, "/ok/" + std::to_string(i))));
  for (size_t i = 0; i < others.size(); ++i) {
    AWAIT(r, others[i]);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(r.body, body_for("/ok/" + std::to_string(i), 2000));
    EXPECT_EQ(r.connection.connection_id, conn_id);
  }
  AWAIT(t, slow);
  EXPECT_GE(Clock::now() - start, 250ms);
  ASSERT_TRUE(t.error.has_value()) << t.describe();
  EXPECT_EQ(t.error_code(), ErrorCode::kTimeout) << t.describe();
  const uint64_t after = submit(spec(server, "/after"));
  AWAIT(a, after);
  ASSERT_TRUE(a.ok()) << a.describe();
  EXPECT_EQ(a.connection.connection_id, conn_id);
  EXPECT_EQ(server.connections(), 1);
  EXPECT_TRUE(server.wait_for([&] { return server.resets_received() >= 1; }));
}

// 6. Back-pressure: a paused stream stops once the flow-control window is full; resume delivers
// every byte exactly.
TEST_F(EngineHttp2Test, PauseAndResumeLargeBody) {
  const std::string big = pattern(8 << 20);
  H2Server server([&big](const RequestInfo&) { return respond(big); });
  const uint64_t id = next_id_;
  Engine* engine = engine_.get();
  sink_.hook = [engine, id](const Event& e) {
    if (e.kind == Kind::kHead && e.id == id) engine->set_paused(id, true);
  };
  submit(spec(server, "/big"));
  // Wait until the body stops growing (the window is full).
  size_t last = 0;
  auto stable_since = Clock::now();
  const auto give_up = Clock::now() + kWait;
  while (Clock::now() < give_up) {
    const Record r = sink_.snapshot(id);
    ASSERT_EQ(r.terminals, 0) << "finished while paused: " << r.describe();
    if (r.body.size() != last || r.body.empty()) {
      last = r.body.size();
      stable_since = Clock::now();
    } else if (Clock::now() - stable_since >= 200ms) {
      break;
    }
    std::this_thread::sleep_for(5ms);
  }
  const Record paused = sink_.snapshot(id);
  ASSERT_GT(paused.body.size(), 0u);
  ASSERT_LT(paused.body.size(), big.size()) << "the whole body arrived while paused";
  std::this_thread::sleep_for(300ms);
  const Record still = sink_.snapshot(id);
  EXPECT_EQ(still.body_events, paused.body_events) << "body events while paused";
  EXPECT_EQ(still.body.size(), paused.body.size());
  engine_->set_paused(id, false);
  AWAIT(r, id);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.body.size(), big.size());
  EXPECT_TRUE(r.body == big) << "body differs";
}

// 6b. A stream paused at its head gets nothing more, not even its end, until it resumes, though the
// whole response is in; meanwhile the connection window is not held by it (another request on the
// same connection completes), and resuming hands on every byte, then the end.
TEST_F(EngineHttp2Test, PausedStreamGetsNoBodyOrEndUntilResumed) {
  const std::string body = pattern(200000);
  H2Server server([&body](const RequestInfo& r) { return respond(r.path == "/small" ? "ok" : body); });
  const uint64_t id = next_id_;
  Engine* engine = engine_.get();
  sink_.hook = [engine, id](const Event& e) {
    if (e.kind == Kind::kHead && e.id == id) engine->set_paused(id, true);
  };
  RequestSpec streamed = spec(server, "/paused");
  streamed.consumer_credit = true;  // a streamed body whose consumer says when it wants more
  submit(std::move(streamed));
  ASSERT_TRUE(sink_.wait_record(id, [](const Record& r) { return r.has_head; }));
  const size_t with_head = sink_.snapshot(id).body.size();
  // The server sends everything at once: give it time to arrive.
  const uint64_t other = next_id_;
  submit(spec(server, "/small"));
  AWAIT(o, other);
  ASSERT_TRUE(o.ok()) << o.describe();
  std::this_thread::sleep_for(300ms);
  const Record paused = sink_.snapshot(id);
  EXPECT_EQ(paused.terminals, 0) << "ended while paused: " << paused.describe();
  EXPECT_EQ(paused.body.size(), with_head) << "body events while paused";
  engine_->set_paused(id, false);
  AWAIT(r, id);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_TRUE(r.body == body) << "body differs";
  EXPECT_EQ(server.connections(), 1);
}

// 7. RST_STREAM from the server fails that stream only.
TEST_F(EngineHttp2Test, ServerResetsOneStream) {
  H2Server server([](const RequestInfo& r) {
    if (r.path == "/rst") {
      Action a;
      a.kind = Action::Kind::kRst;
      a.rst_code = NGHTTP2_INTERNAL_ERROR;
      return a;
    }
    if (r.path == "/rst-after-head") {
      Action a = respond(pattern(100000));
      a.rst_after = 5000;
      return a;
    }
    return respond(body_for(r.path, 3000));
  });
  const uint64_t warm = submit(spec(server, "/warm"));
  {
    AWAIT(w, warm);
    ASSERT_TRUE(w.ok()) << w.describe();
  }
  const uint64_t rst = submit(spec(server, "/rst"));
  const uint64_t rst_late = submit(spec(server, "/rst-after-head"));
  std::vector<uint64_t> others;
  for (int i = 0; i < 3; ++i) others.push_back(submit(spec(server, "/ok/" + std::to_string(i))));
  AWAIT(a, rst);
  ASSERT_TRUE(a.error.has_value()) << a.describe();
  EXPECT_EQ(a.error_code(), ErrorCode::kProtocol) << a.describe();
  EXPECT_FALSE(a.has_head);
  AWAIT(b, rst_late);
  ASSERT_TRUE(b.error.has_value()) << b.describe();
  EXPECT_TRUE(b.has_head);
  EXPECT_EQ(b.error_code(), ErrorCode::kBodyTruncated) << b.describe();
  for (size_t i = 0; i < others.size(); ++i) {
    AWAIT(r, others[i]);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(r.body, body_for("/ok/" + std::to_string(i), 3000));
  }
  EXPECT_EQ(server.connections(), 1);
}

// 8. GOAWAY with streams in flight: those above the last stream id are retried elsewhere.
TEST_F(EngineHttp2Test, GoawayWithStreamsInFlight) {
  H2ServerOptions options;
  options.goaway_after = 3;
  H2Server server(
      [](const RequestInfo& r) {
        Action a = respond(body_for(r.path, 20000));
        if (r.conn_index == 0) a.pace = 4096;  // the first three are still going when GOAWAY lands
        return a;
      },
      options);
  std::vector<uint64_t> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(submit(spec(server, "/g/" + std::to_string(i))));
  int ok = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    AWAIT(r, ids[i]);
    if (r.ok()) {
      ++ok;
      EXPECT_EQ(r.body, body_for("/g/" + std::to_string(i), 20000));
    } else {
      EXPECT_TRUE(r.error_code() == ErrorCode::kConnectionClosed || r.error_code() == ErrorCode::kProtocol)
          << r.describe();
    }
  }
  EXPECT_EQ(ok, 10) << "every request should succeed (refused streams are retried)";
  EXPECT_GE(server.connections(), 2);
}

// 9. The server drops the TCP connection with streams in flight.
TEST_F(EngineHttp2Test, AbruptCloseWithStreamsInFlight) {
  H2Server server([](const RequestInfo& r) {
    if (r.conn_index > 0) return respond(body_for(r.path, 1000));
    if (r.path == "/partial") {
      Action a = respond(pattern(100000));
      a.close_after = 3000;
      return a;
    }
    return stall();
  });
  std::vector<uint64_t> stalled;
  for (int i = 0; i < 4; ++i) stalled.push_back(submit(spec(server, "/s/" + std::to_string(i))));
  ASSERT_TRUE(server.wait_for([&] { return server.streams() >= 4; })) << server.streams();
  const uint64_t partial = submit(spec(server, "/partial"));
  AWAIT(p, partial);
  ASSERT_TRUE(p.error.has_value()) << p.describe();
  EXPECT_TRUE(p.has_head);
  EXPECT_EQ(p.error_code(), ErrorCode::kBodyTruncated) << p.describe();
  for (size_t i = 0; i < stalled.size(); ++i) {
    AWAIT(r, stalled[i]);
    if (r.ok()) {
      EXPECT_EQ(r.body, body_for("/s/" + std::to_string(i), 1000));
    } else {
      EXPECT_TRUE(r.error_code() == ErrorCode::kConnectionClosed ||
                  r.error_code() == ErrorCode::kBodyTruncated)
          << r.describe();
    }
  }
  std::this_thread::sleep_for(100ms);
  for (uint64_t id : stalled) EXPECT_EQ(sink_.snapshot(id).terminals, 1);
  // The engine is still usable.
  const uint64_t after = submit(spec(server, "/after"));
  AWAIT(a, after);
  EXPECT_TRUE(a.ok()) << a.describe();
}

// 10. Shutdown with streams in flight and an idle h2 connection; destruction without shutdown.
TEST_F(EngineHttp2Test, ShutdownWithStreamsInFlight) {
  H2Server stalling([](const RequestInfo&) { return stall(); });
  H2Server normal([](const RequestInfo& r) { return respond(body_for(r.path, 100)); });
  const uint64_t idle = submit(spec(normal, "/idle"));
  {
    AWAIT(w, idle);
    ASSERT_TRUE(w.ok()) << w.describe();
  }
  std::vector<uint64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(submit(spec(stalling, "/st/" + std::to_string(i))));
  ASSERT_TRUE(stalling.wait_for([&] { return stalling.streams() >= 5; })) << stalling.streams();
  std::atomic<bool> stopped{false};
  engine_->shutdown([&stopped] { stopped = true; });
  engine_->join();
  EXPECT_TRUE(stopped.load());
  for (uint64_t id : ids) {
    AWAIT(r, id);
    ASSERT_TRUE(r.error.has_value()) << r.describe();
    EXPECT_EQ(r.error_code(), ErrorCode::kClientClosed) << r.describe();
  }
  EXPECT_EQ(engine_->stats().requests_in_flight, 0u);
  engine_.reset();

  // Destroying the engine without shutdown() with streams in flight.
  engine_ = std::make_unique<Engine>(EngineOptions{}, sink_);
  std::vector<uint64_t> more;
  for (int i = 0; i < 5; ++i) more.push_back(submit(spec(stalling, "/st2/" + std::to_string(i))));
  const uint64_t idle2 = submit(spec(normal, "/idle2"));
  {
    AWAIT(w, idle2);
    ASSERT_TRUE(w.ok()) << w.describe();
  }
  ASSERT_TRUE(stalling.wait_for([&] { return stalling.streams() >= 10; })) << stalling.streams();
  engine_.reset();
  for (uint64_t id : more) {
    AWAIT(r, id);
    ASSERT_TRUE(r.error.has_value()) << r.describe();
    EXPECT_EQ(r.error_code(), ErrorCode::kClientClosed) << r.describe();
  }
}

// 11. Content-Encoding: gzip over h2.
TEST_F(EngineHttp2Test, GzipOverHttp2) {
  std::string plain;
  for (int i = 0; i < 20000; ++i) plain += "line " + std::to_string(i) + " of a compressible body\n";
  const std::string packed = gzip(plain);
  ASSERT_LT(packed.size(), plain.size());
  H2Server server([&packed](const RequestInfo&) {
    Action a = respond(packed);
    a.headers = {{"content-encoding", "gzip"}, {"content-type", "text/plain"}};
    return a;
  });
  RequestSpec s = spec(server, "/gz");
  s.decompress = true;
  const uint64_t id = submit(std::move(s));
  AWAIT(r, id);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.head.version_major, 2);
  EXPECT_EQ(r.body.size(), plain.size());
  EXPECT_TRUE(r.body == plain) << "decoded body differs";

  RequestSpec raw = spec(server, "/gz-raw");
  const uint64_t raw_id = submit(std::move(raw));
  AWAIT(q, raw_id);
  ASSERT_TRUE(q.ok()) << q.describe();
  EXPECT_TRUE(q.body == packed) << "without decompress the body is passed through";
}

// 12. The cold-origin guard's waiters: cancelled while the connection is still being set up, and
// failed with the connection when it cannot be set up at all.
TEST_F(EngineHttp2Test, ColdOriginWaitersCancelledAndFailed) {
  H2Server server([](const RequestInfo& r) { return respond(body_for(r.path, 300)); });
  std::vector<uint64_t> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(submit(spec(server, "/w/" + std::to_string(i))));
  for (int i = 1; i < 10; i += 3) engine_->cancel(ids[static_cast<size_t>(i)]);
  for (size_t i = 0; i < ids.size(); ++i) {
    AWAIT(r, ids[i]);
    if (i % 3 == 1) {
      // Cancelled: normally while waiting for the handshake; a fast one may have answered first.
      if (!r.ok()) {
        EXPECT_EQ(r.error_code(), ErrorCode::kAborted) << r.describe();
      }
    } else {
      ASSERT_TRUE(r.ok()) << r.describe();
      EXPECT_EQ(r.body, body_for("/w/" + std::to_string(i), 300));
    }
  }
  EXPECT_EQ(server.connections(), 1);

  // Nobody listening: the first exchange and every waiter fail once, with the connection's error.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const uint16_t dead_port = ntohs(a.sin_port);
  ::close(fd);
  std::vector<uint64_t> dead;
  for (int i = 0; i < 8; ++i) {
    RequestSpec s = spec(server, "/dead");
    s.port = dead_port;
    dead.push_back(submit(std::move(s)));
  }
  for (uint64_t id : dead) {
    AWAIT(r, id);
    ASSERT_TRUE(r.error.has_value()) << r.describe();
    EXPECT_EQ(r.error_code(), ErrorCode::kConnectRefused) << r.describe();
  }
  std::this_thread::sleep_for(50ms);
  for (uint64_t id : dead) EXPECT_EQ(sink_.snapshot(id).terminals, 1);
}

}  // namespace
