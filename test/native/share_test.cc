// Tests for sharing one engine per port (native/share: secret file, election, the host serving
// other hubs over authenticated links, failover and handover) with several hubs in one process
// standing in for several processes: each hub has its own threads and sockets, exactly as it would
// in its own process. Real sockets on 127.0.0.1, a real upstream server (test_server.h).
//
// Every wait is bounded (kWait) and fails the test when hit; a watchdog aborts a hung test.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <ctime>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine_harness.h"
#include "mux/frame.h"
#include "share/hub.h"
#include "share/secret.h"

namespace {

using namespace ctn;
using namespace ctn_test;
using namespace std::chrono_literals;
using share::Hub;
using share::HubOptions;

std::string make_private_dir() {
  char tmpl[] = "/tmp/ctn-share-test-XXXXXX";
  const char* dir = ::mkdtemp(tmpl);
  if (dir == nullptr) throw std::runtime_error("mkdtemp failed");
  return dir;
}

// A port for a hub: below the kernel's ephemeral range (32768+), where ports of outgoing
// connections and of every port-0 listener live, so nothing else grabs it between our check and use.
uint16_t hub_port() {
  static std::mt19937 rng(static_cast<unsigned>(::getpid()) * 7919u + static_cast<unsigned>(::time(nullptr)));
  for (;;) {
    const uint16_t port = static_cast<uint16_t>(10000 + rng() % 22000);
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (free) return port;
  }
}

std::string ok_response(std::string_view body) {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

// A keep-alive server answering `body`; requests whose head contains `gate` (all when empty) wait
// until `release` is set.
Handler gated(std::atomic<bool>& release, std::string body, std::string gate = "/slow") {
  return [&release, body = std::move(body), gate = std::move(gate)](ServerConn& c) {
    std::string raw;
    while (c.read_request(&raw)) {
      if ((gate.empty() || raw.find(gate) != std::string::npos) && !c.wait_until([&] { return release.load(); })) return;
      if (!c.write(ok_response(body))) return;
    }
  };
}

// One hub with the sink that records what it reports.
struct Member {
  explicit Member(HubOptions options) : hub(std::make_unique<Hub>(std::move(options), sink)) {}
  ~Member() {
    if (hub) {
      hub->shutdown(false, nullptr);
      hub->join();
    }
  }
  // "host", "client" or "failed: ...": the first notice after start().
  std::string start() {
    hub->start();
    return sink.wait_notice(1);
  }
  void crash() {  // what the other hubs see when a host process dies: every socket closes at once
    hub->shutdown(false, nullptr);
    hub->join();
    hub.reset();
  }
  Sink sink;
  std::unique_ptr<Hub> hub;
};

class ShareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    watchdog_.arm(90s);
    dir_ = make_private_dir();
    port_ = hub_port();
  }
  void TearDown() override {
    members_.clear();
    std::filesystem::remove_all(dir_);
    watchdog_.disarm();
  }

  HubOptions options(const std::string& secret_name = "secret") {
    HubOptions o;
    o.port = port_;
    o.secret_path = dir_ + "/" + secret_name;
    o.handover_timeout_ms = 5000;
    o.handshake_timeout_ms = 500;
    o.ping_interval_ms = 100;
    o.ping_timeout_ms = 600;
    o.drain_grace_ms = 3000;
    return o;
  }
  Member& add(HubOptions o) {
    members_.push_back(std::make_unique<Member>(std::move(o)));
    return *members_.back();
  }
  Member& add() { return add(options()); }
  // A host, then a client of it (both started): the client's requests cross the link.
  Member& client_of_new_host() {
    Member& host = add();
    EXPECT_EQ(host.start(), "host");
    Member& client = add();
    EXPECT_EQ(client.start(), "client");
    return client;
  }

  RequestSpec get(uint16_t server_port, std::string target = "/", std::string method = "GET") {
    RequestSpec r;
    r.id = next_id_++;
    r.method = std::move(method);
    r.tls = false;
    r.host = "127.0.0.1";
    r.port = server_port;
    r.target = std::move(target);
    return r;
  }

  Watchdog watchdog_;
  std::string dir_;
  uint16_t port_ = 0;
  uint64_t next_id_ = 1;
  std::vector<std::unique_ptr<Member>> members_;
};

