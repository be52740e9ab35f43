// Tests for sharing one engine per port (native/share: the socket directory and election, the host
// serving other hubs over Unix-socket links checked by the kernel, failover and handover, the
// limits and fault containment of the host's peer state machine) with several hubs in one process
// standing in for several processes: each hub has its own threads and sockets, exactly as it would
// in its own process. Every test has its own private socket directory. Real sockets, a real
// upstream server (test_server.h); processes of another user are real children under uid 65534
// (the tests run as root; they skip otherwise).
//
// Every wait is bounded (kWait) and fails the test when hit; a watchdog aborts a hung test.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine_harness.h"
#include "hub_peer_driver.h"
#include "mux/frame.h"
#include "share/endpoint.h"
#include "share/hub.h"
#include "share/messages.h"

namespace {

using namespace ctn;
using namespace ctn_test;
using namespace std::chrono_literals;
using share::Hub;
using share::HubOptions;

constexpr uid_t kNobody = 65534;

std::string make_private_dir() {
  char tmpl[] = "/tmp/ctn-share-test-XXXXXX";
  const char* dir = ::mkdtemp(tmpl);  // mode 0700
  if (dir == nullptr) throw std::runtime_error("mkdtemp failed");
  return dir;
}

std::string ok_response(std::string_view body) {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::string(std::to_string(body.size())) + "\r\n\r\n" +
         std::string(body);
}

// A keep-alive server answering `body`; requests whose head contains `gate` (all when empty) wait
// until `release` is set.
Handler gated(std::atomic<bool>& release, std::string body, std::string gate = "/slow") {
  return [&release, body = std::move(body), gate = std::move(gate)](ServerConn& c) {
    std::string raw;
    while (c.read_request(&raw)) {
      if ((gate.empty() || raw.find(gate) != std::string::npos) &&
          !c.wait_until([&] { return release.load(); }))
        return;
      if (!c.write(ok_response(body))) return;
    }
  };
}

// A listening Unix socket on `path`, or -1. Async-signal-safe (used in forked children too).
int listen_unix(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, path.c_str(), std::min(path.size(), sizeof a.sun_path - 1));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 16) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// A socket file whose process died (bound, never unlinked): nothing accepts on it any more.
void leave_stale_socket(const std::string& path) {
  const int fd = listen_unix(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  ASSERT_TRUE(std::filesystem::is_socket(path));
}

// One hub with the sink that records what it reports (and the code of a "failed" notice).
struct Member {
  explicit Member(HubOptions options) : hub(std::make_unique<Hub>(std::move(options), sink)) {
    sink.hook = [this](const Event& e) {
      if (e.kind == Event::Kind::kNotice && e.notice == "failed") failed_code = e.error.code;
    };
  }
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
  std::atomic<ErrorCode> failed_code{ErrorCode::kInternal};
  std::unique_ptr<Hub> hub;
};

class ShareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    watchdog_.arm(90s);
    dir_ = make_private_dir();
  }
  void TearDown() override {
    members_.clear();
    std::filesystem::remove_all(dir_);
    watchdog_.disarm();
  }

  HubOptions options() {
    HubOptions o;
    o.port = port_;
    o.socket_dir = dir_;
    o.handover_timeout_ms = 5000;
    o.handshake_timeout_ms = 500;
    o.ping_interval_ms = 100;
    o.ping_timeout_ms = 600;
    o.drain_grace_ms = 3000;
    return o;
  }
  std::string sock() const { return share::socket_path(dir_, port_); }
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
  uint64_t submit(Member& m, uint16_t server_port, std::string target) {
    RequestSpec r = get(server_port, std::move(target));
    const uint64_t id = r.id;
    m.hub->submit(std::move(r));
    return id;
  }
  // Requests `ids` of `m` failed with ERR_INTERNAL saying `what`.
  void expect_internal(Member& m, std::initializer_list<uint64_t> ids, const std::string& what) {
    for (uint64_t id : ids) {
      auto rec = m.sink.wait_terminal(id);
      ASSERT_TRUE(rec);
      EXPECT_EQ(rec->code(), "ERR_INTERNAL") << rec->describe();
      EXPECT_NE(rec->describe().find(what), std::string::npos) << rec->describe();
    }
  }
  void wait_engine_in_flight(Member& host, uint64_t n) {
    for (int i = 0; i < 1000 && host.hub->stats().engine.requests_in_flight != n; ++i)
      std::this_thread::sleep_for(2ms);
    EXPECT_EQ(host.hub->stats().engine.requests_in_flight, n);
  }
  // Six hubs started at once, ten times, each time on a fresh port; `stale` leaves a dead host's
  // socket file there first. Exactly one of them hosts every time.
  void expect_one_host_of_six(bool stale) {
    for (int round = 0; round < 10; ++round) {
      members_.clear();
      ++port_;
      if (stale) leave_stale_socket(sock());
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
  // A request from `m` that must come back with `body`.
  void expect_served(Member& m, uint16_t server_port, const std::string& body) {
    RequestSpec r = get(server_port);
    const uint64_t id = r.id;
    m.hub->submit(std::move(r));
    auto rec = m.sink.wait_terminal(id);
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->body, body) << rec->describe();
  }

  Watchdog watchdog_;
  std::string dir_;
  uint16_t port_ = 9119;  // no TCP any more: every test's directory is its own namespace of ports
  uint64_t next_id_ = 1;
  std::vector<std::unique_ptr<Member>> members_;
};

