// Scriptable test servers for the engine tests. TestServer speaks HTTP/1.1: plain TCP or TLS
// (BoringSSL used directly) on 127.0.0.1:0, one accept thread plus one blocking thread per accepted
// connection. Every connection runs the same handler script; the server records connections,
// completed handshakes (resumed ones apart), SNI names, connections open at once and the raw bytes
// of every request it read. H2Server (at the end) speaks HTTP/2 over TLS. stop() (and the
// destructors) unblocks every thread by shutting the sockets down, so no test can hang on a server.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace ctn_test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

inline std::filesystem::path cert_dir() {
  return std::filesystem::weakly_canonical(std::filesystem::path(__FILE__).parent_path() / ".." / "fixtures" /
                                           "certs");
}

// Case-insensitive lookup of a header value in a raw request head ("" when absent).
inline std::string header_value(std::string_view raw, std::string_view name) {
  size_t pos = raw.find("\r\n");
  while (pos != std::string_view::npos) {
    const size_t start = pos + 2;
    const size_t end = raw.find("\r\n", start);
    if (end == std::string_view::npos || end == start) break;
    std::string_view line = raw.substr(start, end - start);
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos && colon == name.size()) {
      bool same = true;
      for (size_t i = 0; i < colon; ++i) {
        if (std::tolower(static_cast<unsigned char>(line[i])) !=
            std::tolower(static_cast<unsigned char>(name[i]))) {
          same = false;
          break;
        }
      }
      if (same) {
        std::string_view v = line.substr(colon + 1);
        while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
        return std::string(v);
      }
    }
    pos = end;
  }
  return "";
}

struct ServerOptions {
  bool tls = false;
  std::string cert = "server.pem";  // in cert_dir()
  std::string key = "server-key.pem";
  bool alpn_http11 = true;  // select "http/1.1" when the client offers it
  int backlog = 512;
  bool ipv6 = false;           // listen on [::1] instead of 127.0.0.1
  int handshake_delay_ms = 0;  // TLS: wait this long after accepting before the handshake
  // TLS: connections after the first wait for this to become true before the handshake.
  const std::atomic<bool>* handshake_gate = nullptr;
  // TLS: called on the connection's thread before each handshake with the context and the
  // connection's index (the ECH tests set and swap the server's ECH keys here).
  std::function<void(SSL_CTX*, int)> before_handshake = nullptr;
};

// What one TLS connection's ClientHello was, as the server saw it: the hello on the wire (the
// outer one when ECH was offered) and, when the server decrypted an Encrypted ClientHello, the
// inner one (handshake messages, header included); whether the handshake completed and accepted
// ECH, and the SNI it ended with (the inner one when ECH was accepted).
struct HelloRecord {
  std::string outer;
  std::string inner;
  bool completed = false;
  bool ech_accepted = false;
  std::string server_name;
};

class TestServer;

// One accepted connection, as seen by a handler running on its own thread.
class ServerConn {
 public:
  ServerConn(TestServer& server, int fd, SSL* ssl, int index)
      : server_(server), fd_(fd), ssl_(ssl), index_(index) {}
  ~ServerConn() {
    close();
    if (ssl_ != nullptr) SSL_free(ssl_);
  }
  ServerConn(const ServerConn&) = delete;
  ServerConn& operator=(const ServerConn&) = delete;

  int index() const { return index_; }  // 0 for the first accepted connection, ...
  bool stopping() const;

