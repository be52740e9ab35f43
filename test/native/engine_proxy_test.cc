// Requests through proxies end to end (native/core/dialler.cc's proxy stages, native/proxy's
// handshakes): HTTP CONNECT (plain and https://, with and without credentials), absolute-form for
// plain HTTP through an HTTP proxy, SOCKS4/4a/5/5h (with username/password), a proxy that never
// answers, cancel during the proxy handshake, and the pool's reuse and separation by proxy. The
// proxies (proxy_server.h) relay to the in-process servers of test_server.h. Every wait is bounded;
// a watchdog aborts a hung test.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "core/engine.h"
#include "core/request.h"
#include "engine_harness.h"
#include "proxy_server.h"
#include "test_server.h"

namespace {

using namespace ctn;
using namespace ctn_test;

// A TLS HTTP/1.1 target that answers every request with `body`.
TestServer tls_target(std::string body = "hello") {
  ServerOptions o;
  o.tls = true;
  return TestServer(TestServer::respond_always(response(body)), o);
}

class ProxyTest : public EngineFixture {
 protected:
  // A GET of `target` on `server` (host "localhost", so the target's TLS sends SNI) via `proxy`.
  RequestSpec via(const TestServer& server, std::string proxy, std::string target = "/") {
    RequestSpec r =
        loopback_request(next_id_++, server.tls(), "localhost", server.port(), "GET", std::move(target));
    r.proxy = std::move(proxy);
    return r;
  }
  static std::string url(const char* scheme, uint16_t port, const std::string& userinfo = "",
                         const char* host = "127.0.0.1") {
    return std::string(scheme) + "://" + (userinfo.empty() ? "" : userinfo + "@") + host + ":" +
           std::to_string(port);
  }
  bool wait_quiet() {
    const auto deadline = Clock::now() + kWait;
    for (;;) {
      const EngineStats s = engine_->stats();
      if (s.requests_in_flight == 0 && s.connections_connecting == 0 &&
          s.connections_idle == s.connections_open) {
        return true;
      }
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(2ms);
    }
  }
};

// ---------------------------------------------------------------------------------------------
// HTTP proxies

TEST_F(ProxyTest, ConnectTunnelCarriesTheTargetsTls) {
  auto target = tls_target("through");
  HttpProxy proxy;
  const uint64_t id = submit(via(target, url("http", proxy.port()), "/x"));
  AWAIT(r, id);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.head.status, 200);
  EXPECT_EQ(r.body, "through");
  EXPECT_FALSE(r.connection.tls_version.empty());
  ASSERT_EQ(proxy.asked().size(), 1u);
  EXPECT_EQ(proxy.asked()[0], "CONNECT localhost:" + std::to_string(target.port()) + " HTTP/1.1");
  EXPECT_EQ(proxy.authorizations()[0], "");
  EXPECT_EQ(target.server_names(), std::vector<std::string>{"localhost"});
  ASSERT_EQ(target.request_count(), 1u);
  EXPECT_EQ(target.requests()[0].rfind("GET /x HTTP/1.1\r\n", 0), 0u) << target.requests()[0];
  EXPECT_EQ(header_value(target.requests()[0], "host"), "localhost:" + std::to_string(target.port()));
}

TEST_F(ProxyTest, HttpsProxyCarriesTlsInsideTls) {
  auto target = tls_target("inner");
  HttpProxy proxy({.tls = true, .user = "", .password = ""});
  const uint64_t id = submit(via(target, url("https", proxy.port(), "", "localhost")));
  AWAIT(r, id);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.body, "inner");
  EXPECT_EQ(proxy.server().handshakes(), 1);
  EXPECT_EQ(proxy.server().server_names(), std::vector<std::string>{"localhost"});
  EXPECT_EQ(target.handshakes(), 1);
  EXPECT_EQ(target.server_names(), std::vector<std::string>{"localhost"});
  ASSERT_EQ(proxy.asked().size(), 1u);
  EXPECT_EQ(proxy.asked()[0], "CONNECT localhost:" + std::to_string(target.port()) + " HTTP/1.1");
}

TEST_F(ProxyTest, PlainHttpTargetGoesInAbsoluteForm) {
  TestServer target(TestServer::respond_always(response("plain")));
  HttpProxy proxy;
  const uint64_t id = submit(via(target, url("http", proxy.port()), "/p?q=1"));
  AWAIT(r, id);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.body, "plain");
  const std::string origin = "localhost:" + std::to_string(target.port());
  ASSERT_EQ(proxy.asked().size(), 1u);
  EXPECT_EQ(proxy.asked()[0], "GET http://" + origin + "/p?q=1 HTTP/1.1");
  ASSERT_EQ(target.request_count(), 1u);
  EXPECT_EQ(header_value(target.requests()[0], "host"), origin);
}

