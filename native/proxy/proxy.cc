#include "proxy/proxy.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include <openssl/base64.h>
#include <openssl/sha.h>

namespace ctn::proxy {

namespace {

// Replies longer than this are not a CONNECT answer anybody should wait for.
constexpr size_t kMaxHttpReply = 16 * 1024;

constexpr std::pair<std::string_view, Scheme> kSchemes[] = {
    {"http", Scheme::kHttp},       {"https", Scheme::kHttps},   {"socks4", Scheme::kSocks4},
    {"socks4a", Scheme::kSocks4a}, {"socks5", Scheme::kSocks5}, {"socks5h", Scheme::kSocks5h},
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool percent_decode(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = hex_value(in[i + 1]);
    const int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

std::string percent_encode(std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : in) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

bool valid_host_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
}

std::string host_for_url(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

void put_u16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xff));
}

uint8_t byte_at(const std::string& s, size_t i) { return static_cast<uint8_t>(s[i]); }

std::string hex_byte(uint8_t b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", b);
  return buf;
}

}  // namespace

std::string_view scheme_name(Scheme scheme) noexcept {
  for (const auto& [name, s] : kSchemes) {
    if (s == scheme) return name;
  }
  return "http";
}

bool parse_proxy_url(std::string_view url, ProxyConfig* out, std::string* why) {
  auto reject = [&](std::string what) {
    *why = "invalid proxy URL: " + what;
    return false;
  };
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) return reject("no scheme (expected e.g. socks5://host:port)");
  const std::string scheme = lower(url.substr(0, sep));
  const auto known = std::find_if(std::begin(kSchemes), std::end(kSchemes),
                                  [&](const auto& e) { return e.first == scheme; });
  if (known == std::end(kSchemes)) {
    return reject("scheme '" + scheme + "' is not one of http, https, socks4, socks4a, socks5, socks5h");
  }
  ProxyConfig p;
  p.scheme = known->second;
  std::string_view rest = url.substr(sep + 3);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#") != std::string_view::npos)
    return reject("a proxy URL has no path, query or fragment");
  const size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    const size_t colon = userinfo.find(':');
    if (!percent_decode(userinfo.substr(0, colon), &p.username))
      return reject("bad percent-encoding in the user name");
    if (colon != std::string_view::npos && !percent_decode(userinfo.substr(colon + 1), &p.password)) {
      return reject("bad percent-encoding in the password");
    }
    p.has_credentials = true;
    rest = rest.substr(at + 1);
  }
  std::string_view port;
  bool has_port = false;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return reject("unterminated IPv6 address");
    p.host = std::string(rest.substr(1, close - 1));
    in6_addr a6;
    if (inet_pton(AF_INET6, p.host.c_str(), &a6) != 1) return reject("bad IPv6 address '" + p.host + "'");
    rest = rest.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return reject("junk after the IPv6 address");
    has_port = !rest.empty();
    if (has_port) port = rest.substr(1);
  } else {
    const size_t colon = rest.find(':');
    p.host = std::string(rest.substr(0, colon));
    has_port = colon != std::string_view::npos;
    if (has_port) port = rest.substr(colon + 1);
    if (!std::all_of(p.host.begin(), p.host.end(), valid_host_char))
      return reject("bad host '" + p.host + "'");
    p.host = lower(p.host);
  }
  if (p.host.empty()) return reject("no host");
  if (has_port) {
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return reject("bad port '" + std::string(port) + "'");
    }
    const unsigned long n = std::stoul(std::string(port));
    if (n == 0 || n > 65535) return reject("port " + std::string(port) + " is out of range");
    p.port = static_cast<uint16_t>(n);
  } else {
    p.port = p.scheme == Scheme::kHttp ? 80 : p.scheme == Scheme::kHttps ? 443 : 1080;
  }
  if ((p.scheme == Scheme::kSocks5 || p.scheme == Scheme::kSocks5h) && p.has_credentials &&
      (p.username.size() > 255 || p.password.size() > 255)) {
    return reject("SOCKS5 user names and passwords are at most 255 bytes");
  }
  *out = std::move(p);
  return true;
}