  // Reads one request: head up to CRLFCRLF plus a Content-Length body. Records the raw bytes in the
  // server's request log. Returns false on EOF, error or server stop.
  bool read_request(std::string* raw = nullptr);
  // Reads one request head only (up to CRLFCRLF; not recorded). The body stays unread.
  bool read_head(std::string* raw);
  // Reads exactly n bytes (after whatever was buffered).
  bool read_exact(size_t n, std::string* out);
  // Writes all bytes (false when the peer is gone).
  bool write(std::string_view bytes);
  // Writes `bytes` in pieces of `piece` bytes with `gap` between them.
  bool write_slowly(std::string_view bytes, size_t piece, std::chrono::milliseconds gap);
  // Never answers: reads (and discards) until the peer closes or the server stops.
  void stall();
  // Forwards bytes both ways between this connection (after whatever was buffered) and `other`
  // (a plain socket) until either side closes or the server stops. Non-blocking inside, so a TLS
  // record that carries no data cannot wedge it. Used by the proxies in proxy_server.h.
  void relay(int other);
  // Whether bytes (or EOF) arrive within `d`; false on timeout or stop. Lets a handler close a
  // kept-alive connection that stays idle, as servers do.
  bool readable_within(std::chrono::milliseconds d);
  // Sleeps, waking early (false) when the server stops.
  bool sleep_for(std::chrono::milliseconds d);
  // Polls `pred` every 2 ms up to `timeout`; false on timeout or stop.
  bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s);
  // Closes the connection now (FIN; no TLS close_notify).
  void close();
  // Sends a TLS close_notify (no-op for plain connections).
  void close_notify() {
    if (ssl_ != nullptr) SSL_shutdown(ssl_);
  }

 private:
  // Reads some bytes into buffer_; false on EOF/error.
  bool fill();

  TestServer& server_;
  int fd_;
  SSL* ssl_;
  int index_;
  bool closed_ = false;
  std::string buffer_;
};

using Handler = std::function<void(ServerConn&)>;