// Runs `child` in a forked process under uid/gid 65534 and returns its pid. The child may only use
// async-signal-safe calls (the parent has threads); it exits with the code `child` returns.
pid_t fork_as_nobody(const std::function<int()>& child) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) ::_exit(90);
    ::_exit(child());
  }
  return pid;
}

int exit_code(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(SocketDir, CreatedPrivateAndUnsafeOnesRefusedWithTheReason) {
  const std::string root = make_private_dir();
  std::string why;
  // The default layout creates a missing parent, both 0700.
  const std::string dir = root + "/home/run";
  ASSERT_TRUE(share::ensure_socket_dir(dir, &why)) << why;
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((root + "/home").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_TRUE(share::ensure_socket_dir(dir, &why)) << why;

  ASSERT_EQ(::chmod(dir.c_str(), 0777), 0);
  EXPECT_FALSE(share::ensure_socket_dir(dir, &why));
  EXPECT_NE(why.find(dir + " has mode 0777"), std::string::npos) << why;
  ASSERT_EQ(::chmod(dir.c_str(), 0750), 0);
  EXPECT_FALSE(share::ensure_socket_dir(dir, &why));
  ASSERT_EQ(::chmod(dir.c_str(), 0700), 0);

  const std::string link = root + "/linked";
  ASSERT_EQ(::symlink(dir.c_str(), link.c_str()), 0);
  EXPECT_FALSE(share::ensure_socket_dir(link, &why));
  EXPECT_NE(why.find("symbolic link"), std::string::npos) << why;

  const std::string file = root + "/file";
  ::close(::open(file.c_str(), O_CREAT | O_WRONLY, 0600));
  EXPECT_FALSE(share::ensure_socket_dir(file, &why));
  EXPECT_FALSE(share::ensure_socket_dir("relative/dir", &why));

  if (::geteuid() == 0) {
    ASSERT_EQ(::chown(dir.c_str(), kNobody, kNobody), 0);
    EXPECT_FALSE(share::ensure_socket_dir(dir, &why));
    EXPECT_NE(why.find("belongs to uid 65534"), std::string::npos) << why;
  }
  std::filesystem::remove_all(root);
}

TEST_F(ShareTest, AnUnsafeDirectoryOrAForeignSocketIsRefusedAtInitWithShareSecret) {
  ASSERT_EQ(::chmod(dir_.c_str(), 0777), 0);
  Member& open_dir = add();
  std::string notice = open_dir.start();
  EXPECT_EQ(notice.rfind("failed: the socket directory " + dir_ + " has mode 0777", 0), 0u) << notice;
  EXPECT_EQ(open_dir.failed_code.load(), ErrorCode::kShareSecret);
  ASSERT_EQ(::chmod(dir_.c_str(), 0700), 0);

  // Something that is not a socket where the socket should be: never removed, never used.
  ::close(::open(sock().c_str(), O_CREAT | O_WRONLY, 0600));
  Member& not_socket = add();
  notice = not_socket.start();
  EXPECT_NE(notice.find(sock() + " exists and is not a socket"), std::string::npos) << notice;
  EXPECT_EQ(not_socket.failed_code.load(), ErrorCode::kShareSecret);
  EXPECT_TRUE(std::filesystem::exists(sock()));
  ::unlink(sock().c_str());

  if (::geteuid() != 0) GTEST_SKIP() << "needs root to own files as another user";
  ASSERT_EQ(::chown(dir_.c_str(), kNobody, kNobody), 0);
  Member& foreign_dir = add();
  notice = foreign_dir.start();
  EXPECT_NE(notice.find("belongs to uid 65534, not to this user"), std::string::npos) << notice;
  EXPECT_EQ(foreign_dir.failed_code.load(), ErrorCode::kShareSecret);
  ASSERT_EQ(::chown(dir_.c_str(), 0, 0), 0);

  // A stale socket file of another user: not ours to remove.
  leave_stale_socket(sock());
  ASSERT_EQ(::lchown(sock().c_str(), kNobody, kNobody), 0);
  Member& foreign_socket = add();
  notice = foreign_socket.start();
  EXPECT_NE(notice.find(sock() + " is a socket of uid 65534"), std::string::npos) << notice;
  EXPECT_EQ(foreign_socket.failed_code.load(), ErrorCode::kShareSecret);
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
  for (size_t off = 0; off < upload.size(); off += 150000)
    client.hub->write_body(id, upload.substr(off, 150000), false);
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
  for (int i = 0; i < 500 && host.hub->stats().engine.requests_in_flight == 0; ++i)
    std::this_thread::sleep_for(2ms);
  ASSERT_EQ(host.hub->stats().engine.requests_in_flight, 1u);
  client.hub->cancel(id);
  auto rec = client.sink.wait_terminal(id);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->error->code, ErrorCode::kAborted);
  for (int i = 0; i < 500 && host.hub->stats().engine.requests_in_flight != 0; ++i)
    std::this_thread::sleep_for(2ms);
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
  for (int i = 0; i < 1000 && host->hub->stats().engine.requests_in_flight < 3; ++i)
    std::this_thread::sleep_for(2ms);
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
        (rc == "host" && rb == "client" && std::string(b.hub->stats().link) == "open"))
      break;
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
  for (int i = 0; i < 1000 && host.hub->stats().engine.requests_in_flight < 1; ++i)
    std::this_thread::sleep_for(2ms);

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

TEST_F(ShareTest, ElectionRaceEndsWithExactlyOneHost) { expect_one_host_of_six(false); }

TEST_F(ShareTest, HubsRacingOverAStaleSocketEndWithExactlyOneHost) { expect_one_host_of_six(true); }

// The lock is what makes replacing a stale socket safe: while another process holds it (probing,
// unlinking, binding), nobody else touches the socket; once it is released, the stale socket is
// replaced.
TEST_F(ShareTest, AStaleSocketIsReplacedOnlyUnderTheLock) {
  leave_stale_socket(sock());
  const std::string lock_path = dir_ + "/" + std::to_string(port_) + ".lock";
  const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_EQ(::flock(lock_fd, LOCK_EX), 0);
  Member& m = add();
  m.hub->start();
  std::this_thread::sleep_for(100ms);  // it is blocked on the lock: nothing decided, nothing removed
  EXPECT_TRUE(m.sink.notices().empty());
  EXPECT_STREQ(m.hub->stats().role, "electing");
  ::close(lock_fd);
  EXPECT_EQ(m.sink.wait_notice(1), "host");
  Member& client = add();
  EXPECT_EQ(client.start(), "client");
}

// A listener that is not ours on the socket path (in a directory we own): an HTTP server, a
// silent one.
class ForeignUnixServer {
 public:
  ForeignUnixServer(const std::string& path, std::string greeting) : greeting_(std::move(greeting)) {
    fd_ = listen_unix(path);
    if (fd_ < 0) throw std::runtime_error("cannot listen on " + path);
    thread_ = std::thread([this] {
      for (;;) {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        if (!greeting_.empty()) ::send(c, greeting_.data(), greeting_.size(), MSG_NOSIGNAL);
        conns_.push_back(c);
      }
    });
  }
  ~ForeignUnixServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    for (int c : conns_) ::close(c);
  }

 private:
  int fd_;
  std::string greeting_;
  std::thread thread_;
  std::vector<int> conns_;
};

