// Tests for the proxy URL parser and the tunnel handshakes (HTTP CONNECT, SOCKS4/4a/5), every
// reply fed whole and split at every byte.

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "proxy/proxy.h"

namespace ctn::proxy {
namespace {

using namespace std::string_literals;
using Status = Handshake::Status;

ProxyConfig parse(std::string_view url) {
  ProxyConfig p;
  std::string why;
  EXPECT_TRUE(parse_proxy_url(url, &p, &why)) << url << ": " << why;
  return p;
}

// One exchange of a scripted handshake: what we must send, then what the proxy answers.
struct Step {
  std::string expect_sent;
  std::string reply;
};

// Runs the script with each reply cut at `split` (when inside it): the handshake must end in the
// same state whatever the cut. Returns the final status; `error` gets error().
Status run(const ProxyConfig& proxy, const std::string& host, uint16_t port, const std::vector<Step>& script,
           size_t split, std::string* error = nullptr) {
  Handshake h(proxy, host, port);
  for (const Step& step : script) {
    if (h.status() != Status::kSend) break;
    EXPECT_EQ(h.output(), step.expect_sent);
    h.sent();
    EXPECT_EQ(h.status(), Status::kReceive);
    const std::string_view reply = step.reply;
    const size_t cut = std::min(split, reply.size());
    size_t used = h.feed(reply.substr(0, cut));
    if (h.status() == Status::kReceive) {
      EXPECT_EQ(used, cut);
      used += h.feed(reply.substr(cut));
    }
    // A reply that opened the tunnel or led to the next message was used exactly.
    if (h.status() == Status::kDone || h.status() == Status::kSend) {
      EXPECT_EQ(used, reply.size());
    }
  }
  if (error) *error = h.error();
  return h.status();
}

// Runs the script split at every byte position and expects `want` each time.
void expect_every_split(const ProxyConfig& proxy, const std::string& host, uint16_t port,
                        const std::vector<Step>& script, Status want, const std::string& error_part = "") {
  size_t longest = 0;
  for (const Step& s : script) longest = std::max(longest, s.reply.size());
  for (size_t split = 0; split <= longest; ++split) {
    std::string error;
    EXPECT_EQ(run(proxy, host, port, script, split, &error), want) << "split at " << split;
    if (!error_part.empty()) {
      EXPECT_NE(error.find(error_part), std::string::npos) << error;
    }
  }
}

// ---- URLs ----

TEST(ProxyUrl, SchemesHostsPortsAndDefaults) {
  EXPECT_EQ(parse("http://127.0.0.1:8080").port, 8080);
  EXPECT_EQ(parse("http://proxy.test").port, 80);
  EXPECT_EQ(parse("HTTPS://Proxy.Test/").port, 443);
  EXPECT_EQ(parse("HTTPS://Proxy.Test/").host, "proxy.test");
  EXPECT_EQ(parse("socks4://h").port, 1080);
  EXPECT_EQ(parse("socks4a://h:1").scheme, Scheme::kSocks4a);
  EXPECT_EQ(parse("socks5://h:1").scheme, Scheme::kSocks5);
  EXPECT_EQ(parse("socks5h://h:1").scheme, Scheme::kSocks5h);
  const ProxyConfig v6 = parse("socks5://[::1]:1080");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(canonical_url(v6), "socks5://[::1]:1080");
  EXPECT_FALSE(parse("http://h:1").has_credentials);
}

TEST(ProxyUrl, CredentialsArePercentDecoded) {
  const ProxyConfig p = parse("http://us%40er:p%3Ass%25w@rd@proxy.test:3128");
  EXPECT_TRUE(p.has_credentials);
  EXPECT_EQ(p.username, "us@er");
  EXPECT_EQ(p.password, "p:ss%w@rd");
  EXPECT_EQ(p.host, "proxy.test");
  // The canonical form encodes them again; parsing it gives the same config.
  const ProxyConfig again = parse(canonical_url(p));
  EXPECT_EQ(again.username, p.username);
  EXPECT_EQ(again.password, p.password);
  EXPECT_EQ(canonical_url(again), canonical_url(p));
  // A user without a password.
  const ProxyConfig user = parse("socks4://someone@h:1");
  EXPECT_EQ(user.username, "someone");
  EXPECT_EQ(user.password, "");
}

TEST(ProxyUrl, RedactedHidesThePasswordButTellsCredentialsApart) {
  const std::string a = redacted_url(parse("http://u:secret@h:1"));
  const std::string b = redacted_url(parse("http://u:other@h:1"));
  EXPECT_EQ(a.find("secret"), std::string::npos);
  EXPECT_NE(a, b);
  EXPECT_EQ(redacted_url(parse("http://h:1")), "http://h:1");
}

TEST(ProxyUrl, MalformedOnesAreRefusedWithAReason) {
  for (const std::string& bad : std::vector<std::string>{
           "", "127.0.0.1:8080", "ftp://h:1", "http://", "http://:8080", "http://h:0", "http://h:65536",
           "http://h:x", "http://h:", "http://h/path", "http://h?q", "http://[::1", "http://[nothex]:1",
           "http://h%zz:1", "http://u:%zz@h:1", "http://h h:1", "socks5://" + std::string(1, '\0') + "h:1"}) {
    ProxyConfig p;
    std::string why;
    EXPECT_FALSE(parse_proxy_url(bad, &p, &why)) << bad;
    EXPECT_NE(why.find("invalid proxy URL"), std::string::npos) << why;
  }
  ProxyConfig p;
  std::string why;
  EXPECT_FALSE(parse_proxy_url("socks5://" + std::string(256, 'u') + ":p@h:1", &p, &why));
}

TEST(ProxyUrl, BasicCredentials) {
  EXPECT_EQ(basic_credentials(parse("http://Aladdin:open%20sesame@h:1")),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
}

// ---- HTTP CONNECT ----

TEST(ConnectHandshake, OpensOnA2xxReplySplitAnywhere) {
  const std::vector<Step> script = {{"CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n",
                                     "HTTP/1.1 200 Connection established\r\nProxy-Agent: test\r\n\r\n"}};
  expect_every_split(parse("http://p:1"), "example.test", 443, script, Status::kDone);
}

TEST(ConnectHandshake, SendsCredentialsAndBracketsIPv6) {
  const std::vector<Step> script = {
      {"CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\nProxy-Authorization: Basic dTpw\r\n\r\n",
       "HTTP/1.0 200 OK\r\n\r\n"}};
  expect_every_split(parse("https://u:p@p:1"), "::1", 8443, script, Status::kDone);
}

TEST(ConnectHandshake, RefusalsCarryTheStatusLine) {
  const std::vector<Step> denied = {{"CONNECT t:443 HTTP/1.1\r\nHost: t:443\r\n\r\n",
                                     "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: "
                                     "Basic\r\nContent-Length: 0\r\n\r\n"}};
  expect_every_split(parse("http://p:1"), "t", 443, denied, Status::kFailed,
                     "HTTP/1.1 407 Proxy Authentication Required (the proxy wants credentials");
  const std::vector<Step> bad_gateway = {
      {"CONNECT t:443 HTTP/1.1\r\nHost: t:443\r\n\r\n", "HTTP/1.1 502 Bad Gateway\r\n\r\n"}};
  expect_every_split(parse("http://p:1"), "t", 443, bad_gateway, Status::kFailed, "502 Bad Gateway");
  const std::vector<Step> garbage = {{"CONNECT t:443 HTTP/1.1\r\nHost: t:443\r\n\r\n", "SSH-2.0-x\r\n\r\n"}};
  expect_every_split(parse("http://p:1"), "t", 443, garbage, Status::kFailed, "SSH-2.0-x");
}

TEST(ConnectHandshake, BytesAfterTheReplyAreNotUsed) {
  Handshake h(parse("http://p:1"), "t", 443);
  h.sent();
  const std::string reply = "HTTP/1.1 200 OK\r\n\r\n";
  EXPECT_EQ(h.feed(reply.substr(0, 5)), 5u);
  EXPECT_EQ(h.feed(reply.substr(5) + "extra"), reply.size() - 5);
  EXPECT_EQ(h.status(), Status::kDone);
}

TEST(ConnectHandshake, AnEndlessReplyFails) {
  Handshake h(parse("http://p:1"), "t", 443);
  h.sent();
  h.feed("HTTP/1.1 200 OK\r\n");
  for (int i = 0; i < 2000 && h.status() == Status::kReceive; ++i) h.feed("X-Filler: 0123456789\r\n");
  EXPECT_EQ(h.status(), Status::kFailed);
}

// ---- SOCKS4 / SOCKS4a ----

TEST(Socks4Handshake, ConnectsToAnIPv4AddressWithTheUserId) {
  const std::vector<Step> script = {
      {"\x04\x01\x01\xbb\x7f\x00\x00\x01user\0"s, "\x00\x5a\x00\x00\x00\x00\x00\x00"s}};
  expect_every_split(parse("socks4://user@p:1"), "127.0.0.1", 443, script, Status::kDone);
}

TEST(Socks4Handshake, NamesNeedSocks4a) {
  std::string error;
  EXPECT_EQ(run(parse("socks4://p:1"), "example.test", 443, {}, 0, &error), Status::kFailed);
  EXPECT_NE(error.find("IPv4"), std::string::npos);
  const std::vector<Step> script = {
      {"\x04\x01\x00\x50\x00\x00\x00\x01\0example.test\0"s, "\x00\x5a\x00\x00\x00\x00\x00\x00"s}};
  expect_every_split(parse("socks4a://p:1"), "example.test", 80, script, Status::kDone);
}

TEST(Socks4Handshake, RejectionsCarryTheCode) {
  const std::vector<Step> script = {
      {"\x04\x01\x00\x50\x0a\x00\x00\x01\0"s, "\x00\x5b\x00\x00\x00\x00\x00\x00"s}};
  expect_every_split(parse("socks4://p:1"), "10.0.0.1", 80, script, Status::kFailed,
                     "code 91 (request rejected or failed)");
}

// ---- SOCKS5 ----

TEST(Socks5Handshake, NoAuthThenAName) {
  const std::vector<Step> script = {{"\x05\x01\x00"s, "\x05\x00"s},
                                    {"\x05\x01\x00\x03\x0c"
                                     "example.test\x01\xbb"s,
                                     "\x05\x00\x00\x01\x7f\x00\x00\x01\x04\x38"s}};
  expect_every_split(parse("socks5h://p:1"), "example.test", 443, script, Status::kDone);
}

TEST(Socks5Handshake, AddressesGoAsAddresses) {
  const std::vector<Step> v4 = {
      {"\x05\x01\x00"s, "\x05\x00"s},
      {"\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x50"s, "\x05\x00\x00\x03\x04host\x00\x50"s}};
  expect_every_split(parse("socks5://p:1"), "127.0.0.1", 80, v4, Status::kDone);
  const std::vector<Step> v6 = {{"\x05\x01\x00"s, "\x05\x00"s},
                                {"\x05\x01\x00\x04"s + std::string(15, '\0') + "\x01\x00\x50"s,
                                 "\x05\x00\x00\x04"s + std::string(16, '\0') + "\x00\x50"s}};
  expect_every_split(parse("socks5://p:1"), "::1", 80, v6, Status::kDone);
}

TEST(Socks5Handshake, UsernamePassword) {
  const std::vector<Step> script = {
      {"\x05\x02\x00\x02"s, "\x05\x02"s},
      {"\x01\x04user\x06secret"s, "\x01\x00"s},
      {"\x05\x01\x00\x01\x0a\x00\x00\x02\x00\x50"s, "\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00"s}};
  expect_every_split(parse("socks5://user:secret@p:1"), "10.0.0.2", 80, script, Status::kDone);
  const std::vector<Step> wrong = {{"\x05\x02\x00\x02"s, "\x05\x02"s}, {"\x01\x04user\x01x"s, "\x01\x01"s}};
  expect_every_split(parse("socks5://user:x@p:1"), "10.0.0.2", 80, wrong, Status::kFailed,
                     "rejected the user name and password");
}

TEST(Socks5Handshake, AuthRequiredWithoutCredentials) {
  expect_every_split(parse("socks5://p:1"), "h", 80, {{"\x05\x01\x00"s, "\x05\xff"s}}, Status::kFailed,
                     "requires authentication");
}

TEST(Socks5Handshake, ConnectFailuresCarryTheMeaning) {
  const std::vector<Step> script = {
      {"\x05\x01\x00"s, "\x05\x00"s},
      {"\x05\x01\x00\x03\x01h\x00\x50"s, "\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00"s}};
  expect_every_split(parse("socks5h://p:1"), "h", 80, script, Status::kFailed, "code 5 (connection refused)");
}

TEST(Socks5Handshake, NotASocksServer) {
  expect_every_split(parse("socks5://p:1"), "h", 80, {{"\x05\x01\x00"s, "HTTP/1.1 400 Bad"s}},
                     Status::kFailed, "version 0x48");
}

}  // namespace
}  // namespace ctn::proxy