class TestServer {
 public:
  explicit TestServer(Handler handler, ServerOptions options = {})
      : handler_(std::move(handler)), options_(std::move(options)) {
    if (options_.tls) {
      ctx_ = SSL_CTX_new(TLS_method());
      const std::string cert = (cert_dir() / options_.cert).string();
      const std::string key = (cert_dir() / options_.key).string();
      if (ctx_ == nullptr || !SSL_CTX_use_certificate_chain_file(ctx_, cert.c_str()) ||
          !SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM)) {
        throw std::runtime_error("test server: cannot load " + cert);
      }
      SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
      if (options_.alpn_http11) SSL_CTX_set_alpn_select_cb(ctx_, &TestServer::select_alpn, nullptr);
    }
    listen_fd_ = ::socket(options_.ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_storage storage{};
    socklen_t len;
    if (options_.ipv6) {
      auto* a6 = reinterpret_cast<sockaddr_in6*>(&storage);
      a6->sin6_family = AF_INET6;
      a6->sin6_addr = in6addr_loopback;
      len = sizeof *a6;
    } else {
      auto* a4 = reinterpret_cast<sockaddr_in*>(&storage);
      a4->sin_family = AF_INET;
      a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof *a4;
    }
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&storage), len) != 0 ||
        ::listen(listen_fd_, options_.backlog) != 0) {
      ::close(listen_fd_);
      throw std::runtime_error("test server: cannot listen");
    }
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&storage), &len);
    port_ = ntohs(options_.ipv6 ? reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port
                                : reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~TestServer() {
    stop();
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  uint16_t port() const { return port_; }
  bool tls() const { return options_.tls; }

  // Stops accepting, unblocks and joins every connection thread. Idempotent.
  void stop() {
    if (stopping_.exchange(true)) return;
    ::shutdown(listen_fd_, SHUT_RDWR);
    if (acceptor_.joinable()) acceptor_.join();
    ::close(listen_fd_);
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [fd, open] : open_fds_) {
        if (open) ::shutdown(fd, SHUT_RDWR);
      }
      threads = std::move(threads_);
    }
    cv_.notify_all();
    for (auto& t : threads) t.join();
  }

  bool stopping() const { return stopping_.load(); }

  int connections() const {
    std::lock_guard<std::mutex> lock(mu_);
    return connections_;
  }
  int handshakes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return handshakes_;
  }
  // Handshakes that resumed a session of an earlier connection.
  int resumed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return resumed_;
  }
  // Connections being served now, and the most at any one time.
  int open_now() const {
    std::lock_guard<std::mutex> lock(mu_);
    return open_now_;
  }
  int max_open() const {
    std::lock_guard<std::mutex> lock(mu_);
    return max_open_;
  }
  // Connections whose peer (the engine) closed them, as seen by a read.
  int peer_closes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return peer_closes_;
  }
  std::vector<std::string> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  size_t request_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_.size();
  }
  // Every TLS connection's ClientHello(s), completed or not, in handshake order.
  std::vector<HelloRecord> hellos() const {
    std::lock_guard<std::mutex> lock(mu_);
    return hellos_;
  }
  // SNI per completed handshake ("" when none was sent), in handshake order.
  std::vector<std::string> server_names() const {
    std::lock_guard<std::mutex> lock(mu_);
    return server_names_;
  }

  // Bounded wait on the server's counters; false on timeout.
  bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = Clock::now() + timeout;
    while (!pred()) {
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(2ms);
    }
    return true;
  }
  bool wait_requests(size_t n, std::chrono::milliseconds timeout = 10s) {
    return wait_for([&] { return request_count() >= n; }, timeout);
  }
  bool wait_connections(int n, std::chrono::milliseconds timeout = 10s) {
    return wait_for([&] { return connections() >= n; }, timeout);
  }
  // A hello is recorded once the server's side of that handshake ended, which may be after the
  // client gave up on it (a rejected ECH, a refused certificate).
  bool wait_hellos(size_t n, std::chrono::milliseconds timeout = 10s) {
    return wait_for(
        [&] {
          std::lock_guard<std::mutex> lock(mu_);
          return hellos_.size() >= n;
        },
        timeout);
  }
  bool wait_peer_closes(int n, std::chrono::milliseconds timeout = 10s) {
    return wait_for([&] { return peer_closes() >= n; }, timeout);
  }

  // Handlers that answer every request on the connection with the same bytes (keep-alive).
  static Handler respond_always(std::string response) {
    return [response = std::move(response)](ServerConn& c) {
      while (c.read_request()) {
        if (!c.write(response)) return;
      }
    };
  }

 private:
  friend class ServerConn;

  static int select_alpn(SSL*, const uint8_t** out, uint8_t* out_len, const uint8_t* in, unsigned in_len,
                         void*) {
    static constexpr std::string_view kWant = "http/1.1";
    unsigned i = 0;
    while (i < in_len) {
      const unsigned len = in[i];
      if (i + 1 + len > in_len) break;
      if (std::string_view(reinterpret_cast<const char*>(in + i + 1), len) == kWant) {
        *out = in + i + 1;
        *out_len = static_cast<uint8_t>(len);
        return SSL_TLSEXT_ERR_OK;
      }
      i += 1 + len;
    }
    return SSL_TLSEXT_ERR_NOACK;
  }

  void accept_loop() {
    while (!stopping_.load()) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;  // shut down
      }
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_.load()) {
        ::close(fd);
        return;
      }
      const int index = connections_++;
      max_open_ = std::max(max_open_, ++open_now_);
      open_fds_[fd] = true;
      threads_.emplace_back([this, fd, index] { serve(fd, index); });
    }
  }

  void serve(int fd, int index) {
    SSL* ssl = nullptr;
    if (options_.tls) {
      if (options_.handshake_gate != nullptr && index > 0) {
        while (!stopping_.load() && !options_.handshake_gate->load()) std::this_thread::sleep_for(2ms);
      }
      if (options_.handshake_delay_ms > 0) {
        const auto until = Clock::now() + std::chrono::milliseconds(options_.handshake_delay_ms);
        while (!stopping_.load() && Clock::now() < until) std::this_thread::sleep_for(2ms);
      }
      if (options_.before_handshake) options_.before_handshake(ctx_, index);
      ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, fd);
      HelloRecord hello;
      SSL_set_msg_callback(ssl, &TestServer::note_hello_message);
      SSL_set_msg_callback_arg(ssl, &hello);
      const bool accepted = SSL_accept(ssl) == 1;
      SSL_set_msg_callback(ssl, nullptr);
      hello.completed = accepted;
      hello.ech_accepted = accepted && SSL_ech_accepted(ssl);
      const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
      hello.server_name = name != nullptr ? name : "";
      {
        std::lock_guard<std::mutex> lock(mu_);
        hellos_.push_back(std::move(hello));
      }
      if (!accepted) {
        ERR_clear_error();
        ServerConn conn(*this, fd, ssl, index);  // closes and frees
        return;
      }
      std::lock_guard<std::mutex> lock(mu_);
      ++handshakes_;
      if (SSL_session_reused(ssl)) ++resumed_;
      const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
      server_names_.push_back(sni != nullptr ? sni : "");
    }
    ServerConn conn(*this, fd, ssl, index);
    handler_(conn);
    ERR_clear_error();
  }

  // The first ClientHello read (the outer one) and a decrypted ClientHelloInner.
  static void note_hello_message(int is_write, int, int content_type, const void* buf, size_t len, SSL*,
                                 void* arg) {
    auto* hello = static_cast<HelloRecord*>(arg);
    const std::string_view bytes(static_cast<const char*>(buf), len);
    if (is_write || bytes.empty()) return;
    if (content_type == SSL3_RT_HANDSHAKE && bytes[0] == SSL3_MT_CLIENT_HELLO && hello->outer.empty()) {
      hello->outer.assign(bytes);
    } else if (content_type == SSL3_RT_CLIENT_HELLO_INNER && hello->inner.empty()) {
      hello->inner.assign(bytes);
    }
  }

  // Called by ServerConn::close under no lock.
  void release_fd(int fd) {
    std::lock_guard<std::mutex> lock(mu_);
    --open_now_;
    open_fds_[fd] = false;
    ::close(fd);
  }
  void note_request(std::string raw) {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(std::move(raw));
  }
  void note_peer_close() {
    std::lock_guard<std::mutex> lock(mu_);
    ++peer_closes_;
  }

  Handler handler_;
  ServerOptions options_;
  SSL_CTX* ctx_ = nullptr;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::thread> threads_;
  // fd -> still open. An fd is closed only under mu_, so stop() never touches a reused number.
  std::map<int, bool> open_fds_;
  int connections_ = 0;
  int handshakes_ = 0;
  int resumed_ = 0;
  int open_now_ = 0;
  int max_open_ = 0;
  int peer_closes_ = 0;
  std::vector<std::string> requests_;
  std::vector<std::string> server_names_;
  std::vector<HelloRecord> hellos_;
};

