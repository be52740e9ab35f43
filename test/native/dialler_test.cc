// The dialler alone, without an engine: its stages in order (DNS, TCP connect, proxy, TLS), the
// stream it leaves on the transport, its failures with their codes and stages, and a dial nobody
// wants any more stopping at the next stage. Real servers and proxies on 127.0.0.1 (test_server.h,
// proxy_server.h); the io_context runs on the test's thread, bounded.
#include "core/dialler.h"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dns/happy_eyeballs.h"
#include "engine_harness.h"
#include "proxy_server.h"
#include "test_server.h"

namespace {

using namespace ctn;
using namespace ctn_test;

class RecordingListener : public DialListener {
 public:
  explicit RecordingListener(Exchange& ex) : ex_(ex) {}
  const Exchange* dial_for() const override { return wanted ? &ex_ : nullptr; }
  void dial_stage(Stage stage) override { stages.push_back(stage); }
  void dial_tcp_connected() override { tcp_connected = true; }
  void dial_io(uint64_t in, uint64_t out) override {
    bytes_in += in;
    bytes_out += out;
  }
  void dial_failed(Error e) override {
    failed = true;
    error = std::move(e);
  }
  void dialled(bool h2) override {
    done = true;
    http2 = h2;
  }
  bool finished() const { return failed || done; }

  bool wanted = true;
  std::vector<Stage> stages;
  bool tcp_connected = false;
  uint64_t bytes_in = 0, bytes_out = 0;
  bool failed = false;
  Error error;
  bool done = false;
  bool http2 = false;

 private:
  Exchange& ex_;
};

// A loopback port nothing listens on (a server's, closed again).
uint16_t closed_port() {
  TestServer gone(TestServer::respond_always(response("x")));
  return gone.port();
}

// A listener on [::1]:port that never accepts, its one-connection queue filled: the kernel drops
// every further SYN, so a connect there neither succeeds nor fails for a second (the first SYN
// retransmission) — an address that black-holes, as a broken IPv6 path does.
class Ipv6BlackHole {
 public:
  explicit Ipv6BlackHole(uint16_t port) {
    listen_fd_ = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    a.sin6_port = htons(port);
    ok_ = listen_fd_ >= 0 && ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
          ::listen(listen_fd_, 0) == 0;
    // Queued, never accepted: the queue (backlog 0 holds one) is full from here on.
    for (int& fd : fillers_) {
      fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (ok_ && fd >= 0) ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the handshakes complete
  }
  ~Ipv6BlackHole() {
    for (int fd : fillers_)
      if (fd >= 0) ::close(fd);
    if (listen_fd_ >= 0) ::close(listen_fd_);
  }
  bool ok() const { return ok_; }

 private:
  int listen_fd_ = -1;
  int fillers_[2] = {-1, -1};
  bool ok_ = false;
};

class DiallerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(kEnvironmentReady);
    auto custom = test_tls_profile();
    ex.profile = custom ? custom.get() : &default_profile();
    profile_keep = custom;
  }

  PoolKey key_for(bool tls, uint16_t port, std::string proxy = "") {
    PoolKey key;
    key.tls = tls;
    key.host = "localhost";
    key.port = port;
    key.proxy = std::move(proxy);
    key.server_name = "localhost";
    key.profile = ex.profile->id;
    return key;
  }

  // Runs the dial of `key` to its end (or until nothing is left to run).
  void dial(const PoolKey& key) {
    auto owner = std::make_shared<int>(0);
    transport = std::make_unique<Transport>(io);
    dialler = std::make_unique<Dialler>(io, key, *transport, contexts, nullptr, resolver, listener);
    dialler->start(owner);
    io.restart();
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (!listener.finished() && std::chrono::steady_clock::now() < deadline) {
      if (io.run_one_for(std::chrono::milliseconds(50)) == 0 && io.stopped()) break;
    }
    owner.reset();
  }

  void TearDown() override {
    if (transport) transport->close();
    io.restart();
    io.poll();
  }

  asio::io_context io;
  Exchange ex{io};
  std::shared_ptr<const Profile> profile_keep;
  TlsContextCache contexts;
  dns::Resolver resolver{io};  // the engine's resolver (native/dns), as the engine hands it over
  RecordingListener listener{ex};
  std::unique_ptr<Transport> transport;
  std::unique_ptr<Dialler> dialler;
};