TEST_F(ShareTest, ASocketHeldByAForeignServerFailsFast) {
  {
    ForeignUnixServer http(sock(), "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    Member& m = add();
    const std::string notice = m.start();
    EXPECT_EQ(notice.rfind("failed: port", 0), 0u) << notice;
    EXPECT_NE(notice.find("not a cycletls-native engine"), std::string::npos) << notice;
  }
  ::unlink(sock().c_str());
  ForeignUnixServer silent(sock(), "");
  Member& s = add();
  const auto started = std::chrono::steady_clock::now();
  const std::string notice2 = s.start();
  EXPECT_EQ(notice2.rfind("failed: port", 0), 0u) << notice2;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

// SO_PEERCRED both ways, with the expected uid injected: a host that expects another user drops
// our client at accept; a client that expects another user refuses our host before a byte goes.
TEST_F(ShareTest, BothEndsCheckThePeersUidBeforeAnyRequestCrosses) {
  TestServer server(TestServer::respond_always(ok_response("ok")));
  HubOptions picky = options();
  picky.test.expected_peer_uid = ::geteuid() + 1;
  Member& host = add(picky);
  ASSERT_EQ(host.start(), "host");
  Member& client = add();
  const std::string notice = client.start();
  EXPECT_EQ(notice.rfind("failed: port", 0), 0u) << notice;
  EXPECT_GE(host.hub->stats().peers_refused, 1u);
  EXPECT_EQ(host.hub->stats().peers_accepted, 0u);
  bool warned = false;
  for (const auto& n : host.sink.notices())
    warned |= n.find("it belongs to uid " + std::to_string(::geteuid())) != std::string::npos;
  EXPECT_TRUE(warned);
  members_.clear();

  Member& honest = add();
  ASSERT_EQ(honest.start(), "host");
  Member& suspicious = add(picky);
  const std::string refused = suspicious.start();
  EXPECT_NE(refused.find("refusing the engine host on " + sock() + ": it belongs to uid"), std::string::npos)
      << refused;
  EXPECT_EQ(suspicious.failed_code.load(), ErrorCode::kShareSecret);
  EXPECT_EQ(honest.hub->stats().peers_accepted, 0u);
  expect_served(honest, server.port(), "ok");
}

// A real process of another user that gets a connection to the host (the directory opened for
// the test) is dropped at accept, before it can say HELLO, and gets nothing.
TEST_F(ShareTest, AProcessOfAnotherUserIsDroppedAtAccept) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a child as another user";
  TestServer server(TestServer::respond_always(ok_response("mine")));
  Member& host = add();
  ASSERT_EQ(host.start(), "host");
  // Opened after the election's check (connecting needs write access to the socket file as well):
  // only the kernel's check remains.
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(sock().c_str(), 0777), 0);
  const std::string path = sock();
  const std::string hello = [] {
    mux::Hello h;
    h.version = mux::kProtocolVersion;
    return mux::encode_frame(mux::FrameType::kHello, 0, 0, mux::encode_hello(h));
  }();
  const pid_t child = fork_as_nobody([&] {
    const int fd = connect_unix(path);
    if (fd < 0) return 2;
    ::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL);
    char buf[256];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);  // READY would be a failure: expect the close
    return n == 0 || n < 0 ? 0 : 3;
  });
  EXPECT_EQ(exit_code(child), 0);
  ::chmod(dir_.c_str(), 0700);
  EXPECT_EQ(host.hub->stats().peers_accepted, 0u);
  EXPECT_GE(host.hub->stats().peers_refused, 1u);
  Member& client = add();
  ASSERT_EQ(client.start(), "client");
  expect_served(client, server.port(), "mine");
}

