// Tests for the engine's HTTP/2 glue (Connection::start_http2 / submit_stream / flush_http2 /
// on_read_http2 / fail_streams / on_stream_closed / abandon / resume, Engine::Impl::take_http2 /
// http2_ready and the cold-origin guard) end to end against an in-process HTTP/2 server over TLS,
// so that they run under ASan/UBSan.
//
// The server (H2Server, below): BoringSSL + an nghttp2 server session on 127.0.0.1:0, one accept
// thread plus one blocking thread per connection (poll() with a short timeout, so stop() is prompt).
// Every request goes through a handler that says what to do with it: answer (optionally paced, or
// cut short by an abrupt TCP close or a RST_STREAM after some body bytes), never answer, or reset.
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

#include "engine_harness.h"
#include "core/engine.h"
#include "core/error.h"
#include "core/request.h"
#include "profiles/profile.h"
#include "tls/tls_context.h"
#include "test_server.h"

namespace {

using namespace ctn;
using namespace ctn_test;


// ---------------------------------------------------------------------------------------------
// The HTTP/2 server

struct RequestInfo {
  int conn_index = 0;    // 0 for the first accepted connection
  int stream_index = 0;  // 0 for the first request on its connection
  int32_t stream_id = 0;
  std::string method;
  std::string path;
};

struct Action {
  enum class Kind { kRespond, kStall, kRst };
  Kind kind = Kind::kRespond;
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  uint32_t rst_code = NGHTTP2_INTERNAL_ERROR;  // kRst, and rst_after
  size_t pace = 0;         // body bytes per tick (about 10 ms); 0 = as flow control allows
  size_t close_after = 0;  // > 0: after this many body bytes the TCP connection closes abruptly
  size_t rst_after = 0;    // > 0: after this many body bytes the stream is reset (rst_code)
};

using H2Handler = std::function<Action(const RequestInfo&)>;

struct H2ServerOptions {
  uint32_t max_concurrent_streams = 0;  // 0: no SETTINGS_MAX_CONCURRENT_STREAMS
  int goaway_after = 0;                 // > 0: on connection 0, GOAWAY after this many streams
};

class H2Server {
 public:
  explicit H2Server(H2Handler handler, H2ServerOptions options = {})
      : handler_(std::move(handler)), options_(options) {
    ctx_ = SSL_CTX_new(TLS_method());
    const std::string cert = (cert_dir() / "server.pem").string();
    const std::string key = (cert_dir() / "server-key.pem").string();
    if (ctx_ == nullptr || !SSL_CTX_use_certificate_chain_file(ctx_, cert.c_str()) ||
        !SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM)) {
      throw std::runtime_error("h2 server: cannot load " + cert);
    }
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    SSL_CTX_set_alpn_select_cb(ctx_, &H2Server::select_alpn, nullptr);
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_fd_, 512) != 0) {
      throw std::runtime_error("h2 server: cannot listen");
    }
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~H2Server() {
    stop();
    SSL_CTX_free(ctx_);
  }
  H2Server(const H2Server&) = delete;
  H2Server& operator=(const H2Server&) = delete;

  uint16_t port() const { return port_; }
  int connections() const { return connections_.load(); }  // completed handshakes
  int streams() const { return streams_.load(); }          // requests received
  int max_active() const { return max_active_.load(); }    // most concurrent streams on a connection
  int resets_received() const { return resets_received_.load(); }
  std::string last_alpn() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_alpn_;
  }

  bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout = kWait) {
    const auto end = Clock::now() + timeout;
    while (Clock::now() < end) {
      if (pred()) return true;
      std::this_thread::sleep_for(2ms);
    }
    return pred();
  }

  void stop() {
    if (stopping_.exchange(true)) return;
    ::shutdown(listen_fd_, SHUT_RDWR);
    if (accept_thread_.joinable()) accept_thread_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
      threads = std::move(conn_threads_);
    }
    for (auto& t : threads) t.join();
    for (int fd : fds_) ::close(fd);
    fds_.clear();
    ::close(listen_fd_);
  }

 private:
  struct Outgoing {
    std::string body;
    size_t offset = 0;
    size_t pace = 0;
    size_t sent_this_tick = 0;
    size_t close_after = 0;
    size_t rst_after = 0;
    uint32_t rst_code = 0;
  };
  struct Stream {
    std::string method, path;
  };
  struct Conn {
    H2Server* server = nullptr;
    nghttp2_session* session = nullptr;
    int index = 0;
    int stream_count = 0;
    int active = 0;
    bool goaway_sent = false;
    bool close_now = false;
    std::map<int32_t, Stream> requests;
    std::map<int32_t, Outgoing> outgoing;
    std::set<int32_t> deferred;
    std::vector<std::pair<int32_t, uint32_t>> pending_rst;
  };

  static int select_alpn(SSL*, const uint8_t** out, uint8_t* out_len, const uint8_t* in,
                         unsigned in_len, void*) {
    unsigned i = 0;
    while (i < in_len) {
      const unsigned len = in[i];
      if (i + 1 + len > in_len) break;
      if (std::string_view(reinterpret_cast<const char*>(in + i + 1), len) == "h2") {
        *out = in + i + 1;
        *out_len = static_cast<uint8_t>(len);
        return SSL_TLSEXT_ERR_OK;
      }
      i += 1 + len;
    }
    return SSL_TLSEXT_ERR_NOACK;
  }

  void accept_loop() {
    int index = 0;
    while (!stopping_.load()) {
      pollfd p{listen_fd_, POLLIN, 0};
      const int r = ::poll(&p, 1, 20);
      if (r <= 0) continue;
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_.load()) {
        ::close(fd);
        break;
      }
      fds_.push_back(fd);
      conn_threads_.emplace_back([this, fd, i = index++] { serve(fd, i); });
    }
  }

  static nghttp2_nv nv(const std::string& name, const std::string& value) {
    return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                      reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                      value.size(), NGHTTP2_NV_FLAG_NONE};
  }

  static bool write_all(SSL* ssl, const uint8_t* data, size_t n) {
    while (n > 0) {
      const int w = SSL_write(ssl, data, static_cast<int>(std::min<size_t>(n, 1 << 20)));
      if (w <= 0) return false;
      data += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }

  void serve(int fd, int index) {
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) != 1) {
      SSL_free(ssl);
      ::shutdown(fd, SHUT_RDWR);
      return;
    }
    {
      const uint8_t* proto = nullptr;
      unsigned proto_len = 0;
      SSL_get0_alpn_selected(ssl, &proto, &proto_len);
      std::lock_guard<std::mutex> lock(mu_);
      last_alpn_.assign(reinterpret_cast<const char*>(proto), proto_len);
    }
    connections_++;
    Conn conn;
    conn.server = this;
    conn.index = index;
    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &H2Server::on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, &H2Server::on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &H2Server::on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &H2Server::on_close);
    nghttp2_session_server_new(&conn.session, cbs, &conn);
    nghttp2_session_callbacks_del(cbs);
    std::vector<nghttp2_settings_entry> settings;
    if (options_.max_concurrent_streams > 0) {
      settings.push_back({NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, options_.max_concurrent_streams});
    }
    nghttp2_submit_settings(conn.session, NGHTTP2_FLAG_NONE, settings.data(), settings.size());

    std::vector<uint8_t> buf(64 * 1024);
    auto last_tick = Clock::now();
    for (;;) {
      if (stopping_.load()) break;
      // Output first: everything nghttp2 has to say.
      bool fatal = false;
      for (;;) {
        for (auto& [stream, code] : conn.pending_rst) {
          nghttp2_submit_rst_stream(conn.session, NGHTTP2_FLAG_NONE, stream, code);
        }
        conn.pending_rst.clear();
        const uint8_t* data = nullptr;
        const ssize_t n = nghttp2_session_mem_send(conn.session, &data);
        if (n < 0) {
          fatal = true;
          break;
        }
        if (n == 0 && conn.pending_rst.empty()) break;
        if (n > 0 && !write_all(ssl, data, static_cast<size_t>(n))) {
          fatal = true;
          break;
        }
      }
      if (fatal) break;
      if (conn.close_now) break;  // abrupt: no close_notify, no GOAWAY
      if (!nghttp2_session_want_read(conn.session) && !nghttp2_session_want_write(conn.session)) {
        break;
      }
      const auto now = Clock::now();
      if (now - last_tick >= 10ms) {
        last_tick = now;
        for (auto& [id, out] : conn.outgoing) out.sent_this_tick = 0;
        for (int32_t id : conn.deferred) nghttp2_session_resume_data(conn.session, id);
        conn.deferred.clear();
        continue;
      }
      if (SSL_pending(ssl) == 0) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 5) <= 0) continue;
      }
      const int n = SSL_read(ssl, buf.data(), static_cast<int>(buf.size()));
      if (n <= 0) break;
      if (nghttp2_session_mem_recv(conn.session, buf.data(), static_cast<size_t>(n)) < 0) break;
    }
    nghttp2_session_del(conn.session);
    SSL_free(ssl);  // no SSL_shutdown: the TCP connection just ends
    ::shutdown(fd, SHUT_RDWR);
  }

  static Conn& conn_of(void* p) { return *static_cast<Conn*>(p); }

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* f, void* p) {
    if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
      Conn& c = conn_of(p);
      c.requests[f->hd.stream_id] = Stream{};
      ++c.active;
      int prev = c.server->max_active_.load();
      while (c.active > prev && !c.server->max_active_.compare_exchange_weak(prev, c.active)) {
      }
    }
    return 0;
  }
  static int on_header(nghttp2_session*, const nghttp2_frame* f, const uint8_t* name,
                       size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* p) {
    Conn& c = conn_of(p);
    auto it = c.requests.find(f->hd.stream_id);
    if (it == c.requests.end()) return 0;
    const std::string_view n(reinterpret_cast<const char*>(name), namelen);
    const std::string v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":path") it->second.path = v;
    if (n == ":method") it->second.method = v;
    return 0;
  }
  static int on_frame_recv(nghttp2_session* session, const nghttp2_frame* f, void* p) {
    Conn& c = conn_of(p);
    if (f->hd.type == NGHTTP2_RST_STREAM) c.server->resets_received_++;
    if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      auto it = c.requests.find(f->hd.stream_id);
      if (it != c.requests.end()) c.server->handle(c, session, f->hd.stream_id, it->second);
    }
    return 0;
  }
  static int on_close(nghttp2_session*, int32_t stream, uint32_t, void* p) {
    Conn& c = conn_of(p);
    if (c.requests.erase(stream)) --c.active;
    c.outgoing.erase(stream);
    c.deferred.erase(stream);
    return 0;
  }
  static ssize_t read_body(nghttp2_session*, int32_t stream, uint8_t* buf, size_t length,
                           uint32_t* flags, nghttp2_data_source*, void* p) {
    Conn& c = conn_of(p);
    auto it = c.outgoing.find(stream);
    if (it == c.outgoing.end()) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    Outgoing& out = it->second;
    if (out.close_after > 0 && out.offset >= out.close_after) {
      c.close_now = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    if (out.rst_after > 0 && out.offset >= out.rst_after) {
      c.pending_rst.emplace_back(stream, out.rst_code);
      return NGHTTP2_ERR_DEFERRED;
    }
    size_t n = std::min(length, out.body.size() - out.offset);
    if (out.close_after > 0) n = std::min(n, out.close_after - out.offset);
    if (out.rst_after > 0) n = std::min(n, out.rst_after - out.offset);
    if (out.pace > 0) {
      if (out.sent_this_tick >= out.pace) {
        c.deferred.insert(stream);
        return NGHTTP2_ERR_DEFERRED;
      }
      n = std::min(n, out.pace - out.sent_this_tick);
    }
    std::copy_n(out.body.data() + out.offset, n, buf);
    out.offset += n;
    out.sent_this_tick += n;
    if (out.offset == out.body.size() && out.close_after == 0 && out.rst_after == 0) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
    }
    return static_cast<ssize_t>(n);
  }

  void handle(Conn& c, nghttp2_session* session, int32_t stream, const Stream& req) {
    if (c.goaway_sent) return;  // above the GOAWAY's last stream id: never processed
    streams_++;
    RequestInfo info{c.index, c.stream_count++, stream, req.method, req.path};
    Action a = handler_(info);
    if (a.kind == Action::Kind::kStall) {
      // never answered
    } else if (a.kind == Action::Kind::kRst) {
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream, a.rst_code);
    } else {
      std::vector<std::string> storage;
      storage.reserve(2 + 2 * a.headers.size());
      storage.push_back(":status");
      storage.push_back(std::to_string(a.status));
      for (auto& [n, v] : a.headers) {
        storage.push_back(n);
        storage.push_back(v);
      }
      std::vector<nghttp2_nv> nva;
      for (size_t i = 0; i + 1 < storage.size(); i += 2) nva.push_back(nv(storage[i], storage[i + 1]));
      const bool has_data = !a.body.empty();
      c.outgoing[stream] = Outgoing{std::move(a.body), 0, a.pace, 0, a.close_after, a.rst_after,
                                    a.rst_code};
      nghttp2_data_provider provider{};
      provider.read_callback = &H2Server::read_body;
      nghttp2_submit_response(session, stream, nva.data(), nva.size(),
                              has_data ? &provider : nullptr);
    }
    if (options_.goaway_after > 0 && c.index == 0 && c.stream_count == options_.goaway_after) {
      nghttp2_submit_goaway(session, NGHTTP2_FLAG_NONE, stream, NGHTTP2_NO_ERROR, nullptr, 0);
      c.goaway_sent = true;
    }
  }

  H2Handler handler_;
  H2ServerOptions options_;
  SSL_CTX* ctx_ = nullptr;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> conn_threads_;
  std::string last_alpn_;
  std::atomic<int> connections_{0}, streams_{0}, max_active_{0}, resets_received_{0};
};