TEST_F(DiallerTest, PlainTcpConnectsAndIsReadyForHttp1) {
  TestServer server(TestServer::respond_always(response("x")));
  dial(key_for(false, server.port()));
  ASSERT_TRUE(listener.done) << listener.error.message;
  EXPECT_FALSE(listener.http2);
  EXPECT_TRUE(listener.tcp_connected);
  EXPECT_EQ(listener.stages, std::vector<Stage>{Stage::kConnect});
  EXPECT_EQ(transport->target_ssl(), nullptr);
  EXPECT_TRUE(transport->socket().is_open());
  EXPECT_FALSE(dialler->absolute_form());
}

TEST_F(DiallerTest, TlsHandshakeLeavesTheTargetsTlsOnTheTransport) {
  ServerOptions o;
  o.tls = true;
  TestServer server(TestServer::respond_always(response("x")), o);
  dial(key_for(true, server.port()));
  ASSERT_TRUE(listener.done) << listener.error.message;
  EXPECT_FALSE(listener.http2);  // the test server selects http/1.1
  EXPECT_EQ(listener.stages, (std::vector<Stage>{Stage::kConnect, Stage::kTls}));
  ASSERT_NE(transport->target_ssl(), nullptr);
  EXPECT_FALSE(negotiated_version(transport->target_ssl()).empty());
  EXPECT_FALSE(dialler->tls_resumed());
}

// An IP literal is not looked up: the connect starts within start(), with no resolver round trip
// (a name's connect starts only once its lookup has come back through the io_context).
TEST_F(DiallerTest, AnIpLiteralConnectsWithoutALookup) {
  TestServer server(TestServer::respond_always(response("x")));
  for (const char* host : {"127.0.0.1", "localhost"}) {
    SCOPED_TRACE(host);
    listener.stages.clear();
    listener.done = false;
    PoolKey key = key_for(false, server.port());
    key.host = host;
    auto owner = std::make_shared<int>(0);
    transport = std::make_unique<Transport>(io);
    dialler = std::make_unique<Dialler>(io, key, *transport, contexts, nullptr, resolver, listener);
    dialler->start(owner);
    const bool literal = key.host == "127.0.0.1";
    EXPECT_EQ(listener.stages, literal ? std::vector<Stage>{Stage::kConnect} : std::vector<Stage>{});
    io.restart();
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (!listener.finished() && std::chrono::steady_clock::now() < deadline) io.run_one_for(50ms);
    ASSERT_TRUE(listener.done) << listener.error.message;
    EXPECT_EQ(listener.stages, std::vector<Stage>{Stage::kConnect});
    transport->close();
  }
}

TEST_F(DiallerTest, ARefusedConnectFailsAtTheConnectStageNamingTheAddress) {
  const uint16_t port = closed_port();
  dial(key_for(false, port));
  ASSERT_TRUE(listener.failed);
  EXPECT_EQ(listener.error.code, ErrorCode::kConnectRefused);
  EXPECT_EQ(listener.error.stage, Stage::kConnect);
  EXPECT_NE(listener.error.message.find("connect to localhost:" + std::to_string(port)), std::string::npos)
      << listener.error.message;
  EXPECT_FALSE(listener.tcp_connected);
}

TEST_F(DiallerTest, AnUntrustedCertificateFailsAtTheTlsStage) {
  ServerOptions o;
  o.tls = true;
  TestServer server(TestServer::respond_always(response("x")), o);
  PoolKey key = key_for(true, server.port());
  key.server_name = "not-the-name.example";  // the certificate does not match
  dial(key);
  ASSERT_TRUE(listener.failed);
  EXPECT_EQ(listener.error.stage, Stage::kTls);
  EXPECT_EQ(listener.error.code, ErrorCode::kTlsCert) << listener.error.message;
}