// ---- ServerConn ----

inline bool ServerConn::stopping() const { return server_.stopping(); }

inline bool ServerConn::fill() {
  if (closed_) return false;
  char buf[16384];
  ssize_t n;
  if (ssl_ != nullptr) {
    n = SSL_read(ssl_, buf, sizeof buf);
    if (n <= 0) ERR_clear_error();
  } else {
    do {
      n = ::recv(fd_, buf, sizeof buf, 0);
    } while (n < 0 && errno == EINTR);
  }
  if (n <= 0) {
    if (!stopping()) server_.note_peer_close();
    return false;
  }
  buffer_.append(buf, static_cast<size_t>(n));
  return true;
}

inline bool ServerConn::read_request(std::string* raw) {
  size_t end;
  while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) return false;
  }
  size_t total = end + 4;
  const std::string head = buffer_.substr(0, total);
  const std::string length = header_value(head, "content-length");
  if (!length.empty()) total += std::strtoull(length.c_str(), nullptr, 10);
  while (buffer_.size() < total) {
    if (!fill()) return false;
  }
  std::string request = buffer_.substr(0, total);
  buffer_.erase(0, total);
  if (raw != nullptr) *raw = request;
  server_.note_request(std::move(request));
  return true;
}

inline bool ServerConn::read_head(std::string* raw) {
  size_t end;
  while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) return false;
  }
  *raw = buffer_.substr(0, end + 4);
  buffer_.erase(0, end + 4);
  return true;
}