// The relay attack on the old TCP link: another user's process sits on the socket our client
// wants and relays to our real host (connected before it dropped to its own uid). The client
// sees the relay's uid and refuses it: no request ever crosses, not one byte reaches the relay.
TEST_F(ShareTest, ARelayOfAnotherUserInFrontOfARealHostNeverCarriesARequest) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a child as another user";
  TestServer server(TestServer::respond_always(ok_response("secret data")));
  Member& host = add();
  ASSERT_EQ(host.start(), "host");
  const std::string host_path = sock();
  const uint16_t relay_port = port_ + 1;
  const std::string relay_path = share::socket_path(dir_, relay_port);
  // The relay's own directory, where it (uid 65534) can create its socket; moved into place after.
  const std::string relay_dir = make_private_dir();
  ASSERT_EQ(::chown(relay_dir.c_str(), kNobody, kNobody), 0);
  const std::string relay_tmp = relay_dir + "/relay.sock";
  int report[2];
  ASSERT_EQ(::pipe(report), 0);
  int ready[2], stop[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(stop), 0);
  const int upstream = connect_unix(host_path);  // as root, the host's own user
  ASSERT_GE(upstream, 0);
  const pid_t relay = fork_as_nobody([&]() -> int {
    ::close(stop[1]);  // so that the test closing its end reads as "stop"
    const int lfd = listen_unix(relay_tmp);
    if (lfd < 0) return 2;
    ::write(ready[1], "r", 1);
    // Every connection in turn (an election's liveness probe is one), until the test says stop.
    uint64_t from_victim = 0;
    char buf[65536];
    for (;;) {
      pollfd l[2] = {{lfd, POLLIN, 0}, {stop[0], POLLIN, 0}};
      if (::poll(l, 2, 10000) <= 0 || l[1].revents) break;
      const int victim = ::accept(lfd, nullptr, nullptr);
      if (victim < 0) return 3;
      for (;;) {
        pollfd p[2] = {{victim, POLLIN, 0}, {upstream, POLLIN, 0}};
        if (::poll(p, 2, 3000) <= 0) break;
        if (p[0].revents) {
          const ssize_t n = ::read(victim, buf, sizeof buf);
          if (n <= 0) break;
          from_victim += static_cast<uint64_t>(n);
          ::write(upstream, buf, static_cast<size_t>(n));
        }
        if (p[1].revents) {
          const ssize_t n = ::read(upstream, buf, sizeof buf);
          if (n <= 0) break;
          ::write(victim, buf, static_cast<size_t>(n));
        }
      }
      ::close(victim);
    }
    ::write(report[1], &from_victim, sizeof from_victim);
    return 0;
  });
  ::close(upstream);
  ::close(ready[1]);
  ::close(report[1]);
  ::close(stop[0]);
  char r = 0;
  ASSERT_EQ(::read(ready[0], &r, 1), 1) << "relay exit " << exit_code(relay);
  ASSERT_EQ(::rename(relay_tmp.c_str(), relay_path.c_str()), 0);

  HubOptions victim_options = options();
  victim_options.port = relay_port;
  // The socket file is the relay's: refused before connecting.
  Member& wary = add(victim_options);
  const std::string file_refused = wary.start();
  EXPECT_NE(file_refused.find(relay_path + " is a socket of uid 65534"), std::string::npos) << file_refused;
  EXPECT_EQ(wary.failed_code.load(), ErrorCode::kShareSecret);
  // Even a socket file that looks like ours: the kernel says who listens on it.
  ASSERT_EQ(::lchown(relay_path.c_str(), 0, 0), 0);
  Member& victim = add(victim_options);
  const std::string notice = victim.start();
  EXPECT_NE(notice.find("it belongs to uid 65534, not to this user"), std::string::npos) << notice;
  EXPECT_EQ(victim.failed_code.load(), ErrorCode::kShareSecret);
  RequestSpec req = get(server.port(), "/cookie");
  req.headers = {{"Cookie", "session=victim"}};
  const uint64_t id = req.id;
  victim.hub->submit(std::move(req));
  // It fails, or (once the relay has gone and left a stale socket) runs on the victim's own engine.
  ASSERT_TRUE(victim.sink.wait_terminal(id));
  members_.pop_back();
  ::close(stop[1]);  // the victim leaves; the relay sees its side close
  EXPECT_EQ(exit_code(relay), 0);
  uint64_t from_victim = ~uint64_t{0};
  ASSERT_EQ(::read(report[0], &from_victim, sizeof from_victim), static_cast<ssize_t>(sizeof from_victim));
  EXPECT_EQ(from_victim, 0u);
  EXPECT_EQ(host.hub->stats().engine.requests_started, 0u);
  for (int fd : {report[0], ready[0]}) ::close(fd);
  std::filesystem::remove_all(relay_dir);
}

