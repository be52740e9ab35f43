// Tests for share::ClientLink alone, against a host played by the test with real frames over a
// real Unix socket (a mux::Link on the same io_context): the handshake, a request and its answer,
// what becomes of requests when the host goes (run again, or ERR_HOST_GONE), GOAWAY, the check
// of the host's user, and a host that never answers. The owner records what the link tells it.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine_harness.h"
#include "mux/link.h"
#include "share/client_link.h"
#include "share/endpoint.h"
#include "share/hub_context.h"
#include "share/messages.h"
#include "share_harness.h"

namespace {

using namespace ctn;
using namespace ctn_test;
using namespace std::chrono_literals;
using mux::Frame;
using mux::FrameType;
using share::ClientLink;
using share::HubContext;

// The host: accepts one connection and records its frames; answers HELLO with READY when asked.
class FakeHost : public mux::LinkHandler {
 public:
  FakeHost(asio::io_context& io, const std::string& path)
      : acceptor_(io, asio::local::stream_protocol::endpoint(path)) {
    acceptor_.async_accept([this](const asio::error_code& ec, share::LocalSocket socket) {
      if (ec) return;
      link = std::make_shared<mux::Link>(std::move(socket), *this);
      link->start();
    });
  }
  void on_frame(mux::Link&, Frame&& f) override {
    if (f.type == FrameType::kHello && answer_hello) {
      link->send_control(FrameType::kReady, 0, 0, mux::encode_ready(mux::Ready{1u << 20, 4321}));
    }
    frames.push_back(std::move(f));
  }
  void on_link_closed(mux::Link&, const std::string&) override { closed = true; }
  void on_link_writable(mux::Link&) override {}

  const Frame* find(FrameType type, uint64_t stream) const {
    for (const auto& f : frames) {
      if (f.type == type && f.stream == stream) return &f;
    }
    return nullptr;
  }
  void answer(uint64_t stream, const std::string& body) {
    ResponseHead head;
    head.status = 200;
    link->send_stream(FrameType::kHead, 0, stream, mux::encode_head(head, ConnectionInfo{}));
    if (!body.empty()) link->send_stream(FrameType::kBody, 0, stream, body);
    link->send_stream(FrameType::kEnd, 0, stream, {});
  }

  bool answer_hello = true;
  std::shared_ptr<mux::Link> link;
  std::vector<Frame> frames;
  bool closed = false;

 private:
  share::LocalAcceptor acceptor_;
};

class Owner : public ClientLink::Owner {
 public:
  bool electing() const override { return true; }
  void link_ready() override { ++ready; }
  void host_not_ours(const std::string& why) override { not_ours.push_back(why); }
  void host_refused(const std::string& why) override { refused.push_back(why); }
  void host_unavailable(const std::string& why) override { unavailable.push_back(why); }
  void host_closed_in_handshake(bool, const std::string& reason) override { not_ours.push_back(reason); }
  void host_leaving() override { ++leaving; }
  void host_lost() override { ++lost; }
  void link_failed(bool, const std::string& why) override { failed.push_back(why); }
  void rerun(RequestSpec&& spec) override { reruns.push_back(spec.id); }
  bool requests_waiting() const override { return false; }

  int ready = 0, leaving = 0, lost = 0;
  std::vector<std::string> not_ours, refused, unavailable, failed;
  std::vector<uint64_t> reruns;
};

class ClientLinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ctn-client-link-test-XXXXXX";
    const char* dir = ::mkdtemp(tmpl);
    ASSERT_NE(dir, nullptr);
    dir_ = dir;
    path_ = share::socket_path(dir_, 9119);
  }
  void TearDown() override {
    link_.reset();
    host_.reset();
    hub_.reset();
    std::filesystem::remove_all(dir_);
  }
  static share::HubOptions options() {
    share::HubOptions o;
    o.port = 9119;
    o.handshake_timeout_ms = 5000;
    return o;
  }
  void start(share::HubOptions o = options()) {
    hub_ = std::make_unique<HubContext>(std::move(o), sink_);
    host_ = std::make_unique<FakeHost>(hub_->io, path_);
    link_ = std::make_unique<ClientLink>(*hub_, owner_);
    link_->connect(path_);
  }
  template <class Done>
  bool run_until(Done&& done) {
    return run_io_until(hub_->io, std::forward<Done>(done));
  }
  // Connected and READY.
  void open() {
    start();
    ASSERT_TRUE(run_until([&] { return owner_.ready == 1; }));
  }
  RequestSpec request(uint64_t id, std::string method = "GET", bool retry = false) {
    RequestSpec r;
    r.id = id;
    r.method = std::move(method);
    r.tls = false;
    r.host = "127.0.0.1";
    r.port = 1;
    r.target = "/x";
    r.retry_on_host_gone = retry;
    return r;
  }
  // Sends `r` and waits until the host has its REQUEST.
  void send(RequestSpec r) {
    const uint64_t id = r.id;
    link_->send_request(std::move(r));
    ASSERT_TRUE(run_until([&] { return host_->find(FrameType::kRequest, id) != nullptr; }));
  }

  std::string dir_, path_;
  Sink sink_;
  Owner owner_;
  std::unique_ptr<HubContext> hub_;
  std::unique_ptr<FakeHost> host_;
  std::unique_ptr<ClientLink> link_;
};