std::string canonical_url(const ProxyConfig& p) {
  std::string s(scheme_name(p.scheme));
  s.append("://");
  if (p.has_credentials) {
    s.append(percent_encode(p.username)).append(":").append(percent_encode(p.password)).append("@");
  }
  s.append(host_for_url(p.host)).append(":").append(std::to_string(p.port));
  return s;
}

std::string redacted_url(const ProxyConfig& p) {
  std::string s(scheme_name(p.scheme));
  s.append("://");
  if (p.has_credentials) {
    const std::string both = p.username + '\0' + p.password;
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const uint8_t*>(both.data()), both.size(), digest);
    s.append(percent_encode(p.username)).append(":#");
    for (int i = 0; i < 4; ++i) s.append(hex_byte(digest[i]).substr(2));
    s.append("@");
  }
  s.append(host_for_url(p.host)).append(":").append(std::to_string(p.port));
  return s;
}

std::string basic_credentials(const ProxyConfig& p) {
  const std::string plain = p.username + ":" + p.password;
  size_t len = 0;
  EVP_EncodedLength(&len, plain.size());
  std::string encoded(len, '\0');
  const size_t n = EVP_EncodeBlock(reinterpret_cast<uint8_t*>(encoded.data()),
                                   reinterpret_cast<const uint8_t*>(plain.data()), plain.size());
  encoded.resize(n);
  return "Basic " + encoded;
}

std::string_view socks5_reply_meaning(uint8_t code) noexcept {
  switch (code) {
    case 0:
      return "succeeded";
    case 1:
      return "general SOCKS server failure";
    case 2:
      return "connection not allowed by ruleset";
    case 3:
      return "network unreachable";
    case 4:
      return "host unreachable";
    case 5:
      return "connection refused";
    case 6:
      return "TTL expired";
    case 7:
      return "command not supported";
    case 8:
      return "address type not supported";
  }
  return "unknown reply code";
}

std::string_view socks4_reply_meaning(uint8_t code) noexcept {
  switch (code) {
    case 90:
      return "request granted";
    case 91:
      return "request rejected or failed";
    case 92:
      return "rejected: the proxy cannot reach the client's identd";
    case 93:
      return "rejected: the user id does not match identd's";
  }
  return "unknown reply code";
}

// ---- Handshake ----

Handshake::Handshake(const ProxyConfig& proxy, std::string target_host, uint16_t target_port)
    : proxy_(proxy), target_host_(std::move(target_host)), target_port_(target_port) {
  in_addr a4;
  const bool is_v4 = inet_pton(AF_INET, target_host_.c_str(), &a4) == 1;
  switch (proxy_.scheme) {
    case Scheme::kHttp:
    case Scheme::kHttps: {
      const std::string authority = host_for_url(target_host_) + ":" + std::to_string(target_port_);
      std::string req = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
      if (proxy_.has_credentials) req += "Proxy-Authorization: " + basic_credentials(proxy_) + "\r\n";
      req += "\r\n";
      send(Step::kHttpReply, std::move(req));
      return;
    }
    case Scheme::kSocks4:
    case Scheme::kSocks4a: {
      if (!is_v4 && proxy_.scheme == Scheme::kSocks4) {
        fail("SOCKS4 carries IPv4 addresses only; " + target_host_ + " is not one");
        return;
      }
      std::string req{'\x04', '\x01'};
      put_u16(req, target_port_);
      if (is_v4) {
        req.append(reinterpret_cast<const char*>(&a4), 4);
      } else {
        req.append({'\0', '\0', '\0', '\x01'});  // SOCKS4a: 0.0.0.x says "a name follows"
      }
      req.append(proxy_.username).push_back('\0');
      if (!is_v4) req.append(target_host_).push_back('\0');
      send(Step::kSocks4Reply, std::move(req));
      return;
    }
    case Scheme::kSocks5:
    case Scheme::kSocks5h: {
      // No authentication, or username/password when we have credentials.
      std::string greeting = proxy_.has_credentials ? std::string{'\x05', '\x02', '\x00', '\x02'}
                                                    : std::string{'\x05', '\x01', '\x00'};
      send(Step::kSocks5Method, std::move(greeting));
      return;
    }
  }
}

