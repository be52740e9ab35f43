// In-process proxies for the engine's proxy tests, built on TestServer (test_server.h): its
// listener, threads, TLS (for an https:// proxy) and stop() are theirs too. HttpProxy answers
// CONNECT with a tunnel and forwards absolute-form requests (plain HTTP) as they are; SocksProxy
// speaks SOCKS4, SOCKS4a and SOCKS5 (no auth or username/password). Both may require credentials,
// record what they were asked for, and relay bytes both ways to the target on 127.0.0.1 (any name
// stands for it). A black hole is a TestServer whose handler stalls.
#pragma once

#include <openssl/base64.h>

#include <mutex>
#include <string>
#include <vector>

#include "test_server.h"

namespace ctn_test {

struct ProxyOptions {
  bool tls = false;  // an https:// proxy
  std::string user;  // non-empty: credentials are required
  std::string password;
};

// The state every proxy keeps: what it was asked for, under a lock, and the TestServer below.
class ProxyBase {
 public:
  uint16_t port() const { return server_->port(); }
  int connections() const { return server_->connections(); }
  TestServer& server() { return *server_; }
  // One line per tunnel or request asked for, e.g. "CONNECT localhost:443 HTTP/1.1" or
  // "socks5 name localhost:443".
  std::vector<std::string> asked() const {
    std::lock_guard<std::mutex> lock(mu_);
    return asked_;
  }
  bool wait_asked(size_t n) {
    return server_->wait_for([&] { return asked().size() >= n; });
  }

 protected:
  explicit ProxyBase(ProxyOptions options) : options_(std::move(options)) {}
  void start(Handler handler) {
    ServerOptions so;
    so.tls = options_.tls;
    server_ = std::make_unique<TestServer>(std::move(handler), so);
  }
  void note(std::string what) {
    std::lock_guard<std::mutex> lock(mu_);
    asked_.push_back(std::move(what));
  }

  ProxyOptions options_;
  mutable std::mutex mu_;
  std::vector<std::string> asked_;
  std::unique_ptr<TestServer> server_;  // last: its threads use the members above
};

class HttpProxy : public ProxyBase {
 public:
  explicit HttpProxy(ProxyOptions options = {}) : ProxyBase(std::move(options)) {
    start([this](ServerConn& c) { serve(c); });
  }
  ~HttpProxy() { server_->stop(); }

  // The Proxy-Authorization values received, in order ("" when absent).
  std::vector<std::string> authorizations() const {
    std::lock_guard<std::mutex> lock(mu_);
    return authorizations_;
  }

 private:
  static uint16_t port_of(const std::string& authority) {
    const size_t colon = authority.rfind(':');
    return colon == std::string::npos ? 80 : static_cast<uint16_t>(std::stoi(authority.substr(colon + 1)));
  }

