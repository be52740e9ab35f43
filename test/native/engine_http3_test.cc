// The engine's HTTP/3 decisions without an HTTP/3 server (the Jest suite test/integration/http3.test.js
// runs the engine against caddy's HTTP/3): what http3 "force" refuses, with which code, before
// anything goes out; a QUIC attempt to a closed UDP port failing at once (ICMP port unreachable) with
// ERR_CONNECT_REFUSED; and alt-svc mode learning an h3 alternative over TCP, then falling back to TCP
// silently when that alternative's UDP port is closed; and a caller's DNS answer whose HTTPS record
// lists h3 taking the origin's very first request to QUIC (Chrome's DNS ALPN job).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "core/engine.h"
#include "core/request.h"
#include "engine_harness.h"
#include "test_server.h"

namespace {

using namespace ctn;
using namespace ctn_test;

// A UDP port on 127.0.0.1 that nothing listens on (bound, read, released).
uint16_t closed_udp_port() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

class EngineHttp3Test : public EngineFixture {
 protected:
  // A request with a preset (the harness's own test profile has no QUIC fingerprint).
  RequestSpec request(const std::string& profile, bool tls, uint16_t port, const std::string& http3) {
    RequestSpec r = loopback_request(next_id_++, tls, "127.0.0.1", port, "GET", "/");
    r.custom_profile.reset();
    r.profile = profile;
    r.http3 = http3;
    r.timeout_ms = 20'000;
    return r;
  }
  Record run(RequestSpec r) {
    const uint64_t id = submit(std::move(r));
    auto record = sink_.wait_terminal(id);
    if (!record) ADD_FAILURE() << "no answer";
    return record.value_or(Record{});
  }
};

TEST_F(EngineHttp3Test, ForceRefusesWhatItCannotHonourWithCodes) {
  const uint16_t port = closed_udp_port();
  // A preset whose QUIC fingerprint is not established: refused rather than guessed.
  Record r = run(request("safari_18", true, port, "force"));
  EXPECT_EQ(r.error_code(), ErrorCode::kUnsupportedFingerprint) << r.describe();
  r = run(request("chrome_150", true, port, "force"));  // an older Chrome: its QUIC hello was not captured
  EXPECT_EQ(r.error_code(), ErrorCode::kUnsupportedFingerprint) << r.describe();
  // No QUIC through proxies (HTTP: as Chrome; SOCKS5: no UDP ASSOCIATE), none over http://.
  RequestSpec via_http = request("chrome_156", true, port, "force");
  via_http.proxy = "http://127.0.0.1:1";
  r = run(std::move(via_http));
  EXPECT_EQ(r.error_code(), ErrorCode::kInvalidOption) << r.describe();
  EXPECT_NE(r.error->message.find("HTTP proxy"), std::string::npos) << r.error->message;
  RequestSpec via_socks = request("chrome_156", true, port, "force");
  via_socks.proxy = "socks5://127.0.0.1:1";
  r = run(std::move(via_socks));
  EXPECT_EQ(r.error_code(), ErrorCode::kInvalidOption) << r.describe();
  EXPECT_NE(r.error->message.find("UDP ASSOCIATE"), std::string::npos) << r.error->message;
  r = run(request("chrome_156", false, port, "force"));
  EXPECT_EQ(r.error_code(), ErrorCode::kInvalidOption) << r.describe();
  EXPECT_EQ(engine_->stats().connections_opened, 0u);
}

TEST_F(EngineHttp3Test, ForceToAClosedUdpPortFailsAtOnceWithConnectRefused) {
  for (const char* profile : {"chrome_156", "firefox_153"}) {
    const Record r = run(request(profile, true, closed_udp_port(), "force"));
    EXPECT_EQ(r.error_code(), ErrorCode::kConnectRefused) << profile << ": " << r.describe();
    EXPECT_EQ(r.stage(), "connect") << r.describe();
  }
}

TEST_F(EngineHttp3Test, AltSvcFallsBackToTcpWhenTheAlternativeDoesNotAnswer) {
  const uint16_t dead = closed_udp_port();
  TestServer server(
      [dead](ServerConn& c) {
        std::string raw;
        while (c.read_request(&raw)) {
          const std::string alt = "Alt-Svc: h3=\":" + std::to_string(dead) + "\"; ma=3600\r\n";
          if (!c.write(response("over tcp", alt))) return;
        }
      },
      ServerOptions{.tls = true});
  // Learnt over TCP whatever the mode; "off" never tries QUIC.
  for (const char* mode : {"off", "alt-svc", "alt-svc"}) {
    RequestSpec r = request("chrome_156", true, server.port(), mode);
    r.host = "localhost";
    const Record rec = run(std::move(r));
    ASSERT_TRUE(rec.ok()) << mode << ": " << rec.describe();
    EXPECT_EQ(rec.body, "over tcp");
    EXPECT_NE(rec.connection.alpn, "h3");
  }
  EXPECT_EQ(engine_->stats().alt_svc_origins, 1u);
  // The first alt-svc request tried QUIC (refused at once: no error reaches the caller) and went
  // over TCP; the failure backed the alternative off, so the second one went straight to TCP on the
  // kept-alive connection: one TCP connection and one QUIC attempt in all.
  EXPECT_EQ(engine_->stats().errors[static_cast<size_t>(ErrorCode::kConnectRefused)], 0u);
  EXPECT_EQ(engine_->stats().connections_opened, 2u);
  EXPECT_EQ(engine_->stats().exchanges, 4u);
}

// The caller's answer (lib's DNS over HTTPS) with the HTTPS record's alpn: h3 there makes the first
// alt-svc request race QUIC at the origin's own port (closed here: refused at once, the request goes
// over TCP silently and the alternative backs off); "off", or an alpn without h3, never tries QUIC.
TEST_F(EngineHttp3Test, AnAnswersH3AlpnRacesQuicOnTheFirstRequest) {
  TestServer server(
      [](ServerConn& c) {
        std::string raw;
        while (c.read_request(&raw)) {
          if (!c.write(response("over tcp"))) return;
        }
      },
      ServerOptions{.tls = true});
  struct Case {
    const char* mode;
    std::vector<std::string> alpn;
    uint64_t quic_attempts;
  };
  uint64_t opened = 0;
  for (const Case& c :
       {Case{"off", {"h3", "h2"}, 0}, Case{"alt-svc", {"h2"}, 0}, Case{"alt-svc", {"h3"}, 1}}) {
    RequestSpec r = request("chrome_156", true, server.port(), c.mode);
    r.host = "localhost";
    r.dns.addresses = {"127.0.0.1"};
    r.dns.alpn = c.alpn;
    r.dns.ttl_seconds = 60;
    r.max_requests_per_connection = 1;  // a new connection (and so a new choice) for every request
    // Each case its own identity: what one dial learns (whatever the mode) is not the next case's.
    r.identity = std::string(c.mode) + " " + c.alpn.front();
    const Record rec = run(std::move(r));
    ASSERT_TRUE(rec.ok()) << c.mode << ": " << rec.describe();
    EXPECT_EQ(rec.body, "over tcp");
    // One TCP connection, plus the QUIC attempt when the record's h3 counted.
    opened += 1 + c.quic_attempts;
    EXPECT_EQ(engine_->stats().connections_opened, opened) << c.mode << " " << c.alpn.front();
  }
  // Backed off: the next request of that identity goes straight to TCP.
  RequestSpec r = request("chrome_156", true, server.port(), "alt-svc");
  r.identity = "alt-svc h3";
  r.host = "localhost";
  r.dns.addresses = {"127.0.0.1"};
  r.dns.alpn = {"h3"};
  r.dns.ttl_seconds = 60;
  r.max_requests_per_connection = 1;
  ASSERT_TRUE(run(std::move(r)).ok());
  EXPECT_EQ(engine_->stats().connections_opened, opened + 1);
  EXPECT_EQ(engine_->stats().errors[static_cast<size_t>(ErrorCode::kConnectRefused)], 0u);
}

}  // namespace