TEST_F(ProxyTest, CredentialsAreSentAndAccepted) {
  auto target = tls_target("ok");
  HttpProxy proxy({.user = "user", .password = "p@ss:w"});
  // A plain target too: absolute-form requests carry the credentials themselves.
  TestServer plain(TestServer::respond_always(response("plain")));
  const uint64_t a = submit(via(target, url("http", proxy.port(), "user:p%40ss%3Aw")));
  AWAIT(ra, a);
  ASSERT_TRUE(ra.ok()) << ra.describe();
  EXPECT_EQ(ra.body, "ok");
  const uint64_t b = submit(via(plain, url("http", proxy.port(), "user:p%40ss%3Aw")));
  AWAIT(rb, b);
  ASSERT_TRUE(rb.ok()) << rb.describe();
  EXPECT_EQ(rb.body, "plain");
  ASSERT_EQ(proxy.authorizations().size(), 2u);
  EXPECT_EQ(proxy.authorizations()[0], "Basic dXNlcjpwQHNzOnc=");  // base64("user:p@ss:w")
  EXPECT_EQ(proxy.authorizations()[1], "Basic dXNlcjpwQHNzOnc=");
}

TEST_F(ProxyTest, RefusedCredentialsFailWithTheStatus) {
  auto target = tls_target();
  HttpProxy proxy({.user = "user", .password = "secret"});
  for (const std::string userinfo : {"", "user:wrong"}) {
    const uint64_t id = submit(via(target, url("http", proxy.port(), userinfo)));
    AWAIT(r, id);
    EXPECT_EQ(r.code(), "ERR_PROXY") << r.describe();
    EXPECT_EQ(r.stage(), "proxy") << r.describe();
    ASSERT_TRUE(r.error);
    EXPECT_NE(r.error->message.find("407"), std::string::npos) << r.error->message;
    EXPECT_EQ(r.error->message.find("wrong"), std::string::npos) << "password leaked: " << r.error->message;
  }
  EXPECT_EQ(target.connections(), 0);
  ASSERT_TRUE(wait_quiet());
  EXPECT_EQ(engine_->stats().connections_open, 0u);
}

// ---------------------------------------------------------------------------------------------
// SOCKS

struct SocksCase {
  const char* scheme;
  const char* expect;  // what the proxy records, before ":port"
};

class SocksTest : public ProxyTest, public ::testing::WithParamInterface<SocksCase> {};

TEST_P(SocksTest, TunnelSendsNameOrAddress) {
  auto target = tls_target("socks");
  SocksProxy proxy;
  const uint64_t id = submit(via(target, url(GetParam().scheme, proxy.port())));
  AWAIT(r, id);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.body, "socks");
  ASSERT_EQ(proxy.asked().size(), 1u);
  EXPECT_EQ(proxy.asked()[0], std::string(GetParam().expect) + ":" + std::to_string(target.port()));
  EXPECT_EQ(target.server_names(), std::vector<std::string>{"localhost"});
}

INSTANTIATE_TEST_SUITE_P(Schemes, SocksTest,
                         ::testing::Values(SocksCase{"socks4", "socks4 ip 127.0.0.1"},
                                           SocksCase{"socks4a", "socks4a name localhost"},
                                           SocksCase{"socks5", "socks5 ip 127.0.0.1"},
                                           SocksCase{"socks5h", "socks5 name localhost"}),
                         [](const auto& info) { return std::string(info.param.scheme); });

TEST_F(ProxyTest, Socks5UsernamePassword) {
  auto target = tls_target("authed");
  SocksProxy proxy({.user = "u", .password = "pw"});
  const uint64_t a = submit(via(target, url("socks5h", proxy.port(), "u:pw")));
  AWAIT(ra, a);
  ASSERT_TRUE(ra.ok()) << ra.describe();
  EXPECT_EQ(ra.body, "authed");
  const uint64_t b = submit(via(target, url("socks5h", proxy.port(), "u:bad")));
  AWAIT(rb, b);
  EXPECT_EQ(rb.code(), "ERR_PROXY") << rb.describe();
  EXPECT_EQ(rb.stage(), "proxy") << rb.describe();
  const uint64_t c = submit(via(target, url("socks5h", proxy.port())));  // no credentials offered
  AWAIT(rc, c);
  EXPECT_EQ(rc.code(), "ERR_PROXY") << rc.describe();
  EXPECT_EQ(rc.stage(), "proxy") << rc.describe();
  const auto asked = proxy.asked();
  ASSERT_GE(asked.size(), 3u);
  EXPECT_EQ(asked[0], "socks5 auth u accepted");
  EXPECT_EQ(asked[2], "socks5 auth u refused");
  EXPECT_EQ(target.connections(), 1);
}