TEST_F(ClientLinkTest, HandshakeThenARequestComesBackAsItsEvents) {
  open();
  ASSERT_NE(host_->find(FrameType::kHello, 0), nullptr);
  EXPECT_TRUE(link_->open());
  EXPECT_EQ(hub_->counters.links.load(), 1u);
  EXPECT_EQ(hub_->counters.host_pid.load(), 4321u);
  EXPECT_STREQ(hub_->counters.link.load(), "open");

  send(request(1));
  const Frame* req = host_->find(FrameType::kRequest, 1);
  EXPECT_TRUE(req->flags & mux::kEndStream);  // no body follows
  RequestSpec decoded;
  uint64_t body_size = 1;
  std::string why;
  ASSERT_TRUE(mux::decode_request(req->payload, &decoded, &body_size, &why)) << why;
  EXPECT_EQ(decoded.method, "GET");
  EXPECT_EQ(decoded.target, "/x");
  EXPECT_EQ(body_size, 0u);
  EXPECT_EQ(hub_->counters.streams.load(), 1u);

  host_->answer(1, "hello");
  ASSERT_TRUE(run_until([&] { return sink_.wait_terminal(1, 0ms).has_value(); }));
  auto rec = sink_.wait_terminal(1, 0ms);
  EXPECT_TRUE(rec->ended) << rec->describe();
  EXPECT_EQ(rec->body, "hello");
  EXPECT_EQ(rec->head.status, 200);
  EXPECT_EQ(hub_->counters.streams.load(), 0u);
}

TEST_F(ClientLinkTest, WhenTheHostGoesOnlyUnansweredRetryableRequestsRunAgain) {
  open();
  send(request(1, "GET", true));   // may run again, no answer yet
  send(request(2, "POST", true));  // not idempotent
  send(request(3, "GET", true));   // answered in part: its head came
  ResponseHead head;
  head.status = 200;
  host_->link->send_stream(FrameType::kHead, 0, 3, mux::encode_head(head, ConnectionInfo{}));
  ASSERT_TRUE(run_until([&] {
    return sink_.wait_record(
        3, [](const Record& r) { return r.has_head; }, 0ms);
  }));
  host_->link->close("");
  ASSERT_TRUE(run_until([&] { return owner_.lost == 1; }));
  EXPECT_EQ(owner_.reruns, std::vector<uint64_t>{1});
  for (uint64_t id : {2, 3}) {
    auto rec = sink_.wait_terminal(id, 0ms);
    ASSERT_TRUE(rec) << id;
    EXPECT_EQ(rec->code(), "ERR_HOST_GONE") << rec->describe();
    EXPECT_NE(rec->describe().find("the process hosting the engine on port 9119 went away"),
              std::string::npos);
  }
  EXPECT_EQ(hub_->counters.host_gone.load(), 2u);
  EXPECT_EQ(hub_->counters.streams.load(), 0u);
  EXPECT_FALSE(link_->open());
}

TEST_F(ClientLinkTest, AnErrorHostGoneBeforeTheHeadRunsTheRequestAgain) {
  open();
  send(request(1));
  host_->link->send_stream(
      FrameType::kError, 0, 1,
      mux::encode_error(Error{ErrorCode::kHostGone, Stage::kLink, "the host is handing over"}));
  ASSERT_TRUE(run_until([&] { return !owner_.reruns.empty(); }));
  EXPECT_EQ(owner_.reruns, std::vector<uint64_t>{1});
  EXPECT_FALSE(sink_.wait_terminal(1, 0ms));
}

TEST_F(ClientLinkTest, GoawayKeepsTheLinkUntilItsRequestsSettleThenClosesIt) {
  open();
  send(request(1));
  host_->link->send_control(FrameType::kGoaway, 0, 0, mux::PayloadWriter().str("the host is leaving").take());
  ASSERT_TRUE(run_until([&] { return owner_.leaving == 1; }));
  EXPECT_FALSE(link_->ready());  // new requests wait for the next host
  EXPECT_FALSE(host_->closed);
  host_->answer(1, "done");
  ASSERT_TRUE(run_until([&] { return host_->closed; }));
  auto rec = sink_.wait_terminal(1, 0ms);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->body, "done");
  EXPECT_EQ(owner_.lost, 0);  // it left as it said: no failover
}