TEST(ShareSecret, CreatedPrivateThenReusedAndUnsafeOnesRefused) {
  const std::string dir = make_private_dir();
  const std::string path = dir + "/sub/link-secret";
  share::Secret a{}, b{};
  std::string why;
  ASSERT_TRUE(share::load_or_create_secret(path, &a, &why)) << why;
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir + "/sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_TRUE(share::load_or_create_secret(path, &b, &why)) << why;
  EXPECT_EQ(a, b);

  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  EXPECT_FALSE(share::load_or_create_secret(path, &b, &why));
  EXPECT_NE(why.find("mode must be 0600"), std::string::npos) << why;

  const std::string link = dir + "/sub/symlinked";
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  ASSERT_EQ(::symlink(path.c_str(), link.c_str()), 0);
  EXPECT_FALSE(share::load_or_create_secret(link, &b, &why));

  { std::ofstream(dir + "/sub/short") << "abc"; }
  ::chmod((dir + "/sub/short").c_str(), 0600);
  EXPECT_FALSE(share::load_or_create_secret(dir + "/sub/short", &b, &why));
  EXPECT_FALSE(share::load_or_create_secret("relative/path", &b, &why));
  std::filesystem::remove_all(dir);
}

TEST(ShareSecret, RacingCreatorsAgree) {
  const std::string dir = make_private_dir();
  std::vector<share::Secret> seen(16);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (size_t i = 0; i < seen.size(); ++i) {
    threads.emplace_back([&, i] {
      std::string why;
      if (!share::load_or_create_secret(dir + "/race", &seen[i], &why)) ++failures;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  for (const auto& s : seen) EXPECT_EQ(s, seen[0]);
  std::filesystem::remove_all(dir);
}

TEST_F(ShareTest, FirstHubHostsOthersAreClientsAndRequestsRoundTrip) {
  TestServer server(TestServer::respond_always(ok_response("hello over the link")));
  Member& host = add();
  ASSERT_EQ(host.start(), "host");
  Member& client = add();
  ASSERT_EQ(client.start(), "client");

  for (int i = 0; i < 20; ++i) {
    RequestSpec r = get(server.port(), "/n" + std::to_string(i));
    const uint64_t id = r.id;
    (i % 2 ? host : client).hub->submit(std::move(r));
    auto rec = (i % 2 ? host : client).sink.wait_terminal(id);
    ASSERT_TRUE(rec) << i;
    EXPECT_TRUE(rec->ended) << rec->describe();
    EXPECT_EQ(rec->head.status, 200);
    EXPECT_EQ(rec->body, "hello over the link");
  }
  const auto hs = host.hub->stats();
  EXPECT_STREQ(hs.role, "host");
  EXPECT_EQ(hs.peers_open, 1u);
  EXPECT_EQ(hs.engine.requests_started, 20u);  // the client's requests ran on the host's engine
  const auto cs = client.hub->stats();
  EXPECT_STREQ(cs.role, "client");
  EXPECT_STREQ(cs.link, "open");
  EXPECT_EQ(cs.host_pid, static_cast<uint64_t>(::getpid()));
  EXPECT_EQ(cs.engine.requests_started, 0u);
  host.sink.expect_consistent();
  client.sink.expect_consistent();
}

TEST_F(ShareTest, LargeBodiesInterleaveWithSmallOnesByteExact) {
  std::string big(6u << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 131) ^ (i >> 9));
  TestServer server([&](ServerConn& c) {
    std::string raw;
    while (c.read_request(&raw)) {
      if (!c.write(raw.find("/big") != std::string::npos ? ok_response(big) : ok_response("small"))) return;
    }
  });
  Member& host = add();
  ASSERT_EQ(host.start(), "host");
  Member& client = add();
  ASSERT_EQ(client.start(), "client");
  std::vector<uint64_t> bigs, smalls;
  for (int i = 0; i < 3; ++i) {
    RequestSpec r = get(server.port(), "/big");
    r.whole_body = i == 0;  // one gathered whole by the client, two streamed
    bigs.push_back(r.id);
    client.hub->submit(std::move(r));
  }
  for (int i = 0; i < 30; ++i) {
    RequestSpec r = get(server.port(), "/small");
    smalls.push_back(r.id);
    client.hub->submit(std::move(r));
  }
  for (uint64_t id : smalls) {
    auto rec = client.sink.wait_terminal(id);
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->body, "small");
  }
  for (size_t i = 0; i < bigs.size(); ++i) {
    auto rec = client.sink.wait_terminal(bigs[i]);
    ASSERT_TRUE(rec);
    ASSERT_TRUE(rec->ended) << rec->describe();
    EXPECT_TRUE(rec->body == big) << "big body " << i << " differs (" << rec->body.size() << " bytes)";
    if (i == 0) {
      EXPECT_EQ(rec->body_events, 1u);  // whole_body: one event
    }
  }
  client.sink.expect_consistent();
}

TEST_F(ShareTest, RequestBodiesCrossTheLinkIntact) {
  std::string upload(300000, '\0');
  for (size_t i = 0; i < upload.size(); ++i) upload[i] = static_cast<char>(i * 7);
  std::atomic<bool> matched{false};
  TestServer server([&](ServerConn& c) {
    std::string raw;
    while (c.read_request(&raw)) {
      const auto body_at = raw.find("\r\n\r\n");
      matched = body_at != std::string::npos && raw.substr(body_at + 4) == upload;
      if (!c.write(ok_response(matched ? "same" : "different"))) return;
    }
  });
  Member& client = client_of_new_host();
  RequestSpec r = get(server.port(), "/upload", "POST");
  r.body = upload;
  r.headers = {{"Content-Type", "application/octet-stream"}};
  const uint64_t id = r.id;
  client.hub->submit(std::move(r));
  auto rec = client.sink.wait_terminal(id);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->body, "same");
}