// Processes of this user are trusted by the kernel, so there is no small pool of handshake slots
// to fill: 200 connections that never say a word do not keep a new process out.
TEST_F(ShareTest, TwoHundredIdleConnectionsDoNotKeepANewClientOut) {
  TestServer server(TestServer::respond_always(ok_response("joined")));
  Member& host = add();
  ASSERT_EQ(host.start(), "host");
  std::vector<int> idle;
  for (int i = 0; i < 200; ++i) {
    const int fd = connect_unix(sock());
    ASSERT_GE(fd, 0) << i;
    idle.push_back(fd);
  }
  Member& client = add();
  ASSERT_EQ(client.start(), "client");
  expect_served(client, server.port(), "joined");
  for (int fd : idle) ::close(fd);
}

// At the connection cap, silent connections make room for one that speaks.
TEST_F(ShareTest, AtThePeerCapTheOldestSilentConnectionIsEvicted) {
  TestServer server(TestServer::respond_always(ok_response("room")));
  HubOptions o = options();
  o.peer_limits.max_peers = 8;
  Member& host = add(o);
  ASSERT_EQ(host.start(), "host");
  std::vector<std::unique_ptr<RawPeer>> idle;
  for (int i = 0; i < 8; ++i) idle.push_back(std::make_unique<RawPeer>(sock()));
  Member& client = add();
  ASSERT_EQ(client.start(), "client");
  expect_served(client, server.port(), "room");
  EXPECT_TRUE(idle.front()->closed_by_host(3s));
}

