// Tests for share::HostServer alone: a real engine served on a real Unix socket to peers played
// by hand (RawPeer, hub_peer_driver.h), without a hub around it: the handshake, a peer's request
// run on the engine with its answer on the peer's stream, a peer that does not start with HELLO,
// and a graceful stop (the socket is gone before GOAWAY, then the peer is let go). Requests go to
// a closed port on 127.0.0.1: the engine answers each with a connection error at once.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "engine_harness.h"
#include "hub_peer_driver.h"
#include "share/endpoint.h"
#include "share/host_server.h"
#include "share/hub_context.h"
#include "share/messages.h"

namespace {

using namespace ctn;
using namespace ctn_test;
using namespace std::chrono_literals;
using mux::FrameType;
using share::HostServer;
using share::HubContext;

// The engine's events, all for peers' requests here, go back to the host server.
class ToHost : public EventSink {
 public:
  explicit ToHost(HostServer& host) : host_(host) {}
  void deliver(Event&& e) override { host_.engine_event(std::move(e)); }

 private:
  HostServer& host_;
};

class HostServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    watchdog_.arm(60s);
    char tmpl[] = "/tmp/ctn-host-server-test-XXXXXX";
    const char* dir = ::mkdtemp(tmpl);
    ASSERT_NE(dir, nullptr);
    dir_ = dir;
    path_ = share::socket_path(dir_, 9119);
    closed_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ASSERT_EQ(::bind(closed_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::getsockname(closed_fd_, reinterpret_cast<sockaddr*>(&a), &len), 0);
    closed_port_ = ntohs(a.sin_port);

    share::HubOptions o;
    o.port = 9119;
    o.socket_dir = dir_;
    hub_ = std::make_unique<HubContext>(std::move(o), sink_);
    host_ = std::make_unique<HostServer>(*hub_, [this] { ++drained_; });
    to_host_ = std::make_unique<ToHost>(*host_);
    engine_ = std::make_unique<Engine>(EngineOptions{}, *to_host_);
    share::LocalAcceptor acceptor(hub_->io);
    const share::BindResult bound = share::bind_or_find_host(acceptor, path_, dir_ + "/9119.lock");
    ASSERT_EQ(bound.outcome, share::BindResult::Outcome::kBound) << bound.why;
    host_->start(std::move(acceptor), bound.inode, *engine_, path_, dir_ + "/9119.lock");
    work_.emplace(asio::make_work_guard(hub_->io));
    io_thread_ = std::thread([this] { hub_->io.run(); });
  }
  void TearDown() override {
    on_io([this] { host_->stop(false); });
    engine_->shutdown(nullptr);
    engine_->join();
    work_.reset();
    hub_->io.stop();
    io_thread_.join();
    engine_.reset();
    host_.reset();
    hub_.reset();
    ::close(closed_fd_);
    std::filesystem::remove_all(dir_);
    watchdog_.disarm();
  }
  // Runs `work` on the io thread and waits for it.
  template <class Work>
  void on_io(Work&& work) {
    std::promise<void> done;
    asio::post(hub_->io, [&] {
      work();
      done.set_value();
    });
    done.get_future().wait();
  }
  std::string request_to_closed_port() const {
    RequestSpec r;
    r.method = "GET";
    r.tls = false;
    r.host = "127.0.0.1";
    r.port = closed_port_;
    r.target.assign(1, '/');
    return mux::encode_request(r);
  }
  template <class Done>
  bool eventually(Done&& done) {
    for (int i = 0; i < 2000 && !done(); ++i) std::this_thread::sleep_for(5ms);
    return done();
  }

  Watchdog watchdog_;
  std::string dir_, path_;
  int closed_fd_ = -1;
  uint16_t closed_port_ = 0;
  Sink sink_;
  std::unique_ptr<HubContext> hub_;
  std::unique_ptr<HostServer> host_;
  std::unique_ptr<ToHost> to_host_;
  std::unique_ptr<Engine> engine_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread io_thread_;
  std::atomic<int> drained_{0};
};

TEST_F(HostServerTest, APeerIsGreetedWithReadyAndItsPingsAreAnswered) {
  RawPeer peer(path_);
  ASSERT_TRUE(peer.connected());
  ASSERT_TRUE(peer.handshake());
  ASSERT_TRUE(peer.send(FrameType::kPing, 0, 0, mux::encode_u64(42)));
  auto pong = peer.wait_for(FrameType::kPong);
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->payload, mux::encode_u64(42));
  EXPECT_EQ(hub_->counters.peers_accepted.load(), 1u);
  EXPECT_EQ(hub_->counters.peers_open.load(), 1u);
}

TEST_F(HostServerTest, APeersRequestRunsOnTheEngineAndItsAnswerComesBackOnItsStream) {
  RawPeer peer(path_);
  ASSERT_TRUE(peer.handshake());
  ASSERT_TRUE(peer.send(FrameType::kRequest, mux::kEndStream, 5, request_to_closed_port()));
  auto error = peer.wait_for(FrameType::kError);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->stream, 5u);
  Error e;
  ASSERT_TRUE(mux::decode_error(error->payload, &e));
  EXPECT_EQ(e.code, ErrorCode::kConnectRefused) << e.message;
  EXPECT_TRUE(eventually([&] { return hub_->counters.streams.load() == 0; }));
}

TEST_F(HostServerTest, APeerThatDoesNotStartWithHelloLosesItsLinkAndIsCounted) {
  RawPeer peer(path_);
  ASSERT_TRUE(peer.send(FrameType::kPing, 0, 0, mux::encode_u64(1)));
  EXPECT_TRUE(peer.closed_by_host());
  EXPECT_TRUE(eventually([&] { return hub_->counters.peers_refused.load() == 1; }));
  const std::string warning = sink_.wait_notice(1);
  EXPECT_NE(warning.find("expected HELLO, got PING"), std::string::npos) << warning;
  EXPECT_EQ(hub_->counters.peers_accepted.load(), 0u);
  // The next, well-behaved peer is served.
  RawPeer next(path_);
  EXPECT_TRUE(next.handshake());
}

TEST_F(HostServerTest, AGracefulStopFreesTheSocketSaysGoawayAndDrainsOnceThePeerIsGone) {
  RawPeer peer(path_);
  ASSERT_TRUE(peer.handshake());
  hub_->stopping = true;
  on_io([this] { host_->stop(true); });
  EXPECT_FALSE(std::filesystem::exists(path_));  // removed before anyone hears we leave
  auto goaway = peer.wait_for(FrameType::kGoaway);
  ASSERT_TRUE(goaway);
  EXPECT_TRUE(peer.closed_by_host());  // nothing in flight: let go at once
  EXPECT_TRUE(eventually([&] { return drained_.load() == 1; }));
  bool idle = false;
  on_io([&] { idle = host_->idle(); });
  EXPECT_TRUE(idle);
}

}  // namespace
