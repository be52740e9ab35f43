// Tests for share::HostServer alone: a real engine served on a real Unix socket to peers played
// by hand (RawPeer, hub_peer_driver.h), without a hub around it: the handshake, a peer's request
// run on the engine with its answer on the peer's stream, a peer that does not start with HELLO,
// and a graceful stop (the socket is gone before GOAWAY, then the peer is let go). Requests go to
// a closed port on 127.0.0.1 (the engine answers each with a connection error at once) or, for
// answers with a body, to a real HTTP/1.1 test server on 127.0.0.1.
// The host server runs on the engine's io thread: peers' frames are handled there, many peers get
// their own answers whole, a peer that vanishes mid-answer is forgotten, and one that reads slowly
// gets no more than its window (and holds up no one else).
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
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

// A GET of `target` from plain HTTP on 127.0.0.1:`port`, as a peer sends it.
std::string request_to(uint16_t port, const std::string& target) {
  RequestSpec r;
  r.method = "GET";
  r.tls = false;
  r.host = "127.0.0.1";
  r.port = port;
  r.target = target;
  return mux::encode_request(r);
}

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
    o.test.before_frame = [this](bool host_side, int, uint64_t) {
      std::lock_guard<std::mutex> lock(threads_mu_);
      if (host_side) frame_threads_.insert(std::this_thread::get_id());
    };
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
    hub_->stopping = true;
    host_->stop(false);
    EXPECT_TRUE(eventually([&] { return drained_.load() >= 1; }));
    engine_->shutdown(nullptr);
    engine_->join();
    work_.reset();
    hub_->io.stop();
    io_thread_.join();
    host_->release();  // its links and timers live on the engine's io_context
    engine_.reset();
    host_.reset();
    hub_.reset();
    ::close(closed_fd_);
    std::filesystem::remove_all(dir_);
    watchdog_.disarm();
  }
  std::string request_to_closed_port() const { return request_to(closed_port_, "/"); }
  // The thread that runs the engine's io_context.
  std::thread::id engine_io_thread() {
    std::promise<std::thread::id> id;
    asio::post(engine_->io_context(), [&] { id.set_value(std::this_thread::get_id()); });
    return id.get_future().get();
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
  std::mutex threads_mu_;
  std::set<std::thread::id> frame_threads_;  // where the host server handled peers' frames
};

// The body the sized server below answers `/<size>/<tag>` with: lines naming the tag and their
// offset, so a body cut, doubled or mixed with another is caught by a comparison.
std::string sized_body(size_t size, const std::string& tag) {
  std::string body;
  body.reserve(size + 64);
  while (body.size() < size) body += tag + ":" + std::to_string(body.size()) + "\n";
  body.resize(size);
  return body;
}

// An HTTP/1.1 server answering GET /<size>/<tag> with sized_body(size, tag).
Handler sized_answers() {
  return [](ServerConn& c) {
    std::string raw;
    while (c.read_request(&raw)) {
      const size_t start = raw.find(' ') + 2;
      const size_t slash = raw.find('/', start);
      const size_t end = raw.find(' ', start);
      const size_t size = std::stoul(raw.substr(start, slash - start));
      if (!c.write(response(sized_body(size, raw.substr(slash + 1, end - slash - 1))))) return;
    }
  };
}

// What a peer gathered of one stream's answer.
struct Answer {
  int status = 0;
  std::string body;
  bool ended = false;
};

// Reads `peer`'s frames until every stream in `answers` has ended, granting window as a client
// does (once half of it is used); false if the link closed, an ERROR came, or nothing came for 10 s.
bool gather(RawPeer& peer, std::map<uint64_t, Answer>& answers, uint32_t window = 1u << 20) {
  std::map<uint64_t, uint64_t> owed;
  size_t open = answers.size();
  while (open > 0) {
    auto f = peer.next_frame(10s);
    if (!f || !answers.count(f->stream)) return false;
    Answer& a = answers[f->stream];
    switch (f->type) {
      case FrameType::kHead: {
        ResponseHead head;
        ConnectionInfo conn;
        if (!mux::decode_head(f->payload, &head, &conn)) return false;
        a.status = head.status;
        break;
      }
      case FrameType::kBody:
        a.body.append(f->payload, f->payload_start, std::string::npos);
        owed[f->stream] += f->payload_size();
        if (owed[f->stream] >= window / 2) {
          if (!peer.send(FrameType::kWindow, 0, f->stream, mux::encode_u32(uint32_t(owed[f->stream]))))
            return false;
          owed[f->stream] = 0;
        }
        break;
      case FrameType::kEnd:
        a.ended = true;
        --open;
        break;
      default:
        return false;
    }
  }
  return true;
}

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
  host_->stop(true);
  auto goaway = peer.wait_for(FrameType::kGoaway);
  ASSERT_TRUE(goaway);
  EXPECT_FALSE(std::filesystem::exists(path_));  // removed before anyone hears we leave
  EXPECT_TRUE(peer.closed_by_host());            // nothing in flight: let go at once
  EXPECT_TRUE(eventually([&] { return drained_.load() == 1; }));
  EXPECT_EQ(hub_->counters.peers_open.load(), 0u);
}

}  // namespace