TEST_F(ShareTest, ForeignBytesAreDroppedAndTheHostKeepsServing) {
  TestServer server(TestServer::respond_always(ok_response("still here")));
  Member& host = add();
  ASSERT_EQ(host.start(), "host");
  Member& client = add();
  ASSERT_EQ(client.start(), "client");

  RawPeer garbage(sock());
  ASSERT_TRUE(garbage.send_raw("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(garbage.closed_by_host(3s));

  RawPeer oversized(sock());
  oversized.send_raw(std::string("\x7f\xff\xff\xff\x01\x00", 6));
  EXPECT_TRUE(oversized.closed_by_host(3s));

  // A REQUEST before HELLO is refused too.
  RawPeer early(sock());
  early.send(mux::FrameType::kRequest, mux::kEndStream, 1, "x");
  EXPECT_TRUE(early.closed_by_host(3s));

  // Half-open: connects, never speaks; closed after the handshake deadline.
  RawPeer silent(sock());
  EXPECT_TRUE(silent.closed_by_host(5s));

  EXPECT_GE(host.hub->stats().peers_refused, 4u);
  expect_served(client, server.port(), "still here");
  bool warned = false;
  for (const auto& n : host.sink.notices()) warned |= n.rfind("warning: refused a connection", 0) == 0;
  EXPECT_TRUE(warned);
}

// ---- what one peer may ask of the host: each breach closes that peer's link only ----

class PeerLimitsTest : public ShareTest {
 protected:
  // A host with `limits`, a well-behaved client of it, and a raw peer that has said HELLO.
  void start(share::PeerLimits limits) {
    server_ = std::make_unique<TestServer>(TestServer::respond_always(ok_response("unaffected")));
    HubOptions o = options();
    o.peer_limits = limits;
    host_ = &add(o);
    ASSERT_EQ(host_->start(), "host");
    client_ = &add();
    ASSERT_EQ(client_->start(), "client");
    peer_ = std::make_unique<RawPeer>(sock());
    ASSERT_TRUE(peer_->handshake());
  }
  std::string request(uint64_t body_size) {
    RequestSpec r = get(server_->port());
    r.body.assign(std::min<uint64_t>(body_size, 1), 'x');
    std::string p = mux::encode_request(r);
    if (body_size > 1) {  // patch the announced size (the u64 before server_name, profile, ...)
      const std::string zero = mux::encode_request(get(server_->port()));
      size_t at = 0;
      while (zero[at] == p[at]) ++at;
      for (int i = 0; i < 8; ++i) p[at - 7 + i] = static_cast<char>((body_size >> (8 * (7 - i))) & 0xff);
    }
    return p;
  }
  // The raw peer was closed with a warning naming `what`, and the client was not affected.
  void expect_only_the_peer_closed(const std::string& what) {
    EXPECT_TRUE(peer_->closed_by_host(5s));
    bool warned = false;
    for (int i = 0; i < 500 && !warned; ++i) {
      for (const auto& n : host_->sink.notices()) warned |= n.find(what) != std::string::npos;
      if (!warned) std::this_thread::sleep_for(2ms);
    }
    EXPECT_TRUE(warned) << what;
    expect_served(*client_, server_->port(), "unaffected");
    EXPECT_STREQ(client_->hub->stats().link, "open");
  }

  std::unique_ptr<TestServer> server_;
  Member* host_ = nullptr;
  Member* client_ = nullptr;
  std::unique_ptr<RawPeer> peer_;
};

TEST_F(PeerLimitsTest, AnAnnouncedBodyOverTheCapClosesThatPeer) {
  share::PeerLimits limits;
  limits.max_request_body = 1000;
  start(limits);
  peer_->send(mux::FrameType::kRequest, 0, 1, request(uint64_t{1} << 40));
  expect_only_the_peer_closed("REQUEST announces a body of 1099511627776 bytes (at most 1000)");
}

TEST_F(PeerLimitsTest, BodiesBeingGatheredOverThePeersCapCloseThatPeer) {
  share::PeerLimits limits;
  limits.max_request_body = 1000;
  limits.max_buffered_body = 2500;
  start(limits);
  for (uint64_t stream = 1; stream <= 3; ++stream)
    peer_->send(mux::FrameType::kRequest, 0, stream, request(1000));
  expect_only_the_peer_closed("REQUEST bodies being gathered would exceed 2500 bytes");
}

TEST_F(PeerLimitsTest, AnOversizedPingClosesThatPeer) {
  start({});
  peer_->send(mux::FrameType::kPing, 0, 0, std::string(65, 'p'));
  expect_only_the_peer_closed("PING of 65 bytes (at most 64)");
}

TEST_F(PeerLimitsTest, TooManyStreamsCloseThatPeer) {
  share::PeerLimits limits;
  limits.max_streams = 16;
  start(limits);
  // Requests whose bodies never come stay in flight.
  for (uint64_t stream = 1; stream <= 17; ++stream)
    peer_->send(mux::FrameType::kRequest, 0, stream, request(10));
  expect_only_the_peer_closed("more than 16 requests in flight");
}

TEST_F(PeerLimitsTest, APeerThatPingsButNeverReadsIsClosedAtTheControlQueueCap) {
  share::PeerLimits limits;
  limits.max_control_bytes = 64u << 10;
  start(limits);
  // PONGs pile up once the socket buffers are full; the queue stops at the cap.
  const std::string ping = mux::encode_frame(mux::FrameType::kPing, 0, 0, std::string(64, 'p'));
  std::string burst;
  for (int i = 0; i < 1000; ++i) burst += ping;
  const auto until = std::chrono::steady_clock::now() + 10s;
  bool closed = false;
  while (!closed && std::chrono::steady_clock::now() < until) {
    pollfd p{peer_->fd(), POLLOUT, 0};
    if (::poll(&p, 1, 50) > 0 && (p.revents & (POLLERR | POLLHUP))) closed = true;
    if (!closed && (p.revents & POLLOUT) &&
        ::send(peer_->fd(), burst.data(), burst.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN) {
      closed = true;
    }
    for (const auto& n : host_->sink.notices()) closed |= n.find("does not read") != std::string::npos;
  }
  EXPECT_TRUE(closed);
  expect_only_the_peer_closed("over 65536 bytes of link-level frames queued");
}

// ---- frame-sequence fuzzing, deterministic: the host keeps serving another peer ----

TEST(HubPeerFuzz, SeededFrameSequencesLeaveTheHostServingOthers) {
  Watchdog watchdog;
  watchdog.arm(240s);
  HubPeerDriver driver;
  std::mt19937 rng(20261206);
  // Seeds: a handful of meaningful scripts, then random mutations of them.
  auto rec = [](uint8_t op, uint8_t stream, std::string data) {
    std::string r;
    r += static_cast<char>(op);
    r += static_cast<char>(stream);
    r += static_cast<char>(data.size() & 0xff);
    r += static_cast<char>(data.size() >> 8);
    return r + data;
  };
  const uint8_t kWellFormed = 0x40, kEnd = 0x20;
  std::vector<std::string> seeds = {
      std::string(1, '\0') + rec(5 | kWellFormed | kEnd, 1, std::string(3, '\0')),  // GET
      std::string(1, '\0') + rec(5 | kWellFormed, 1, "\x00\x00\x10") + rec(6 | kEnd, 1, std::string(16, 'b')),
      std::string(1, '\0') + rec(5 | kWellFormed, 2, "\x01") + rec(6, 2, "abc") +
          rec(11, 2, ""),  // stream + cancel
      std::string(1, '\0') + rec(12 | kWellFormed, 1, "\xff\xff\xff\xff") + rec(13 | kWellFormed, 0, "\x01"),
      std::string(1, '\0') + rec(16 | kWellFormed, 3, "\x01\x02") + rec(15, 0, "bye"),
      std::string(1, '\1') + rec(5 | kWellFormed, 1, "") + rec(1 | kWellFormed, 0, "\x01"),  // no HELLO first
      std::string(1, '\0') + rec(5 | kWellFormed, 1, "\x02\x7f") + rec(0x80, 0, "\x00\x00\x00\x01\x02"),
  };
  const int kRuns = 3000;
  for (int run = 0; run < kRuns; ++run) {
    std::string input = seeds[run % seeds.size()];
    const int mutations = static_cast<int>(rng() % 6);
    for (int m = 0; m < mutations && !input.empty(); ++m) {
      switch (rng() % 4) {
        case 0:
          input[rng() % input.size()] = static_cast<char>(rng());
          break;  // flip a byte
        case 1:
          input.insert(rng() % input.size(), 1, static_cast<char>(rng()));
          break;  // insert
        case 2:
          input.erase(rng() % input.size(), 1);
          break;  // delete
        case 3:
          input += seeds[rng() % seeds.size()].substr(1);
          break;  // splice
      }
    }
    driver.play(reinterpret_cast<const uint8_t*>(input.data()), input.size());
    if (run % 100 == 0 || run == kRuns - 1) {
      ASSERT_TRUE(driver.well_behaved_peer_is_served()) << "after run " << run;
    }
  }
  EXPECT_STREQ(driver.hub().stats().role, "host");
  watchdog.disarm();
}

// ---- faults inside a handler: the affected streams fail with ERR_INTERNAL, nothing hangs ----

TEST_F(ShareTest, AHostHandlerThatThrowsFailsThatPeersStreamsWithInternalAndKeepsServing) {
  std::atomic<bool> release{false};
  TestServer server(gated(release, "fine"));
  HubOptions o = options();
  std::atomic<uint64_t> poison{0};
  o.test.before_frame = [&poison](bool host_side, int type, uint64_t stream) {
    if (host_side && type == static_cast<int>(mux::FrameType::kRequest) && stream == poison.load())
      throw std::bad_alloc();
  };
  Member& host = add(o);
  ASSERT_EQ(host.start(), "host");
  Member& victim = add();
  ASSERT_EQ(victim.start(), "client");
  Member& bystander = add();
  ASSERT_EQ(bystander.start(), "client");
  const uint64_t running_id = submit(victim, server.port(), "/slow");  // in flight when the fault hits
  const uint64_t other_id = submit(bystander, server.port(), "/slow");
  wait_engine_in_flight(host, 2);
  poison = next_id_;
  const uint64_t doomed_id = submit(victim, server.port(), "/doomed");
  expect_internal(victim, {doomed_id, running_id}, "std::bad_alloc");
  // The victim's engine request was cancelled with it; the bystander's still runs and completes.
  wait_engine_in_flight(host, 1);
  release = true;
  auto rec = bystander.sink.wait_terminal(other_id);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->body, "fine");
  poison = 0;
  expect_served(victim, server.port(), "fine");  // the victim links again
  victim.sink.expect_consistent();
  bystander.sink.expect_consistent();
}

TEST_F(ShareTest, AClientHandlerThatThrowsFailsItsStreamsWithInternalAndLinksAgain) {
  std::atomic<bool> release{false};
  TestServer server(gated(release, "fine"));
  Member& host = add();
  ASSERT_EQ(host.start(), "host");
  HubOptions o = options();
  std::atomic<bool> armed{true};
  o.test.before_frame = [&armed](bool host_side, int type, uint64_t) {
    if (!host_side && type == static_cast<int>(mux::FrameType::kHead) && armed.exchange(false))
      throw std::runtime_error("injected");
  };
  Member& client = add(o);
  ASSERT_EQ(client.start(), "client");
  const uint64_t waiting_id = submit(client, server.port(), "/slow");
  const uint64_t fast_id = submit(client, server.port(), "/fast");
  expect_internal(client, {fast_id, waiting_id}, "injected");
  wait_engine_in_flight(host, 0);
  release = true;
  expect_served(client, server.port(), "fine");
  client.sink.expect_consistent();
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
    for (int i = 0; i < 1000 && std::string(client.hub->stats().link) != "idle"; ++i)
      std::this_thread::sleep_for(2ms);
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
    for (int i = 0; i < 1000 && std::string(client.hub->stats().link) != "idle"; ++i)
      std::this_thread::sleep_for(2ms);
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
  for (int i = 0; i < 1000 && host.hub->stats().engine.requests_in_flight < 2; ++i)
    std::this_thread::sleep_for(2ms);
  ASSERT_EQ(host.hub->stats().engine.requests_in_flight, 2u);
  a.crash();  // the client process dies
  for (int i = 0; i < 1000 && host.hub->stats().engine.requests_in_flight != 1; ++i)
    std::this_thread::sleep_for(2ms);
  EXPECT_EQ(host.hub->stats().engine.requests_in_flight, 1u);
  release = true;
  auto rec = b.sink.wait_terminal(idb);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->body, "kept");
  (void)ida;
}

}  // namespace