// A streamed body written by a client process reaches the host's upstream whole, and kSent comes
// back for all of it. An upgraded pipe works through the link both ways.
TEST_F(ShareTest, StreamedBodiesAndUpgradedPipesCrossTheLink) {
  std::string upload(700000, '\0');
  for (size_t i = 0; i < upload.size(); ++i) upload[i] = static_cast<char>(i * 13 + i / 977);
  TestServer server([&](ServerConn& c) {
    std::string head;
    if (!c.read_head(&head)) return;
    if (head.find("/pipe") != std::string::npos) {
      if (!c.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")) return;
      std::string got, b;
      while (got.size() < 5 && c.read_exact(1, &b)) got += b;
      c.write("echo:" + got);
      c.close();
      return;
    }
    const std::string length = header_value(head, "content-length");
    std::string body;
    if (!c.read_exact(std::strtoull(length.c_str(), nullptr, 10), &body)) return;
    c.write(ok_response(body == upload ? "same" : "different " + std::to_string(body.size())));
  });
  Member& client = client_of_new_host();
  RequestSpec r = get(server.port(), "/upload", "POST");
  r.body_stream = true;
  r.headers = {{"Content-Length", std::to_string(upload.size())}};
  const uint64_t id = r.id;
  client.hub->submit(std::move(r));
  for (size_t off = 0; off < upload.size(); off += 150000) client.hub->write_body(id, upload.substr(off, 150000), false);
  client.hub->write_body(id, {}, true);
  auto rec = client.sink.wait_terminal(id);
  ASSERT_TRUE(rec);
  EXPECT_TRUE(rec->ok()) << rec->describe();
  EXPECT_EQ(rec->body, "same");
  EXPECT_TRUE(client.sink.wait_record(id, [&](const Record& x) { return x.sent == upload.size(); }));

  RequestSpec p = get(server.port(), "/pipe");
  p.upgrade = true;
  p.headers = {{"Connection", "Upgrade"}, {"Upgrade", "x"}};
  const uint64_t pid = p.id;
  client.hub->submit(std::move(p));
  ASSERT_TRUE(client.sink.wait_head(pid));
  client.hub->write_body(pid, "hello", false);
  auto pr = client.sink.wait_terminal(pid);
  ASSERT_TRUE(pr);
  EXPECT_TRUE(pr->ok()) << pr->describe();
  EXPECT_EQ(pr->head.status, 101);
  EXPECT_EQ(pr->body, "echo:hello");
}

TEST_F(ShareTest, CancelOverTheLinkReachesTheHostsEngine) {
  TestServer server([](ServerConn& c) { c.stall(); });
  Member& host = add();
  ASSERT_EQ(host.start(), "host");
  Member& client = add();
  ASSERT_EQ(client.start(), "client");
  RequestSpec r = get(server.port());
  const uint64_t id = r.id;
  client.hub->submit(std::move(r));
  // Wait until the host's engine has it in flight, then cancel from the client.
  for (int i = 0; i < 500 && host.hub->stats().engine.requests_in_flight == 0; ++i) std::this_thread::sleep_for(2ms);
  ASSERT_EQ(host.hub->stats().engine.requests_in_flight, 1u);
  client.hub->cancel(id);
  auto rec = client.sink.wait_terminal(id);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->error->code, ErrorCode::kAborted);
  for (int i = 0; i < 500 && host.hub->stats().engine.requests_in_flight != 0; ++i) std::this_thread::sleep_for(2ms);
  EXPECT_EQ(host.hub->stats().engine.requests_in_flight, 0u);
}