// ---------------------------------------------------------------------------------------------
// A proxy that never answers

TEST_F(ProxyTest, BlackHoleProxyTimesOutInTheProxyStage) {
  auto target = tls_target();
  TestServer hole(black_hole());
  RequestSpec s = via(target, url("http", hole.port()));
  s.timeout_ms = 300;
  const auto start = Clock::now();
  const uint64_t id = submit(std::move(s));
  AWAIT(r, id);
  EXPECT_EQ(r.code(), "ERR_TIMEOUT") << r.describe();
  EXPECT_EQ(r.stage(), "proxy") << r.describe();
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_EQ(hole.connections(), 1);
  EXPECT_EQ(target.connections(), 0);
  ASSERT_TRUE(wait_quiet());
  EXPECT_EQ(engine_->stats().connections_open, 0u);
}

TEST_F(ProxyTest, CancelDuringTheProxyHandshake) {
  auto target = tls_target();
  TestServer hole(black_hole());
  for (const char* scheme : {"http", "socks5"}) {
    const int before = hole.connections();
    const uint64_t id = submit(via(target, url(scheme, hole.port())));
    ASSERT_TRUE(hole.wait_connections(before + 1));
    std::this_thread::sleep_for(30ms);  // the handshake's request is out, its reply awaited
    engine_->cancel(id);
    AWAIT(r, id);
    EXPECT_EQ(r.code(), "ERR_ABORTED") << r.describe();
    EXPECT_EQ(r.stage(), "proxy") << r.describe();
  }
  ASSERT_TRUE(wait_quiet());
  EXPECT_EQ(engine_->stats().connections_open, 0u);
  EXPECT_TRUE(hole.wait_peer_closes(2));
}

// ---------------------------------------------------------------------------------------------
// The pool

TEST_F(ProxyTest, SecondRequestReusesTheTunnel) {
  auto target = tls_target("again");
  HttpProxy proxy;
  for (int i = 0; i < 3; ++i) {
    const uint64_t id = submit(via(target, url("http", proxy.port())));
    AWAIT(r, id);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(r.connection.reused, i > 0);
  }
  EXPECT_EQ(proxy.connections(), 1);
  EXPECT_EQ(proxy.asked().size(), 1u);
  EXPECT_EQ(target.connections(), 1);
  EXPECT_EQ(target.request_count(), 3u);
  EXPECT_EQ(engine_->stats().connections_opened, 1u);
}

TEST_F(ProxyTest, DifferentProxiesGetDifferentConnections) {
  auto target = tls_target("split");
  HttpProxy http;
  SocksProxy socks;
  const std::vector<std::string> proxies = {"", url("http", http.port()), url("socks5", socks.port())};
  for (int round = 0; round < 2; ++round) {
    for (const auto& p : proxies) {
      const uint64_t id = submit(via(target, p));
      AWAIT(r, id);
      ASSERT_TRUE(r.ok()) << p << ": " << r.describe();
      EXPECT_EQ(r.connection.reused, round > 0) << p;
    }
  }
  EXPECT_EQ(target.connections(), 3);
  EXPECT_EQ(http.connections(), 1);
  EXPECT_EQ(socks.connections(), 1);
  ASSERT_TRUE(wait_quiet());
  const auto origins = engine_->origin_stats();
  ASSERT_EQ(origins.size(), 3u);
  int via_proxy = 0;
  for (const auto& o : origins) {
    EXPECT_EQ(o.open, 1u) << o.key;
    if (o.key.find(" via ") != std::string::npos) ++via_proxy;
  }
  EXPECT_EQ(via_proxy, 2);
}

// ---------------------------------------------------------------------------------------------
// HTTP/2 inside a tunnel

TEST_F(ProxyTest, Http2ThroughConnect) {
  std::string why;
  if (!check_tls_profile(default_profile().tls, &why)) GTEST_SKIP() << why;
  H2Server target([](const RequestInfo& info) {
    Action a;
    a.body = "h2:" + info.path;
    return a;
  });
  HttpProxy proxy;
  for (int i = 0; i < 2; ++i) {
    RequestSpec s;
    s.id = next_id_++;
    s.method = "GET";
    s.host = "localhost";
    s.port = target.port();
    s.target = "/two";
    s.proxy = url("http", proxy.port());
    const uint64_t id = submit(std::move(s));
    AWAIT(r, id);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(r.connection.alpn, "h2");
    EXPECT_EQ(r.connection.reused, i > 0);
    EXPECT_EQ(r.body, "h2:/two");
  }
  EXPECT_EQ(target.connections(), 1);
  EXPECT_EQ(target.streams(), 2);
  EXPECT_EQ(proxy.connections(), 1);
}

}  // namespace
