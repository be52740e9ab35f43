// Proxies: the proxy URL (parsed and put in canonical form) and the handshakes that open a tunnel
// through a proxy (HTTP CONNECT, SOCKS4, SOCKS4a, SOCKS5 with username/password), byte in / byte
// out: no sockets here, the connection (native/core) drives them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ctn::proxy {

enum class Scheme { kHttp, kHttps, kSocks4, kSocks4a, kSocks5, kSocks5h };

struct ProxyConfig {
  Scheme scheme = Scheme::kHttp;
  std::string host;  // name or IP literal, IPv6 without brackets
  uint16_t port = 0;
  bool has_credentials = false;
  std::string username;  // percent-decoded
  std::string password;  // percent-decoded
};

std::string_view scheme_name(Scheme scheme) noexcept;  // "http", ..., "socks5h"

// "scheme://[user[:password]@]host[:port][/]" with scheme one of http, https, socks4, socks4a,
// socks5, socks5h (any case). Default ports: 80 (http), 443 (https), 1080 (socks). User and
// password are percent-decoded. False with `why` for anything else.
bool parse_proxy_url(std::string_view url, ProxyConfig* out, std::string* why);
// The same URL in one spelling, credentials included (percent-encoded): two configs are equal
// exactly when their canonical URLs are (the pool keys connections by it).
std::string canonical_url(const ProxyConfig& proxy);
// For logs, stats and error messages: the password replaced by a short digest of the credentials.
std::string redacted_url(const ProxyConfig& proxy);

// SOCKS4 and SOCKS5 send an address: the target's name is resolved here, not by the proxy.
inline bool resolves_locally(Scheme s) { return s == Scheme::kSocks4 || s == Scheme::kSocks5; }
// http:// and https:// proxies: plain-HTTP targets go as absolute-form requests, no tunnel.
inline bool is_http_proxy(Scheme s) { return s == Scheme::kHttp || s == Scheme::kHttps; }
// "Basic base64(user:password)", for Proxy-Authorization.
std::string basic_credentials(const ProxyConfig& proxy);

// One tunnel's opening handshake. The first message is ready at construction (unless the target
// cannot be expressed, e.g. a name for SOCKS4: kFailed at once).
class Handshake {
 public:
  enum class Status {
    kSend,     // write output(), then call sent()
    kReceive,  // feed() what the proxy sends
    kDone,     // the tunnel is open: bytes from now on are the target's
    kFailed,   // error() says why, with the proxy's reply
  };

  // target_host: a name, or an IP literal (IPv6 without brackets). SOCKS4 needs an IPv4 literal;
  // SOCKS5 sends a literal as an address and a name as a name (for the proxy to resolve).
  Handshake(const ProxyConfig& proxy, std::string target_host, uint16_t target_port);

  Status status() const { return status_; }
  const std::string& output() const { return output_; }
  void sent();
  // Takes bytes from the proxy; returns how many belong to the handshake (the rest arrived after
  // the tunnel opened, or after a failure).
  size_t feed(std::string_view bytes);
  const std::string& error() const { return error_; }

 private:
  enum class Step { kHttpReply, kSocks4Reply, kSocks5Method, kSocks5Auth, kSocks5Reply };
  void send(Step next, std::string bytes);
  void fail(std::string why);
  // Each returns the bytes of buffer_ it used once its reply is complete, 0 while incomplete.
  size_t on_http_reply();
  size_t on_socks4_reply();
  size_t on_socks5_method();
  size_t on_socks5_auth();
  size_t on_socks5_reply();
  void send_socks5_connect();

  ProxyConfig proxy_;
  std::string target_host_;
  uint16_t target_port_;
  Status status_ = Status::kSend;
  Step step_ = Step::kHttpReply;
  std::string output_;
  std::string buffer_;  // reply bytes not yet complete
  std::string error_;
};

// What a SOCKS5 reply code means ("connection refused", ...), and SOCKS4's.
std::string_view socks5_reply_meaning(uint8_t code) noexcept;
std::string_view socks4_reply_meaning(uint8_t code) noexcept;

}  // namespace ctn::proxy
