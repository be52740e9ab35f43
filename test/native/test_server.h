// A small scriptable HTTP/1.1 test server for the engine tests: plain TCP or TLS (BoringSSL used
// directly) on 127.0.0.1:0, one accept thread plus one blocking thread per accepted connection.
// Every connection runs the same handler script; the server records connections, completed
// handshakes, SNI names and the raw bytes of every request it read. stop() (and the destructor)
// unblocks every thread by shutting the sockets down, so no test can hang on the server.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

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
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace ctn_test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

inline std::filesystem::path cert_dir() {
  return std::filesystem::weakly_canonical(std::filesystem::path(__FILE__).parent_path() / ".." /
                                           "fixtures" / "certs");
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

  static int select_alpn(SSL*, const uint8_t** out, uint8_t* out_len, const uint8_t* in,
                         unsigned in_len, void*) {
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
      open_fds_[fd] = true;
      threads_.emplace_back([this, fd, index] { serve(fd, index); });
    }
  }

  void serve(int fd, int index) {
    SSL* ssl = nullptr;
    if (options_.tls) {
      if (options_.handshake_delay_ms > 0) {
        const auto until = Clock::now() + std::chrono::milliseconds(options_.handshake_delay_ms);
        while (!stopping_.load() && Clock::now() < until) std::this_thread::sleep_for(2ms);
      }
      ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, fd);
      if (SSL_accept(ssl) != 1) {
        ERR_clear_error();
        ServerConn conn(*this, fd, ssl, index);  // closes and frees
        return;
      }
      std::lock_guard<std::mutex> lock(mu_);
      ++handshakes_;
      const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
      server_names_.push_back(sni != nullptr ? sni : "");
    }
    ServerConn conn(*this, fd, ssl, index);
    handler_(conn);
    ERR_clear_error();
  }

  // Called by ServerConn::close under no lock.
  void release_fd(int fd) {
    std::lock_guard<std::mutex> lock(mu_);
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
  int peer_closes_ = 0;
  std::vector<std::string> requests_;
  std::vector<std::string> server_names_;
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

inline bool ServerConn::read_exact(size_t n, std::string* out) {
  while (buffer_.size() < n) {
    if (!fill()) return false;
  }
  out->assign(buffer_, 0, n);
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

inline bool ServerConn::write_slowly(std::string_view bytes, size_t piece,
                                     std::chrono::milliseconds gap) {
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

inline bool ServerConn::sleep_for(std::chrono::milliseconds d) {
  const auto deadline = Clock::now() + d;
  while (Clock::now() < deadline) {
    if (stopping()) return false;
    std::this_thread::sleep_for(std::min<Clock::duration>(deadline - Clock::now(), 2ms));
  }
  return !stopping();
}

inline bool ServerConn::wait_until(const std::function<bool()>& pred,
                                   std::chrono::milliseconds timeout) {
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
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 0) != 0) {
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

}  // namespace ctn_test