TEST_F(ShareTest, HostCrashRetriesIdempotentRequestsAndANewHostTakesOver) {
  std::atomic<bool> release{false};
  TestServer server(gated(release, "served"));
  Member* host = &add();
  ASSERT_EQ(host->start(), "host");
  Member& b = add();
  ASSERT_EQ(b.start(), "client");
  Member& c = add();
  ASSERT_EQ(c.start(), "client");

  RequestSpec retryable = get(server.port(), "/slow");
  retryable.retry_on_host_gone = true;
  RequestSpec not_allowed = get(server.port(), "/slow");
  RequestSpec post = get(server.port(), "/slow", "POST");
  post.retry_on_host_gone = true;  // POST is not idempotent: never re-run
  const uint64_t r1 = retryable.id, r2 = not_allowed.id, r3 = post.id;
  b.hub->submit(std::move(retryable));
  b.hub->submit(std::move(not_allowed));
  b.hub->submit(std::move(post));
  for (int i = 0; i < 1000 && host->hub->stats().engine.requests_in_flight < 3; ++i) std::this_thread::sleep_for(2ms);
  ASSERT_EQ(host->hub->stats().engine.requests_in_flight, 3u);

  host->crash();
  release = true;
  auto a1 = b.sink.wait_terminal(r1);
  auto a2 = b.sink.wait_terminal(r2);
  auto a3 = b.sink.wait_terminal(r3);
  ASSERT_TRUE(a1 && a2 && a3);
  EXPECT_TRUE(a1->ended) << a1->describe();
  EXPECT_EQ(a1->body, "served");
  EXPECT_EQ(a2->error->code, ErrorCode::kHostGone) << a2->describe();
  EXPECT_EQ(a3->error->code, ErrorCode::kHostGone) << a3->describe();
  EXPECT_EQ(b.hub->stats().retried, 1u);

  // Exactly one of the survivors hosts now; the other is its client.
  for (int i = 0; i < 1000; ++i) {
    const std::string rb = b.hub->stats().role, rc = c.hub->stats().role;
    if ((rb == "host" && rc == "client" && std::string(c.hub->stats().link) == "open") ||
        (rc == "host" && rb == "client" && std::string(b.hub->stats().link) == "open")) break;
    std::this_thread::sleep_for(2ms);
  }
  const std::string rb = b.hub->stats().role, rc = c.hub->stats().role;
  EXPECT_TRUE((rb == "host") != (rc == "host")) << rb << " / " << rc;
  for (Member* m : {&b, &c}) {
    RequestSpec r = get(server.port(), "/after");
    const uint64_t id = r.id;
    m->hub->submit(std::move(r));
    auto rec = m->sink.wait_terminal(id);
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->body, "served") << rec->describe();
  }
  b.sink.expect_consistent();
  c.sink.expect_consistent();
}

TEST_F(ShareTest, GracefulHandoverLetsInFlightRequestsFinishOnTheOldHost) {
  std::atomic<bool> release{false};
  TestServer server(gated(release, "done"));
  Member& host = add();
  ASSERT_EQ(host.start(), "host");
  Member& b = add();
  ASSERT_EQ(b.start(), "client");
  RequestSpec slow = get(server.port(), "/slow", "POST");  // not retryable: must finish where it runs
  const uint64_t slow_id = slow.id;
  b.hub->submit(std::move(slow));
  for (int i = 0; i < 1000 && host.hub->stats().engine.requests_in_flight < 1; ++i) std::this_thread::sleep_for(2ms);

  std::atomic<bool> stopped{false};
  host.hub->shutdown(true, [&] { stopped = true; });
  // The client hears GOAWAY and takes the port while the old host still drains.
  ASSERT_EQ(b.sink.wait_notice(2), "host");
  RequestSpec fresh = get(server.port(), "/fresh");
  const uint64_t fresh_id = fresh.id;
  b.hub->submit(std::move(fresh));
  auto f = b.sink.wait_terminal(fresh_id);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->body, "done");
  EXPECT_FALSE(stopped.load());
  release = true;
  auto s = b.sink.wait_terminal(slow_id);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->ended) << s->describe();
  for (int i = 0; i < 1000 && !stopped; ++i) std::this_thread::sleep_for(2ms);
  EXPECT_TRUE(stopped.load());
}