// A body gathered whole is read frame by frame onto the end of what came before (claim_payload):
// frames big (read in place) and tiny (many in one read), back to back or interleaved with another
// stream's, queued in one go, give each stream exactly its bytes in one event; one with and one
// without a content-length to size it by. A third goes over max_response_bytes after several frames.
TEST_F(ClientLinkTest, WholeBodiesGatheredFromInterleavedFramesAreByteExact) {
  open();
  RequestSpec sized = request(1);
  sized.whole_body = true;
  sized.decompress = false;
  RequestSpec unsized = request(2);
  unsized.whole_body = true;
  RequestSpec capped = request(3);
  capped.whole_body = true;
  capped.max_response_bytes = 500000;
  send(std::move(sized));
  send(std::move(unsized));
  send(std::move(capped));
  // Big ones straddle the reader's 256 KiB reads, so their rest is read in place.
  const std::vector<size_t> sizes = {3, 20000, 300000, 1, 1, 300000, 17, 65536, 5, 30000, 16384, 2};
  std::string expected[4];
  uint32_t seed = 7;
  auto piece = [&](size_t n) {
    std::string p(n, '\0');
    for (auto& c : p) c = static_cast<char>(seed = seed * 1103515245u + 12345u);
    return p;
  };
  for (size_t i = 0; i < sizes.size(); ++i) {
    for (uint64_t id : {1, 2, 3}) expected[id] += piece(sizes[i] + id);
  }
  ResponseHead head;
  head.status = 200;
  head.headers.push_back({"content-length", std::to_string(expected[1].size())});
  host_->link->send_stream(FrameType::kHead, 0, 1, mux::encode_head(head, ConnectionInfo{}));
  head.headers.clear();
  for (uint64_t id : {2, 3}) host_->link->send_stream(FrameType::kHead, 0, id, mux::encode_head(head, {}));
  size_t at[4] = {};
  auto body_frame = [&](uint64_t id, size_t i) {
    host_->link->send_stream(FrameType::kBody, 0, id, expected[id].substr(at[id], sizes[i] + id));
    at[id] += sizes[i] + id;
  };
  // Stream 1 alone: its frames back to back, each claiming what the ones before it brought.
  for (size_t i = 0; i < sizes.size(); ++i) body_frame(1, i);
  host_->link->send_stream(FrameType::kEnd, 0, 1, {});
  ASSERT_TRUE(run_until([&] { return sink_.wait_terminal(1, 0ms).has_value(); }));
  // Then 2's and 3's interleaved (the link takes one frame of each stream in turn).
  for (size_t i = 0; i < sizes.size(); ++i) {
    for (uint64_t id : {2, 3}) body_frame(id, i);
  }
  for (uint64_t id : {2, 3}) host_->link->send_stream(FrameType::kEnd, 0, id, {});
  for (uint64_t id : {2, 3}) {
    ASSERT_TRUE(run_until([&] { return sink_.wait_terminal(id, 0ms).has_value(); })) << id;
  }
  for (uint64_t id : {1, 2}) {
    auto rec = sink_.wait_terminal(id, 0ms);
    EXPECT_TRUE(rec->ended) << rec->describe();
    EXPECT_EQ(rec->body_events, 1u);
    EXPECT_EQ(rec->body.size(), expected[id].size());
    EXPECT_TRUE(rec->body == expected[id]) << "stream " << id << " differs";
  }
  auto rec = sink_.wait_terminal(3, 0ms);
  EXPECT_EQ(rec->code(), "ERR_BODY_TOO_LARGE") << rec->describe();
  EXPECT_TRUE(rec->body.empty());
  EXPECT_EQ(hub_->counters.streams.load(), 0u);
}

TEST_F(ClientLinkTest, AHostOfAnotherUserIsRefusedBeforeItHearsAWord) {
  share::HubOptions o = options();
  o.test.expected_peer_uid = ::geteuid() + 1;
  start(o);
  ASSERT_TRUE(run_until([&] { return !owner_.refused.empty(); }));
  EXPECT_NE(owner_.refused[0].find("refusing the engine host on " + path_ + ": it belongs to uid"),
            std::string::npos)
      << owner_.refused[0];
  ASSERT_TRUE(run_until([&] { return host_->closed; }));
  EXPECT_TRUE(host_->frames.empty());
  EXPECT_EQ(owner_.ready, 0);
}

TEST_F(ClientLinkTest, AHostThatNeverAnswersTheHandshakeIsNotOurs) {
  share::HubOptions o = options();
  o.handshake_timeout_ms = 50;
  start(o);
  host_->answer_hello = false;
  ASSERT_TRUE(run_until([&] { return !owner_.not_ours.empty(); }));
  EXPECT_EQ(owner_.not_ours[0], "it did not answer the link handshake within 50 ms");
  EXPECT_EQ(owner_.ready, 0);
}

}  // namespace
