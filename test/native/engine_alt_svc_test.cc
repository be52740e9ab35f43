// The engine learning HTTP/3 alternatives from real servers' Alt-Svc (Engine::Impl::learn_alternatives,
// called as each response head arrives): over HTTP/1.1 and HTTP/2 on TLS, directly and through SOCKS,
// but never from a cleartext origin or through an HTTP proxy (Chrome does no QUIC through one).
// What is remembered shows in EngineStats::alt_svc_origins; the store's own rules are alt_svc_test's.
#include <gtest/gtest.h>

#include <string>

#include "core/engine.h"
#include "core/request.h"
#include "engine_harness.h"
#include "profiles/profile.h"
#include "proxy_server.h"
#include "test_server.h"
#include "tls/tls_context.h"

namespace {

using namespace ctn;
using namespace ctn_test;

// An HTTP/1.1 server whose answer carries the Alt-Svc its path names: /h3 offers h3, /clear
// clears, /two offers it in two field lines, anything else sends none.
TestServer alt_svc_server(bool tls) {
  return TestServer(
      [](ServerConn& c) {
        std::string raw;
        while (c.read_request(&raw)) {
          const size_t path_at = raw.find(' ') + 1;
          const std::string path = raw.substr(path_at, raw.find(' ', path_at) - path_at);
          std::string headers;
          if (path == "/h3") headers = "Alt-Svc: h3=\":443\"; ma=3600, h3-29=\":443\"\r\n";
          if (path == "/clear") headers = "alt-svc: clear\r\n";
          if (path == "/two") headers = "Alt-Svc: h2=\":443\"\r\nALT-SVC: h3=\":8443\"\r\n";
          if (!c.write(response("ok", headers))) return;
        }
      },
      ServerOptions{.tls = tls});
}

class EngineAltSvcTest : public EngineFixture {
 protected:
  Record get(const TestServer& server, const std::string& target, const std::string& proxy = "") {
    RequestSpec r = loopback_request(next_id_++, server.tls(), "localhost", server.port(), "GET", target);
    r.proxy = proxy;
    const uint64_t id = submit(std::move(r));
    auto record = sink_.wait_terminal(id);
    if (!record) ADD_FAILURE() << "no answer to " << target;
    return record.value_or(Record{});
  }
  uint64_t remembered() const { return engine_->stats().alt_svc_origins; }
};

TEST_F(EngineAltSvcTest, Http1OverTlsLearnsReplacesAndClears) {
  auto server = alt_svc_server(true);
  ASSERT_TRUE(get(server, "/none").ok());
  EXPECT_EQ(remembered(), 0u);
  ASSERT_TRUE(get(server, "/h3").ok());  // recorded before the head event goes out
  EXPECT_EQ(remembered(), 1u);
  ASSERT_TRUE(get(server, "/none").ok());  // a response without Alt-Svc changes nothing
  EXPECT_EQ(remembered(), 1u);
  ASSERT_TRUE(get(server, "/clear").ok());
  EXPECT_EQ(remembered(), 0u);
  ASSERT_TRUE(get(server, "/two").ok());  // several field lines are one list
  EXPECT_EQ(remembered(), 1u);
}

TEST_F(EngineAltSvcTest, CleartextOriginsTeachNothing) {
  auto server = alt_svc_server(false);
  ASSERT_TRUE(get(server, "/h3").ok());
  EXPECT_EQ(remembered(), 0u);
}

TEST_F(EngineAltSvcTest, ThroughSocksButNotThroughAnHttpProxy) {
  auto server = alt_svc_server(true);
  HttpProxy http_proxy;
  ASSERT_TRUE(get(server, "/h3", "http://127.0.0.1:" + std::to_string(http_proxy.port())).ok());
  EXPECT_EQ(remembered(), 0u);
  SocksProxy socks;
  ASSERT_TRUE(get(server, "/h3", "socks5://127.0.0.1:" + std::to_string(socks.port())).ok());
  EXPECT_EQ(remembered(), 1u);
  // Direct is another identity: a second origin entry.
  ASSERT_TRUE(get(server, "/h3").ok());
  EXPECT_EQ(remembered(), 2u);
}

TEST_F(EngineAltSvcTest, Http2LearnsFromTheResponseHeaders) {
  std::string why;
  if (!check_tls_profile(default_profile().tls, &why)) GTEST_SKIP() << "no h2 profile in this build: " << why;
  H2Server server([](const RequestInfo& r) {
    Action a = respond("ok");
    if (r.path == "/h3") a.headers = {{"alt-svc", "h3=\":443\"; ma=86400"}};
    if (r.path == "/draft") a.headers = {{"alt-svc", "h3-29=\":443\"; ma=86400"}};
    return a;
  });
  RequestSpec r;
  r.id = next_id_++;
  r.method = "GET";
  r.tls = true;
  r.host = "localhost";
  r.port = server.port();
  r.target = "/h3";
  const uint64_t first = submit(RequestSpec(r));
  AWAIT(offered, first);
  ASSERT_TRUE(offered.ok()) << offered.describe();
  EXPECT_EQ(offered.connection.alpn, "h2");
  EXPECT_EQ(remembered(), 1u);
  // Only a draft id now: the new offer replaces the old one, and holds no h3.
  r.id = next_id_++;
  r.target = "/draft";
  const uint64_t second = submit(std::move(r));
  AWAIT(draft, second);
  ASSERT_TRUE(draft.ok()) << draft.describe();
  EXPECT_EQ(remembered(), 0u);
}

}  // namespace