// Not inlined: GCC 12's -Wrestrict misreads the copy below once inlined into a one-byte loop.
__attribute__((noinline)) inline bool ServerConn::read_exact(size_t n, std::string* out) {
  while (buffer_.size() < n) {
    if (!fill()) return false;
  }
  out->assign(buffer_.data(), n);
  buffer_.erase(0, n);
  return true;
}

inline bool ServerConn::write(std::string_view bytes) {
  if (closed_) return false;
  while (!bytes.empty()) {
    ssize_t n;
    if (ssl_ != nullptr) {
      const int chunk = static_cast<int>(std::min<size_t>(bytes.size(), 1 << 20));
      n = SSL_write(ssl_, bytes.data(), chunk);
      if (n <= 0) {
        ERR_clear_error();
        return false;
      }
    } else {
      n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

inline bool ServerConn::write_slowly(std::string_view bytes, size_t piece, std::chrono::milliseconds gap) {
  while (!bytes.empty()) {
    const size_t n = std::min(piece, bytes.size());
    if (!write(bytes.substr(0, n))) return false;
    bytes.remove_prefix(n);
    if (!bytes.empty() && !sleep_for(gap)) return false;
  }
  return true;
}

inline void ServerConn::stall() {
  buffer_.clear();
  while (fill()) buffer_.clear();
}

inline void ServerConn::relay(int other) {
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  ::fcntl(other, F_SETFL, ::fcntl(other, F_GETFL) | O_NONBLOCK);
  // Writes all of `bytes` to the client (to_client) or to `other`, waiting for room; false when
  // that side is gone or the server stops.
  auto send_all = [&](std::string_view bytes, bool to_client) {
    while (!bytes.empty()) {
      ssize_t n;
      bool want_write = false;
      if (to_client && ssl_ != nullptr) {
        n = SSL_write(ssl_, bytes.data(), static_cast<int>(std::min<size_t>(bytes.size(), 1 << 20)));
        if (n <= 0) {
          const int e = SSL_get_error(ssl_, static_cast<int>(n));
          ERR_clear_error();
          if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ) return false;
          want_write = true;
        }
      } else {
        n = ::send(to_client ? fd_ : other, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
          want_write = true;
        } else if (n <= 0) {
          return false;
        }
      }
      if (want_write) {
        if (stopping()) return false;
        pollfd p{to_client ? fd_ : other, POLLOUT, 0};
        ::poll(&p, 1, 20);
        continue;
      }
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  };
  if (!buffer_.empty() && !send_all(buffer_, false)) return;
  buffer_.clear();
  char buf[16384];
  while (!stopping() && !closed_) {
    const bool pending = ssl_ != nullptr && SSL_pending(ssl_) > 0;
    pollfd p[2] = {{fd_, POLLIN, 0}, {other, POLLIN, 0}};
    if (!pending && ::poll(p, 2, 20) <= 0) continue;
    if (pending || p[0].revents != 0) {
      ssize_t n;
      if (ssl_ != nullptr) {
        n = SSL_read(ssl_, buf, sizeof buf);
        if (n <= 0) {
          const int e = SSL_get_error(ssl_, static_cast<int>(n));
          ERR_clear_error();
          if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) return;
          n = 0;
        }
      } else {
        n = ::recv(fd_, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return;
        n = std::max<ssize_t>(n, 0);
      }
      if (n > 0 && !send_all(std::string_view(buf, static_cast<size_t>(n)), false)) return;
    }
    if (p[1].revents != 0) {
      const ssize_t n = ::recv(other, buf, sizeof buf, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return;
      if (n > 0 && !send_all(std::string_view(buf, static_cast<size_t>(n)), true)) return;
    }
  }
}

inline bool ServerConn::readable_within(std::chrono::milliseconds d) {
  if (!buffer_.empty() || (ssl_ != nullptr && SSL_pending(ssl_) > 0)) return true;
  const auto deadline = Clock::now() + d;
  while (!stopping()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 5)));
    if (r > 0) return true;
  }
  return false;
}

inline bool ServerConn::sleep_for(std::chrono::milliseconds d) {
  const auto deadline = Clock::now() + d;
  while (Clock::now() < deadline) {
    if (stopping()) return false;
    std::this_thread::sleep_for(std::min<Clock::duration>(deadline - Clock::now(), 2ms));
  }
  return !stopping();
}

inline bool ServerConn::wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!pred()) {
    if (stopping() || Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

inline void ServerConn::close() {
  if (closed_) return;
  closed_ = true;
  ::shutdown(fd_, SHUT_WR);
  server_.release_fd(fd_);
}

// A listener whose accept queue is full and never drained: a connect to it hangs in SYN_SENT
// (Linux drops SYNs for a full accept queue), which keeps an exchange in its connect stage.
class HangingListener {
 public:
  HangingListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 0) != 0) {
      throw std::runtime_error("hanging listener: cannot listen");
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    // Fill the queue until a connect no longer completes.
    for (int i = 0; i < 16; ++i) {
      const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      fillers_.push_back(c);
      if (::connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) continue;
      if (errno != EINPROGRESS) break;
      pollfd p{c, POLLOUT, 0};
      if (::poll(&p, 1, 150) == 0) {
        full_ = true;
        break;
      }
    }
  }
  ~HangingListener() {
    for (int c : fillers_) ::close(c);
    ::close(fd_);
  }
  HangingListener(const HangingListener&) = delete;
  HangingListener& operator=(const HangingListener&) = delete;
  uint16_t port() const { return port_; }
  bool full() const { return full_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  bool full_ = false;
  std::vector<int> fillers_;
};

// A port nothing listens on (bound, then released).
inline uint16_t refused_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// A socket connected to 127.0.0.1:port, or -1.
inline int connect_loopback(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// ---------------------------------------------------------------------------------------------
// An HTTP/2 test server: BoringSSL + an nghttp2 server session on 127.0.0.1:0, one accept thread
// plus one blocking thread per connection (poll() with a short timeout, so stop() is prompt).
// Every request goes through a handler that says what to do with it: answer (optionally paced, or
// cut short by an abrupt TCP close or a RST_STREAM after some body bytes), never answer, or reset.
// It counts handshakes (resumed ones apart), streams, the most streams active at once, RST_STREAMs
// and PINGs received; it can ignore PINGs and close connections that stay idle.

struct RequestInfo {
  int conn_index = 0;    // 0 for the first accepted connection
  int stream_index = 0;  // 0 for the first request on its connection
  int32_t stream_id = 0;
  std::string method;
  std::string path;
  std::string body;  // the request body (DATA frames), whole
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

// A body derived from the path: `n` bytes of the path repeated, so a crossed answer shows.
inline std::string body_for(const std::string& path, size_t n) {
  std::string s;
  s.reserve(n);
  const std::string unit = path + ";";
  while (s.size() < n) s.append(unit, 0, std::min(unit.size(), n - s.size()));
  return s;
}

// The two actions most handlers give.
inline Action respond(std::string body) {
  Action a;
  a.body = std::move(body);
  return a;
}
inline Action stall() {
  Action a;
  a.kind = Action::Kind::kStall;
  return a;
}

using H2Handler = std::function<Action(const RequestInfo&)>;

struct H2ServerOptions {
  uint32_t max_concurrent_streams = 0;  // 0: no SETTINGS_MAX_CONCURRENT_STREAMS
  int goaway_after = 0;                 // > 0: on connection 0, GOAWAY after this many streams
  bool ignore_pings = false;            // never ACK a PING (a peer that stopped answering)
  int idle_close_ms = 0;                // > 0: close a connection without streams after this long
  bool idle_goaway = true;              // ... sending GOAWAY first (else the TCP socket just ends)
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

  int resumed() const { return resumed_.load(); }  // handshakes that resumed a session
  int pings_received() const { return pings_received_.load(); }
  int closed_idle() const { return closed_idle_.load(); }  // connections closed for idle_close_ms

  bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s) {
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
    std::string method, path, body;
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

  static int select_alpn(SSL*, const uint8_t** out, uint8_t* out_len, const uint8_t* in, unsigned in_len,
                         void*) {
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
                      reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                      NGHTTP2_NV_FLAG_NONE};
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
    if (SSL_session_reused(ssl)) resumed_++;
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
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &H2Server::on_data_chunk);
    nghttp2_option* opt = nullptr;
    nghttp2_option_new(&opt);
    if (options_.ignore_pings) nghttp2_option_set_no_auto_ping_ack(opt, 1);
    nghttp2_session_server_new2(&conn.session, cbs, &conn, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    std::vector<nghttp2_settings_entry> settings;
    if (options_.max_concurrent_streams > 0) {
      settings.push_back({NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, options_.max_concurrent_streams});
    }
    nghttp2_submit_settings(conn.session, NGHTTP2_FLAG_NONE, settings.data(), settings.size());

    std::vector<uint8_t> buf(64 * 1024);
    auto last_tick = Clock::now();
    auto busy_at = Clock::now();  // when the connection last had a stream
    for (;;) {
      if (stopping_.load()) break;
      if (conn.active > 0 || !conn.outgoing.empty()) busy_at = Clock::now();
      if (options_.idle_close_ms > 0 &&
          Clock::now() - busy_at >= std::chrono::milliseconds(options_.idle_close_ms)) {
        if (options_.idle_goaway) {
          nghttp2_submit_goaway(conn.session, NGHTTP2_FLAG_NONE,
                                nghttp2_session_get_last_proc_stream_id(conn.session), NGHTTP2_NO_ERROR,
                                nullptr, 0);
          const uint8_t* data = nullptr;
          ssize_t n;
          while ((n = nghttp2_session_mem_send(conn.session, &data)) > 0) {
            if (!write_all(ssl, data, static_cast<size_t>(n))) break;
          }
        }
        closed_idle_++;
        break;
      }
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
  static int on_header(nghttp2_session*, const nghttp2_frame* f, const uint8_t* name, size_t namelen,
                       const uint8_t* value, size_t valuelen, uint8_t, void* p) {
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
    if (f->hd.type == NGHTTP2_PING && !(f->hd.flags & NGHTTP2_FLAG_ACK)) {
      c.server->pings_received_++;
    }
    if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      auto it = c.requests.find(f->hd.stream_id);
      if (it != c.requests.end()) c.server->handle(c, session, f->hd.stream_id, it->second);
    }
    return 0;
  }
  static int on_data_chunk(nghttp2_session*, uint8_t, int32_t stream, const uint8_t* data, size_t len,
                           void* p) {
    Conn& c = conn_of(p);
    auto it = c.requests.find(stream);
    if (it != c.requests.end()) it->second.body.append(reinterpret_cast<const char*>(data), len);
    return 0;
  }
  static int on_close(nghttp2_session*, int32_t stream, uint32_t, void* p) {
    Conn& c = conn_of(p);
    if (c.requests.erase(stream)) --c.active;
    c.outgoing.erase(stream);
    c.deferred.erase(stream);
    return 0;
  }
  static ssize_t read_body(nghttp2_session*, int32_t stream, uint8_t* buf, size_t length, uint32_t* flags,
                           nghttp2_data_source*, void* p) {
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
    RequestInfo info{c.index, c.stream_count++, stream, req.method, req.path, req.body};
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
      c.outgoing[stream] = Outgoing{std::move(a.body), 0, a.pace, 0, a.close_after, a.rst_after, a.rst_code};
      nghttp2_data_provider provider{};
      provider.read_callback = &H2Server::read_body;
      nghttp2_submit_response(session, stream, nva.data(), nva.size(), has_data ? &provider : nullptr);
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
  std::atomic<int> connections_{0}, streams_{0}, max_active_{0}, resets_received_{0}, resumed_{0},
      pings_received_{0}, closed_idle_{0};
};

}  // namespace ctn_test