void Handshake::send(Step next, std::string bytes) {
  step_ = next;
  output_ = std::move(bytes);
  status_ = Status::kSend;
}

void Handshake::fail(std::string why) {
  status_ = Status::kFailed;
  error_ = std::move(why);
  output_.clear();
}

void Handshake::sent() {
  if (status_ != Status::kSend) return;
  output_.clear();
  status_ = Status::kReceive;
}

size_t Handshake::feed(std::string_view bytes) {
  if (status_ != Status::kReceive) return 0;
  const size_t before = buffer_.size();
  buffer_.append(bytes);
  size_t used = 0;
  switch (step_) {
    case Step::kHttpReply:
      used = on_http_reply();
      break;
    case Step::kSocks4Reply:
      used = on_socks4_reply();
      break;
    case Step::kSocks5Method:
      used = on_socks5_method();
      break;
    case Step::kSocks5Auth:
      used = on_socks5_auth();
      break;
    case Step::kSocks5Reply:
      used = on_socks5_reply();
      break;
  }
  if (used == 0 && status_ == Status::kReceive) return bytes.size();  // all kept for later
  buffer_.clear();
  // `used` counts from the start of buffer_, which held `before` bytes of earlier calls.
  return used > before ? used - before : 0;
}

size_t Handshake::on_http_reply() {
  const size_t end = buffer_.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (buffer_.size() > kMaxHttpReply) {
      fail("the proxy's reply to CONNECT is longer than " + std::to_string(kMaxHttpReply) + " bytes");
      return buffer_.size();
    }
    return 0;
  }
  const size_t line_end = buffer_.find("\r\n");
  const std::string line = buffer_.substr(0, line_end);
  // "HTTP/1.x SP 3DIGIT [SP reason]"
  const bool shaped = line.size() >= 12 && line.compare(0, 7, "HTTP/1.") == 0 && line[8] == ' ' &&
                      std::isdigit(static_cast<unsigned char>(line[9])) &&
                      std::isdigit(static_cast<unsigned char>(line[10])) &&
                      std::isdigit(static_cast<unsigned char>(line[11]));
  if (!shaped) {
    fail("the proxy did not answer CONNECT with an HTTP status line (got \"" + line.substr(0, 80) + "\")");
    return end + 4;
  }
  const int status = std::stoi(line.substr(9, 3));
  if (status < 200 || status > 299) {
    std::string why = "the proxy refused CONNECT " + host_for_url(target_host_) + ":" +
                      std::to_string(target_port_) + ": " + line;
    if (status == 407) {
      why += proxy_.has_credentials ? " (the credentials were not accepted)"
                                    : " (the proxy wants credentials: user:password@ in the proxy URL)";
    }
    fail(std::move(why));
    return end + 4;
  }
  status_ = Status::kDone;
  return end + 4;
}

size_t Handshake::on_socks4_reply() {
  if (buffer_.size() < 8) return 0;
  const uint8_t code = byte_at(buffer_, 1);
  if (byte_at(buffer_, 0) != 0 && byte_at(buffer_, 0) != 4) {
    fail("the proxy's SOCKS4 reply has version " + hex_byte(byte_at(buffer_, 0)) + " (not a SOCKS4 proxy?)");
  } else if (code != 90) {
    fail("the SOCKS4 proxy refused the connection: code " + std::to_string(code) + " (" +
         std::string(socks4_reply_meaning(code)) + ")");
  } else {
    status_ = Status::kDone;
  }
  return 8;
}