TEST_F(DiallerTest, ConnectTunnelThroughAnHttpProxyThenTheTargetsTls) {
  ServerOptions o;
  o.tls = true;
  TestServer target(TestServer::respond_always(response("x")), o);
  HttpProxy proxy;
  dial(key_for(true, target.port(), "http://127.0.0.1:" + std::to_string(proxy.port())));
  ASSERT_TRUE(listener.done) << listener.error.message;
  EXPECT_EQ(listener.stages, (std::vector<Stage>{Stage::kConnect, Stage::kProxy, Stage::kTls}));
  ASSERT_EQ(proxy.asked().size(), 1u);
  EXPECT_EQ(proxy.asked()[0], "CONNECT localhost:" + std::to_string(target.port()) + " HTTP/1.1");
  EXPECT_GT(listener.bytes_out, 0u);
  EXPECT_GT(listener.bytes_in, 0u);
  EXPECT_NE(transport->target_ssl(), nullptr);
}

TEST_F(DiallerTest, PlainHttpThroughAnHttpProxyUsesAbsoluteFormWithoutATunnel) {
  TestServer target(TestServer::respond_always(response("x")));
  HttpProxy proxy;
  dial(key_for(false, target.port(), "http://127.0.0.1:" + std::to_string(proxy.port())));
  ASSERT_TRUE(listener.done) << listener.error.message;
  EXPECT_TRUE(dialler->absolute_form());
  ASSERT_NE(dialler->proxy(), nullptr);
  EXPECT_TRUE(proxy.asked().empty());
  EXPECT_EQ(listener.stages, (std::vector<Stage>{Stage::kConnect, Stage::kProxy}));
}

TEST_F(DiallerTest, AProxyThatRefusesTheTunnelFailsAtTheProxyStage) {
  HttpProxy proxy;
  // Nothing listens at the target's port: the proxy answers the CONNECT with a 502.
  dial(key_for(true, closed_port(), "http://127.0.0.1:" + std::to_string(proxy.port())));
  ASSERT_TRUE(listener.failed);
  EXPECT_EQ(listener.error.code, ErrorCode::kProxy);
  EXPECT_EQ(listener.error.stage, Stage::kProxy);
  EXPECT_NE(listener.error.message.find("(proxy http://127.0.0.1:"), std::string::npos)
      << listener.error.message;
}

TEST_F(DiallerTest, ADialNobodyWantsStopsAtTheNextStage) {
  TestServer server(TestServer::respond_always(response("x")));
  listener.wanted = false;
  dial(key_for(false, server.port()));
  EXPECT_FALSE(listener.finished());
  EXPECT_TRUE(listener.stages.empty());
  EXPECT_FALSE(listener.tcp_connected);
}

// Happy Eyeballs v2 (RFC 8305 §5), end to end on a caller's answer of both families: IPv6 first;
// when it hangs, IPv4 starts after the 250 ms attempt delay and wins the race (not after IPv6's
// connect gives up); when IPv6 fails at once, IPv4 starts at once.
TEST_F(DiallerTest, HappyEyeballsStartsIpv4AfterTheAttemptDelayWhenIpv6Hangs) {
  TestServer server(TestServer::respond_always(response("x")));
  Ipv6BlackHole hole(server.port());
  if (!hole.ok()) GTEST_SKIP() << "no IPv6 loopback, or its port is taken";
  PoolKey key = key_for(false, server.port());
  key.host = "dual.test";
  key.dial_addresses = dial_address_set({"::1", "127.0.0.1"});
  ex.spec.dns.addresses = {"127.0.0.1", "::1"};  // the order of the answer does not matter
  const auto started = std::chrono::steady_clock::now();
  dial(key);
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(listener.done) << listener.error.message;
  EXPECT_GE(took, std::chrono::milliseconds(dns::kConnectionAttemptDelayMs - 10));
  EXPECT_LT(took, std::chrono::milliseconds(950)) << "IPv4 waited for IPv6 to give up";
}

TEST_F(DiallerTest, HappyEyeballsStartsIpv4AtOnceWhenIpv6IsRefused) {
  TestServer server(TestServer::respond_always(response("x")));
  // Nothing listens on [::1] at this port: that connect is refused at once.
  PoolKey key = key_for(false, server.port());
  key.host = "dual.test";
  key.dial_addresses = dial_address_set({"::1", "127.0.0.1"});
  ex.spec.dns.addresses = {"::1", "127.0.0.1"};
  const auto started = std::chrono::steady_clock::now();
  dial(key);
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(listener.done) << listener.error.message;
  EXPECT_LT(took, std::chrono::milliseconds(dns::kConnectionAttemptDelayMs - 50));
}

}  // namespace