// A new peer connects, asks `server` for `size` bytes and gets them whole: the host still serves.
::testing::AssertionResult a_new_peer_is_served(const std::string& path, const TestServer& server,
                                                size_t size) {
  RawPeer peer(path);
  if (!peer.handshake()) return ::testing::AssertionFailure() << "no handshake";
  const std::string target = "/" + std::to_string(size) + "/fresh";
  if (!peer.send(FrameType::kRequest, mux::kEndStream, 1, request_to(server.port(), target)))
    return ::testing::AssertionFailure() << "could not send";
  std::map<uint64_t, Answer> answers{{1, {}}};
  if (!gather(peer, answers)) return ::testing::AssertionFailure() << "no whole answer";
  if (answers[1].body != sized_body(size, "fresh"))
    return ::testing::AssertionFailure() << "a body of " << answers[1].body.size() << " bytes, not as sent";
  return ::testing::AssertionSuccess();
}

namespace {

TEST_F(HostServerTest, PeersFramesAreHandledOnTheEnginesIoThread) {
  RawPeer peer(path_);
  ASSERT_TRUE(peer.handshake());
  ASSERT_TRUE(peer.send(FrameType::kPing, 0, 0, mux::encode_u64(7)));
  ASSERT_TRUE(peer.wait_for(FrameType::kPong));
  ASSERT_TRUE(peer.send(FrameType::kRequest, mux::kEndStream, 3, request_to_closed_port()));
  ASSERT_TRUE(peer.wait_for(FrameType::kError));
  const std::thread::id engine_thread = engine_io_thread();
  std::lock_guard<std::mutex> lock(threads_mu_);
  ASSERT_FALSE(frame_threads_.empty());
  for (const auto& id : frame_threads_) EXPECT_EQ(id, engine_thread);  // no hop to the hub's thread
}

TEST_F(HostServerTest, ManyPeersEachGetTheirOwnAnswersWhole) {
  TestServer server(sized_answers());
  constexpr int kPeers = 6, kStreams = 3;
  std::vector<std::unique_ptr<RawPeer>> peers;
  for (int p = 0; p < kPeers; ++p) {
    peers.push_back(std::make_unique<RawPeer>(path_));
    ASSERT_TRUE(peers.back()->handshake());
  }
  // Every request is out before any answer is read: the answers interleave on the engine's thread.
  for (int p = 0; p < kPeers; ++p) {
    for (int s = 1; s <= kStreams; ++s) {
      const std::string target =
          "/" + std::to_string(100000 + 50000 * s) + "/p" + std::to_string(p) + "s" + std::to_string(s);
      ASSERT_TRUE(peers[p]->send(FrameType::kRequest, mux::kEndStream, s, request_to(server.port(), target)));
    }
  }
  for (int p = 0; p < kPeers; ++p) {
    std::map<uint64_t, Answer> answers;
    for (int s = 1; s <= kStreams; ++s) answers[s];
    ASSERT_TRUE(gather(*peers[p], answers)) << "peer " << p;
    for (int s = 1; s <= kStreams; ++s) {
      EXPECT_EQ(answers[s].status, 200);
      EXPECT_TRUE(answers[s].body ==
                  sized_body(100000 + 50000 * s, "p" + std::to_string(p) + "s" + std::to_string(s)))
          << "peer " << p << " stream " << s << ": " << answers[s].body.size() << " bytes";
    }
  }
  EXPECT_TRUE(eventually([&] { return hub_->counters.streams.load() == 0; }));
  EXPECT_EQ(hub_->counters.peers_open.load(), static_cast<uint64_t>(kPeers));
}

TEST_F(HostServerTest, APeerThatVanishesMidAnswerIsForgottenAndAnotherIsServed) {
  TestServer server(sized_answers());
  auto gone = std::make_unique<RawPeer>(path_);
  ASSERT_TRUE(gone->handshake());
  // Far more than the window, link and hold allow at once: most of it is still to come.
  ASSERT_TRUE(
      gone->send(FrameType::kRequest, mux::kEndStream, 1, request_to(server.port(), "/16000000/gone")));
  ASSERT_TRUE(gone->wait_for(FrameType::kBody));
  gone.reset();  // the process vanished: its socket closes mid-answer
  EXPECT_TRUE(a_new_peer_is_served(path_, server, 300000));
  // The vanished peer's request is cancelled on the engine and its state is gone (the fresh peer
  // has left too).
  EXPECT_TRUE(eventually([&] { return hub_->counters.streams.load() == 0; }));
  EXPECT_TRUE(eventually([&] { return hub_->counters.peers_open.load() == 0; }));
  EXPECT_TRUE(eventually([&] { return engine_->stats().connections_live <= 1; }));
}

TEST_F(HostServerTest, ASlowReaderGetsNoMoreThanItsWindowAndHoldsUpNoOneElse) {
  TestServer server(sized_answers());
  const uint32_t window = hub_->options.stream_window;
  const size_t size = 3 * size_t{window} + 12345;
  RawPeer slow(path_);
  ASSERT_TRUE(slow.handshake());
  ASSERT_TRUE(slow.send(FrameType::kRequest, mux::kEndStream, 1,
                        request_to(server.port(), "/" + std::to_string(size) + "/slow")));
  // Without a WINDOW back, the host sends up to one window's worth and then nothing more. It never
  // splits a held slice to fill the window exactly, so it may stop up to one body chunk short of it.
  std::string body;
  while (body.size() + mux::kBodyChunk <= window) {
    auto f = slow.next_frame(10s);
    ASSERT_TRUE(f);
    if (f->type == FrameType::kBody) body.append(f->payload, f->payload_start, std::string::npos);
  }
  while (auto f = slow.next_frame(300ms)) {
    if (f->type == FrameType::kBody) body.append(f->payload, f->payload_start, std::string::npos);
  }
  EXPECT_LE(body.size(), window) << "bytes beyond the window";
  // Meanwhile the engine's thread serves others.
  EXPECT_TRUE(a_new_peer_is_served(path_, server, 200000));
  // The slow reader grants more and gets the rest, whole and in order.
  ASSERT_TRUE(slow.send(FrameType::kWindow, 0, 1, mux::encode_u32(window)));
  std::map<uint64_t, Answer> rest{{1, {}}};
  ASSERT_TRUE(gather(slow, rest, window));
  EXPECT_TRUE(body + rest[1].body == sized_body(size, "slow")) << (body.size() + rest[1].body.size());
}

TEST_F(HostServerTest, APeerThatStopsReadingItsSocketIsHeldBackAndGetsEverythingLater) {
  TestServer server(sized_answers());
  const size_t size = 24u << 20;
  RawPeer stuck(path_);
  ASSERT_TRUE(stuck.handshake());
  ASSERT_TRUE(stuck.send(FrameType::kRequest, mux::kEndStream, 1,
                         request_to(server.port(), "/" + std::to_string(size) + "/stuck")));
  // Window for all of it up front: only the link itself (the socket, then the link's outbox, then
  // the engine paused) holds the answer back while nothing is read.
  for (int i = 0; i < 24; ++i) ASSERT_TRUE(stuck.send(FrameType::kWindow, 0, 1, mux::encode_u32(1u << 20)));
  EXPECT_TRUE(a_new_peer_is_served(path_, server, 200000));
  std::map<uint64_t, Answer> all{{1, {}}};
  ASSERT_TRUE(gather(stuck, all, 64u << 20));
  EXPECT_TRUE(all[1].body == sized_body(size, "stuck")) << all[1].body.size();
  EXPECT_TRUE(eventually([&] { return hub_->counters.streams.load() == 0; }));
}

}  // namespace