  void serve(ServerConn& c) {
    std::string head;
    if (!c.read_head(&head)) return;
    const std::string line = head.substr(0, head.find("\r\n"));
    const std::string auth = header_value(head, "proxy-authorization");
    {
      std::lock_guard<std::mutex> lock(mu_);
      asked_.push_back(line);
      authorizations_.push_back(auth);
    }
    if (!options_.user.empty()) {
      const std::string pair = options_.user + ":" + options_.password;
      std::string encoded(4 * ((pair.size() + 2) / 3) + 1, '\0');
      encoded.resize(EVP_EncodeBlock(reinterpret_cast<uint8_t*>(encoded.data()),
                                     reinterpret_cast<const uint8_t*>(pair.data()), pair.size()));
      if (auth != "Basic " + encoded) {
        c.write(
            "HTTP/1.1 407 Proxy Authentication Required\r\n"
            "Proxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n");
        return;
      }
    }
    // "METHOD target HTTP/1.1"
    const size_t sp1 = line.find(' ');
    const size_t sp2 = line.rfind(' ');
    if (sp1 == std::string::npos || sp2 <= sp1) return;
    const std::string method = line.substr(0, sp1);
    const std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    if (method == "CONNECT") {
      const int fd = connect_loopback(port_of(target));
      if (fd < 0) {
        c.write("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      if (c.write("HTTP/1.1 200 Connection established\r\n\r\n")) c.relay(fd);
      ::close(fd);
      return;
    }
    // Absolute-form: "http://host:port/path". The head goes on as it came.
    const size_t host_start = target.find("://");
    if (host_start == std::string::npos) return;
    const size_t path_start = target.find('/', host_start + 3);
    const uint16_t port = port_of(target.substr(host_start + 3, path_start - host_start - 3));
    const int fd = connect_loopback(port);
    if (fd < 0) return;
    if (::send(fd, head.data(), head.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(head.size())) {
      c.relay(fd);
    }
    ::close(fd);
  }

  std::vector<std::string> authorizations_;
};

class SocksProxy : public ProxyBase {
 public:
  explicit SocksProxy(ProxyOptions options = {}) : ProxyBase(std::move(options)) {
    start([this](ServerConn& c) { serve(c); });
  }
  ~SocksProxy() { server_->stop(); }

 private:
  static uint8_t byte(const std::string& s, size_t i) { return static_cast<uint8_t>(s[i]); }
  static uint16_t port_at(const std::string& s, size_t i) {
    return static_cast<uint16_t>(byte(s, i) << 8 | byte(s, i + 1));
  }
  static std::string ipv4_at(const std::string& s, size_t i) {
    return std::to_string(byte(s, i)) + "." + std::to_string(byte(s, i + 1)) + "." +
           std::to_string(byte(s, i + 2)) + "." + std::to_string(byte(s, i + 3));
  }
  // Reads a NUL-terminated string (SOCKS4 user id, SOCKS4a host name).
  static bool read_cstring(ServerConn& c, std::string* out) {
    out->clear();
    std::string b;
    for (size_t i = 0; i < 256; ++i) {
      if (!c.read_exact(1, &b)) return false;
      if (b[0] == '\0') return true;
      *out += b;
    }
    return false;
  }
  // Reads a length-prefixed string (SOCKS5 name, user name, password).
  static bool read_pstring(ServerConn& c, std::string* out) {
    std::string len;
    return c.read_exact(1, &len) && c.read_exact(static_cast<uint8_t>(len[0]), out);
  }

  void serve(ServerConn& c) {
    std::string b;
    if (!c.read_exact(1, &b)) return;
    if (b[0] == 4) {
      serve_socks4(c);
    } else if (b[0] == 5) {
      serve_socks5(c);
    }
  }

  void serve_socks4(ServerConn& c) {
    std::string req, user;
    if (!c.read_exact(7, &req) || !read_cstring(c, &user)) return;  // cmd port(2) ip(4), user id
    const uint16_t port = port_at(req, 1);
    const bool named = byte(req, 3) == 0 && byte(req, 4) == 0 && byte(req, 5) == 0 && byte(req, 6) != 0;
    std::string host = ipv4_at(req, 3);
    if (named && !read_cstring(c, &host)) return;
    note(std::string(named ? "socks4a name " : "socks4 ip ") + host + ":" + std::to_string(port) +
         (user.empty() ? "" : " user " + user));
    const bool granted = byte(req, 0) == 1 && (options_.user.empty() || user == options_.user);
    const int fd = granted ? connect_loopback(port) : -1;
    const char reply[8] = {0, static_cast<char>(fd >= 0 ? 0x5a : 0x5b), 0, 0, 0, 0, 0, 0};
    if (c.write(std::string_view(reply, sizeof reply)) && fd >= 0) c.relay(fd);
    if (fd >= 0) ::close(fd);
  }

  void serve_socks5(ServerConn& c) {
    std::string methods;
    if (!read_pstring(c, &methods)) return;
    const char want = options_.user.empty() ? 0x00 : 0x02;
    if (methods.find(want) == std::string::npos) {
      c.write(std::string("\x05\xff", 2));
      return;
    }
    if (!c.write(std::string("\x05", 1) + want)) return;
    if (want == 0x02) {
      std::string ver, user, password;
      if (!c.read_exact(1, &ver) || !read_pstring(c, &user) || !read_pstring(c, &password)) return;
      const bool ok = user == options_.user && password == options_.password;
      note("socks5 auth " + user + (ok ? " accepted" : " refused"));
      if (!c.write(std::string("\x01", 1) + (ok ? '\x00' : '\x01')) || !ok) return;
    }
    std::string req, host, port_bytes;
    if (!c.read_exact(4, &req)) return;  // ver cmd rsv atyp
    const uint8_t atyp = byte(req, 3);
    std::string kind;
    if (atyp == 1) {
      std::string a;
      if (!c.read_exact(4, &a)) return;
      host = ipv4_at(a, 0);
      kind = "ip";
    } else if (atyp == 3) {
      if (!read_pstring(c, &host)) return;
      kind = "name";
    } else {
      if (!c.read_exact(16, &host)) return;  // IPv6: not used by these tests
      host = "ipv6";
      kind = "ip";
    }
    if (!c.read_exact(2, &port_bytes)) return;
    const uint16_t port = port_at(port_bytes, 0);
    note("socks5 " + kind + " " + host + ":" + std::to_string(port));
    const int fd = byte(req, 1) == 1 ? connect_loopback(port) : -1;
    const std::string reply = std::string("\x05", 1) + (fd >= 0 ? '\x00' : '\x05') +
                              std::string("\x00\x01\x00\x00\x00\x00\x00\x00", 8);
    if (c.write(reply) && fd >= 0) c.relay(fd);
    if (fd >= 0) ::close(fd);
  }
};

// Accepts and never answers.
inline Handler black_hole() {
  return [](ServerConn& c) { c.stall(); };
}

}  // namespace ctn_test