// A body derived from the path: `n` bytes of the path repeated, so a crossed answer shows.
std::string body_for(const std::string& path, size_t n) {
  std::string s;
  s.reserve(n);
  const std::string unit = path + ";";
  while (s.size() < n) s.append(unit, 0, std::min(unit.size(), n - s.size()));
  return s;
}

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

Action respond(std::string body) {
  Action a;
  a.body = std::move(body);
  return a;
}
Action stall() {
  Action a;
  a.kind = Action::Kind::kStall;
  return a;
}


class EngineHttp2Test : public ::testing::Test {
 protected:
  void SetUp() override {
    watchdog_.arm(60s);
    std::string why;
    if (!check_tls_profile(default_profile().tls, &why)) {
      GTEST_SKIP() << "the default profile cannot go on the wire in this build: " << why;
    }
    engine_ = std::make_unique<Engine>(EngineOptions{}, sink_);
  }
  void TearDown() override {
    engine_.reset();
    sink_.hook = nullptr;
    sink_.expect_consistent();
    watchdog_.disarm();
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
  uint64_t submit(RequestSpec s) {
    const uint64_t id = s.id;
    engine_->submit(std::move(s));
    return id;
  }

  Watchdog watchdog_;
  Sink sink_;
  std::unique_ptr<Engine> engine_;
  uint64_t next_id_ = 1;
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
// beyond its limit with REFUSED_STREAM. Those requests were never processed; they should queue on
// the live session (or at worst share one new connection), not open a connection each.
// DISABLED: engine bug. Engine::Impl::exchange_failed (native/core/engine.cc) marks a retryable
// failure `retried = true`, and Engine::Impl::dispatch skips take_http2() and the cold-origin guard
// (connecting_) for retried exchanges, so every refused stream opens its own TLS connection
// (60 requests, server limit 10: 50 extra connections).
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
  ASSERT_TRUE(sink_.wait_record(big, [](const Record& r) { return r.body.size() >= 32 * 1024 || r.terminals; }))
      << sink_.snapshot(big).describe();
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
  H2Server server([](const RequestInfo& r) {
    Action a = respond(body_for(r.path, 20000));
    if (r.conn_index == 0) a.pace = 4096;  // the first three are still going when GOAWAY lands
    return a;
  }, options);
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
      EXPECT_TRUE(r.error_code() == ErrorCode::kConnectionClosed || r.error_code() == ErrorCode::kBodyTruncated)
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