TEST_F(ShareTest, ElectionRaceEndsWithExactlyOneHost) {
  for (int round = 0; round < 10; ++round) {
    members_.clear();
    port_ = hub_port();
    std::vector<Member*> ms;
    for (int i = 0; i < 6; ++i) ms.push_back(&add());
    for (Member* m : ms) m->hub->start();
    int hosts = 0, clients = 0;
    for (Member* m : ms) {
      const std::string n = m->sink.wait_notice(1);
      hosts += n == "host";
      clients += n == "client";
    }
    EXPECT_EQ(hosts, 1) << "round " << round;
    EXPECT_EQ(clients, 5) << "round " << round;
  }
}

TEST_F(ShareTest, APortHeldByAForeignServerFailsFast) {
  // Something that answers like an HTTP server.
  TestServer http(TestServer::respond_always("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"));
  port_ = http.port();
  Member& m = add();
  const std::string notice = m.start();
  EXPECT_EQ(notice.rfind("failed: port", 0), 0u) << notice;
  EXPECT_NE(notice.find("not a cycletls-native engine"), std::string::npos) << notice;

  // Something that accepts and says nothing.
  TestServer silent([](ServerConn& c) { c.stall(); });
  port_ = silent.port();
  Member& s = add();
  const auto started = std::chrono::steady_clock::now();
  const std::string notice2 = s.start();
  EXPECT_EQ(notice2.rfind("failed: port", 0), 0u) << notice2;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

TEST_F(ShareTest, AnotherUsersSecretIsRefusedAndTheHostKeepsServing) {
  TestServer server(TestServer::respond_always(ok_response("ok")));
  Member& host = add();
  ASSERT_EQ(host.start(), "host");
  Member& stranger = add(options("other-secret"));
  const std::string notice = stranger.start();
  EXPECT_EQ(notice.rfind("failed: port", 0), 0u) << notice;
  Member& friend_ = add();
  ASSERT_EQ(friend_.start(), "client");
  RequestSpec r = get(server.port());
  const uint64_t id = r.id;
  friend_.hub->submit(std::move(r));
  auto rec = friend_.sink.wait_terminal(id);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->body, "ok");
}

// True when the host closed `fd` within the timeout.
bool closed_by_peer(int fd, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  while (std::chrono::steady_clock::now() < until) {
    timeval tv{0, 20000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) return true;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return true;
  }
  return false;
}

TEST_F(ShareTest, ForeignBytesAreDroppedAndTheHostKeepsServing) {
  TestServer server(TestServer::respond_always(ok_response("still here")));
  Member& host = add();
  ASSERT_EQ(host.start(), "host");
  Member& client = add();
  ASSERT_EQ(client.start(), "client");

  const int garbage = connect_loopback(port_);
  ASSERT_GE(garbage, 0);
  const std::string http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(garbage, http.data(), http.size(), MSG_NOSIGNAL), static_cast<ssize_t>(http.size()));
  EXPECT_TRUE(closed_by_peer(garbage, 3s));
  ::close(garbage);

  const int oversized = connect_loopback(port_);
  const std::string header = std::string("\x7f\xff\xff\xff\x01\x00", 6);
  ::send(oversized, header.data(), header.size(), MSG_NOSIGNAL);
  EXPECT_TRUE(closed_by_peer(oversized, 3s));
  ::close(oversized);

  // A REQUEST before authenticating is refused too.
  const int early = connect_loopback(port_);
  const std::string req = mux::encode_frame(mux::FrameType::kRequest, mux::kEndStream, 1, "x");
  ::send(early, req.data(), req.size(), MSG_NOSIGNAL);
  EXPECT_TRUE(closed_by_peer(early, 3s));
  ::close(early);

  // Half-open: connects, never speaks; closed after the handshake deadline.
  const int silent = connect_loopback(port_);
  EXPECT_TRUE(closed_by_peer(silent, 5s));
  ::close(silent);

  EXPECT_GE(host.hub->stats().peers_refused, 4u);
  RequestSpec r = get(server.port());
  const uint64_t id = r.id;
  client.hub->submit(std::move(r));
  auto rec = client.sink.wait_terminal(id);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->body, "still here");
  bool warned = false;
  for (const auto& n : host.sink.notices()) warned |= n.rfind("warning: refused a connection", 0) == 0;
  EXPECT_TRUE(warned);
}