size_t Handshake::on_socks5_method() {
  if (buffer_.size() < 2) return 0;
  const uint8_t method = byte_at(buffer_, 1);
  if (byte_at(buffer_, 0) != 5) {
    fail("the proxy's SOCKS5 reply has version " + hex_byte(byte_at(buffer_, 0)) + " (not a SOCKS5 proxy?)");
  } else if (method == 0x00) {
    send_socks5_connect();
  } else if (method == 0x02 && proxy_.has_credentials) {
    std::string auth{'\x01'};
    auth.push_back(static_cast<char>(proxy_.username.size()));
    auth.append(proxy_.username);
    auth.push_back(static_cast<char>(proxy_.password.size()));
    auth.append(proxy_.password);
    send(Step::kSocks5Auth, std::move(auth));
  } else if (method == 0xff || method == 0x02) {
    fail(proxy_.has_credentials
             ? "the SOCKS5 proxy accepts none of the offered authentication methods"
             : "the SOCKS5 proxy requires authentication (user:password@ in the proxy URL)");
  } else {
    fail("the SOCKS5 proxy chose authentication method " + hex_byte(method) + ", which was not offered");
  }
  return 2;
}

size_t Handshake::on_socks5_auth() {
  if (buffer_.size() < 2) return 0;
  if (byte_at(buffer_, 1) != 0) {
    fail("the SOCKS5 proxy rejected the user name and password (status " + hex_byte(byte_at(buffer_, 1)) +
         ")");
  } else {
    send_socks5_connect();
  }
  return 2;
}

void Handshake::send_socks5_connect() {
  std::string req{'\x05', '\x01', '\x00'};
  in_addr a4;
  in6_addr a6;
  if (inet_pton(AF_INET, target_host_.c_str(), &a4) == 1) {
    req.push_back('\x01');
    req.append(reinterpret_cast<const char*>(&a4), 4);
  } else if (inet_pton(AF_INET6, target_host_.c_str(), &a6) == 1) {
    req.push_back('\x04');
    req.append(reinterpret_cast<const char*>(&a6), 16);
  } else if (target_host_.size() > 255) {
    fail("a SOCKS5 host name is at most 255 bytes");
    return;
  } else {
    req.push_back('\x03');
    req.push_back(static_cast<char>(target_host_.size()));
    req.append(target_host_);
  }
  put_u16(req, target_port_);
  send(Step::kSocks5Reply, std::move(req));
}

size_t Handshake::on_socks5_reply() {
  if (buffer_.size() < 5) return 0;
  if (byte_at(buffer_, 0) != 5) {
    fail("the proxy's SOCKS5 reply has version " + hex_byte(byte_at(buffer_, 0)));
    return buffer_.size();
  }
  const uint8_t code = byte_at(buffer_, 1);
  if (code != 0) {
    // The rest of a failure reply does not matter: the proxy closes the connection.
    fail("the SOCKS5 proxy could not connect to " + host_for_url(target_host_) + ":" +
         std::to_string(target_port_) + ": code " + std::to_string(code) + " (" +
         std::string(socks5_reply_meaning(code)) + ")");
    return buffer_.size();
  }
  size_t address = 0;
  switch (byte_at(buffer_, 3)) {
    case 1:
      address = 4;
      break;
    case 4:
      address = 16;
      break;
    case 3:
      address = 1 + size_t{byte_at(buffer_, 4)};
      break;
    default:
      fail("the SOCKS5 proxy's reply has address type " + hex_byte(byte_at(buffer_, 3)));
      return buffer_.size();
  }
  const size_t total = 4 + address + 2;
  if (buffer_.size() < total) return 0;
  status_ = Status::kDone;
  return total;
}

}  // namespace ctn::proxy