TEST_F(ShareTest, IdleLinkClosesAndReopensOnTheNextRequest) {
  TestServer server(TestServer::respond_always(ok_response("again")));
  Member& host = add();
  ASSERT_EQ(host.start(), "host");
  HubOptions o = options();
  o.link_idle_timeout_ms = 50;
  Member& client = add(o);
  ASSERT_EQ(client.start(), "client");
  for (int round = 0; round < 3; ++round) {
    RequestSpec r = get(server.port());
    const uint64_t id = r.id;
    client.hub->submit(std::move(r));
    auto rec = client.sink.wait_terminal(id);
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->body, "again");
    for (int i = 0; i < 1000 && std::string(client.hub->stats().link) != "idle"; ++i) std::this_thread::sleep_for(2ms);
    EXPECT_STREQ(client.hub->stats().link, "idle");
  }
  EXPECT_GE(client.hub->stats().links_established, 3u);
  for (int i = 0; i < 1000 && host.hub->stats().peers_open != 0; ++i) std::this_thread::sleep_for(2ms);
  EXPECT_EQ(host.hub->stats().peers_open, 0u);
}

// A streamed body written while its request waits for the link (idle-closed, reopening) is kept and
// sent once the request goes out; an empty body that only ends, too.
TEST_F(ShareTest, StreamedBodyWrittenWhileTheLinkReopensIsKept) {
  TestServer server([&](ServerConn& c) {
    std::string head, body;
    while (c.read_head(&head)) {
      const std::string length = header_value(head, "content-length");
      if (!c.read_exact(std::strtoull(length.c_str(), nullptr, 10), &body)) return;
      if (!c.write(ok_response("<" + body + ">"))) return;
    }
  });
  Member& host = add();
  ASSERT_EQ(host.start(), "host");
  HubOptions o = options();
  o.link_idle_timeout_ms = 30;
  Member& client = add(o);
  ASSERT_EQ(client.start(), "client");
  for (const std::string& payload : {std::string("early pieces"), std::string()}) {
    for (int i = 0; i < 1000 && std::string(client.hub->stats().link) != "idle"; ++i) std::this_thread::sleep_for(2ms);
    ASSERT_STREQ(client.hub->stats().link, "idle");
    RequestSpec r = get(server.port(), "/late", "PUT");
    r.body_stream = true;
    r.headers = {{"Content-Length", std::to_string(payload.size())}};
    const uint64_t id = r.id;
    client.hub->submit(std::move(r));
    if (!payload.empty()) {
      client.hub->write_body(id, payload.substr(0, 5), false);
      client.hub->write_body(id, payload.substr(5), false);
    }
    client.hub->write_body(id, {}, true);
    auto rec = client.sink.wait_terminal(id);
    ASSERT_TRUE(rec);
    EXPECT_TRUE(rec->ok()) << rec->describe();
    EXPECT_EQ(rec->body, "<" + payload + ">");
  }
}

TEST_F(ShareTest, ClientLeavingCancelsOnlyItsOwnRequests) {
  std::atomic<bool> release{false};
  TestServer server(gated(release, "kept", ""));
  Member& host = add();
  ASSERT_EQ(host.start(), "host");
  Member& a = add();
  ASSERT_EQ(a.start(), "client");
  Member& b = add();
  ASSERT_EQ(b.start(), "client");
  RequestSpec ra = get(server.port()), rb = get(server.port());
  const uint64_t ida = ra.id, idb = rb.id;
  a.hub->submit(std::move(ra));
  b.hub->submit(std::move(rb));
  for (int i = 0; i < 1000 && host.hub->stats().engine.requests_in_flight < 2; ++i) std::this_thread::sleep_for(2ms);
  ASSERT_EQ(host.hub->stats().engine.requests_in_flight, 2u);
  a.crash();  // the client process dies
  for (int i = 0; i < 1000 && host.hub->stats().engine.requests_in_flight != 1; ++i) std::this_thread::sleep_for(2ms);
  EXPECT_EQ(host.hub->stats().engine.requests_in_flight, 1u);
  release = true;
  auto rec = b.sink.wait_terminal(idb);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->body, "kept");
  (void)ida;
}

}  // namespace
