// The dns room alone: the HTTPS record parser (RFC 9460) and Chrome's choice among records, the TTL
// cache (an injected clock), the Happy Eyeballs order, and the resolver (c-ares on an Asio
// io_context) against a small name server on 127.0.0.1 that this test runs on the same io_context.
#include <gtest/gtest.h>

#include <array>
#include <asio.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "dns/dns_cache.h"
#include "dns/happy_eyeballs.h"
#include "dns/https_record.h"
#include "dns/resolver.h"

namespace ctn::dns {
namespace {

std::string u16(uint16_t v) { return std::string{static_cast<char>(v >> 8), static_cast<char>(v & 0xff)}; }
std::string u32(uint32_t v) { return u16(static_cast<uint16_t>(v >> 16)) + u16(static_cast<uint16_t>(v)); }
std::string param(uint16_t key, const std::string& value) {
  return u16(key) + u16(static_cast<uint16_t>(value.size())) + value;
}
std::string wire_name(const std::string& dotted) {
  std::string out;
  size_t at = 0;
  while (at < dotted.size()) {
    size_t dot = dotted.find('.', at);
    if (dot == std::string::npos) dot = dotted.size();
    out.push_back(static_cast<char>(dot - at));
    out.append(dotted, at, dot - at);
    at = dot + 1;
  }
  out.push_back('\0');
  return out;
}
// priority 1, target ".", alpn h3,h2, port 443, ipv4hint 192.0.2.1, ech "ECHCFG", ipv6hint 2001:db8::1
std::string full_rdata() {
  const std::string v6("\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
  return u16(1) + std::string(1, '\0') + param(1, std::string("\x02h3\x02h2", 6)) + param(3, u16(443)) +
         param(4, std::string("\xc0\x00\x02\x01", 4)) + param(5, "ECHCFG") + param(6, v6);
}

TEST(HttpsRecord, ParsesEveryKnownParameter) {
  HttpsRecord r;
  std::string why;
  ASSERT_TRUE(parse_https_rdata(full_rdata(), &r, &why)) << why;
  EXPECT_EQ(r.priority, 1);
  EXPECT_EQ(r.target, ".");
  EXPECT_EQ(r.alpn, (std::vector<std::string>{"h3", "h2"}));
  EXPECT_EQ(r.port, 443);
  EXPECT_EQ(r.ipv4_hints, (std::vector<std::string>{"192.0.2.1"}));
  EXPECT_EQ(r.ipv6_hints, (std::vector<std::string>{"2001:db8::1"}));
  EXPECT_EQ(r.ech_config_list, "ECHCFG");
  EXPECT_FALSE(r.unknown_mandatory_key);
}

TEST(HttpsRecord, AliasModeAndItsTarget) {
  HttpsRecord r;
  ASSERT_TRUE(parse_https_rdata(u16(0) + wire_name("cdn.example.net"), &r, nullptr));
  EXPECT_TRUE(r.alias_mode());
  EXPECT_EQ(r.target, "cdn.example.net");
}

TEST(HttpsRecord, RefusesMalformedRecords) {
  HttpsRecord r;
  std::string why;
  const std::string head = u16(1) + std::string(1, '\0');
  // Every strict prefix of a good record is truncated somewhere.
  const std::string good = full_rdata();
  for (size_t n = 0; n < good.size(); ++n) {
    if (n == head.size()) continue;  // a record with no parameters at all is valid
    bool boundary = false;           // ... and so is one cut right after a whole parameter
    for (size_t end : {size_t{13}, size_t{19}, size_t{27}, size_t{37}}) boundary |= n == end;
    if (boundary) continue;
    EXPECT_FALSE(parse_https_rdata(good.substr(0, n), &r, nullptr)) << n;
  }
  EXPECT_FALSE(parse_https_rdata(head + param(3, u16(1)) + param(1, "\x02h2"), &r, &why));  // order
  EXPECT_EQ(why, "SvcParamKeys out of order or repeated");
  EXPECT_FALSE(parse_https_rdata(head + param(1, "\x02h2") + param(1, "\x02h3"), &r, nullptr));  // repeat
  EXPECT_FALSE(parse_https_rdata(head + param(1, std::string("\x00", 1)), &r, nullptr));  // empty alpn id
  EXPECT_FALSE(parse_https_rdata(head + param(1, "\x05h2"), &r, nullptr));                // alpn id overruns
  EXPECT_FALSE(parse_https_rdata(head + param(1, ""), &r, nullptr));                      // no alpn ids
  EXPECT_FALSE(parse_https_rdata(head + param(2, "x"), &r, nullptr));      // no-default-alpn has no value
  EXPECT_FALSE(parse_https_rdata(head + param(3, "x"), &r, nullptr));      // port is two bytes
  EXPECT_FALSE(parse_https_rdata(head + param(4, "12345"), &r, nullptr));  // ipv4hint: 4-byte units
  EXPECT_FALSE(parse_https_rdata(head + param(6, "0123"), &r, nullptr));   // ipv6hint: 16-byte units
  EXPECT_FALSE(parse_https_rdata(head + param(0, u16(0)), &r, nullptr));   // mandatory lists itself
  EXPECT_FALSE(parse_https_rdata(u16(1) + "\xc0\x0c", &r, nullptr));       // a compressed TargetName
  EXPECT_FALSE(parse_https_rdata(u16(1) + std::string(300, '\x01'), &r, nullptr));  // name too long
}

TEST(HttpsRecord, UnknownMandatoryKeyMarksTheRecordAndUnknownKeysAreSkipped) {
  HttpsRecord r;
  const std::string head = u16(1) + std::string(1, '\0');
  ASSERT_TRUE(parse_https_rdata(head + param(0, u16(99)) + param(1, "\x02h2") + param(99, "?"), &r, nullptr));
  EXPECT_TRUE(r.unknown_mandatory_key);
  ASSERT_TRUE(parse_https_rdata(head + param(1, "\x02h2") + param(99, "?"), &r, nullptr));
  EXPECT_FALSE(r.unknown_mandatory_key);
  EXPECT_EQ(r.alpn, std::vector<std::string>{"h2"});
}

std::string response(const std::string& qname, uint16_t qtype, const std::vector<std::string>& answers,
                     uint16_t rcode = 0) {
  std::string m = u16(0x1234) + u16(static_cast<uint16_t>(0x8180 | rcode)) + u16(1) +
                  u16(static_cast<uint16_t>(answers.size())) + u16(0) + u16(0);
  m += wire_name(qname) + u16(qtype) + u16(1);
  for (const std::string& a : answers) m += a;
  return m;
}
// An answer owned by the question's name (a compression pointer to offset 12).
std::string answer_rr(uint16_t type, uint32_t ttl, const std::string& rdata) {
  return std::string("\xc0\x0c", 2) + u16(type) + u16(1) + u32(ttl) +
         u16(static_cast<uint16_t>(rdata.size())) + rdata;
}

TEST(HttpsRecord, ResponseMessagePassesOverCnamesAndKeepsTtls) {
  const std::string cname = answer_rr(5, 300, wire_name("other.example"));
  const std::string m = response(
      "a.example", kTypeHttps,
      {cname, answer_rr(kTypeHttps, 120, full_rdata()), answer_rr(kTypeHttps, 60, std::string("\x00", 1))});
  std::vector<HttpsRecord> records;
  std::string why;
  ASSERT_TRUE(parse_https_response(m, &records, &why)) << why;
  ASSERT_EQ(records.size(), 1u);  // the third is malformed (no TargetName): skipped
  EXPECT_EQ(records[0].ttl_seconds, 120u);
  // Every strict prefix misses part of an answer the header announces.
  for (size_t n = 0; n < m.size(); ++n)
    EXPECT_FALSE(parse_https_response(m.substr(0, n), &records, nullptr)) << n;
}

TEST(HttpsRecord, ChoiceFollowsChrome) {
  HttpsRecord alias;
  alias.priority = 0;
  alias.target = "elsewhere.example";
  HttpsRecord other_target;
  other_target.priority = 1;
  other_target.target = "pool.example";
  other_target.alpn = {"h2"};
  HttpsRecord second;
  second.priority = 2;
  second.target = ".";
  second.alpn = {"h2"};
  second.ttl_seconds = 30;
  HttpsRecord first = second;
  first.priority = 1;
  first.alpn = {"h3"};
  first.ech_config_list = "E";
  HttpsRecord wrong_port = first;
  wrong_port.priority = 0;
  wrong_port.port = 8443;
  EXPECT_FALSE(choose_https_record({alias, other_target}, "a.example", 443));
  auto c = choose_https_record({alias, other_target, second, first}, "a.example", 443);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->alpn, std::vector<std::string>{"h3"});
  EXPECT_EQ(c->ech_config_list, "E");
  first.port = 8443;
  c = choose_https_record({second, first}, "a.example", 443);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->alpn, std::vector<std::string>{"h2"});
  HttpsRecord own_name = second;
  own_name.target = "A.Example.";
  EXPECT_TRUE(choose_https_record({own_name}, "a.example", 443));
  EXPECT_EQ(https_query_name("a.example", 443), "a.example");
  EXPECT_EQ(https_query_name("a.example", 8443), "_8443._https.a.example");
}

TEST(DnsCache, KeepsAnswersForTheirTtlAndFailuresBriefly) {
  DnsCache cache(3);
  const auto t0 = DnsCache::Clock::now();
  DnsAnswer a;
  a.addresses = {"127.0.0.1"};
  a.ttl_seconds = 10;
  const std::string k = DnsCache::key("", "", 0, "A.example");
  EXPECT_EQ(k, DnsCache::key("", "", 0, "a.example"));
  EXPECT_NE(k, DnsCache::key("someone", "", 0, "a.example"));  // identities never share
  EXPECT_NE(k, DnsCache::key("", "127.0.0.1:53", 0, "a.example"));
  EXPECT_NE(k, DnsCache::key("", "", 4, "a.example"));
  cache.store(k, a, t0);
  ASSERT_TRUE(cache.find(k, t0 + std::chrono::seconds(9)).answer);
  EXPECT_EQ(cache.find(k, t0 + std::chrono::seconds(9)).answer->addresses, a.addresses);
  EXPECT_FALSE(cache.find(k, t0 + std::chrono::seconds(10)).answer);
  EXPECT_EQ(cache.size(), 0u);  // the expired entry went
  a.ttl_seconds = 0;
  cache.store(k, a, t0);
  EXPECT_EQ(cache.size(), 0u);  // TTL 0: not kept
  cache.store_negative(k, "NXDOMAIN (no such name)", t0);
  ASSERT_TRUE(cache.find(k, t0).error);
  EXPECT_EQ(*cache.find(k, t0).error, "NXDOMAIN (no such name)");
  EXPECT_FALSE(cache.find(k, t0 + DnsCache::kNegativeTtl).error);
}

TEST(DnsCache, StaysWithinItsBound) {
  DnsCache cache(3);
  const auto t0 = DnsCache::Clock::now();
  DnsAnswer a;
  a.addresses = {"127.0.0.1"};
  for (uint32_t i = 0; i < 10; ++i) {
    a.ttl_seconds = 100 + i;
    std::string name = "n";
    name.append(std::to_string(i));
    cache.store(DnsCache::key("", "", 0, name), a, t0);
    EXPECT_LE(cache.size(), 3u);
  }
  // The ones closest to expiring went first: the last three stay.
  EXPECT_TRUE(cache.find(DnsCache::key("", "", 0, "n9"), t0).answer);
  EXPECT_TRUE(cache.find(DnsCache::key("", "", 0, "n7"), t0).answer);
  EXPECT_FALSE(cache.find(DnsCache::key("", "", 0, "n0"), t0).answer);
}

TEST(HappyEyeballs, InterleavesFamiliesIpv6FirstAndFilters) {
  const std::vector<std::string> in{"127.0.0.1", "127.0.0.2", "::1", "::2", "::3", "not-an-address"};
  EXPECT_EQ(happy_eyeballs_order(in, 0),
            (std::vector<std::string>{"::1", "127.0.0.1", "::2", "127.0.0.2", "::3"}));
  EXPECT_EQ(happy_eyeballs_order(in, 4), (std::vector<std::string>{"127.0.0.1", "127.0.0.2"}));
  EXPECT_EQ(happy_eyeballs_order(in, 6), (std::vector<std::string>{"::1", "::2", "::3"}));
}

// A name server on 127.0.0.1 (UDP): a.test has A 127.0.0.7 (TTL 60), no AAAA, an HTTPS record
// (alpn h3, an ECH config); anything else is NXDOMAIN. It counts the questions it gets.
class TinyNameServer {
 public:
  explicit TinyNameServer(asio::io_context& io)
      : socket_(io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    receive();
  }
  std::string address() const;
  int questions = 0;

 private:
  void receive() {
    socket_.async_receive_from(asio::buffer(buf_), peer_, [this](const asio::error_code& ec, size_t n) {
      if (ec) return;
      answer(std::string(buf_.data(), n));
      receive();
    });
  }
  void answer(const std::string& q) {
    if (q.size() < 17) return;
    ++questions;
    size_t at = 12;
    std::string name;
    while (at < q.size() && q[at] != 0) {
      const size_t len = static_cast<unsigned char>(q[at]);
      if (!name.empty()) name += '.';
      name += q.substr(at + 1, len);
      at += len + 1;
    }
    const size_t question_end = at + 5;
    if (question_end > q.size()) return;
    const uint16_t type = static_cast<uint16_t>((static_cast<unsigned char>(q[at + 1]) << 8) |
                                                static_cast<unsigned char>(q[at + 2]));
    std::vector<std::string> answers;
    uint16_t rcode = 0;
    if (name == "a.test" && type == 1)
      answers.push_back(answer_record(1, 60, std::string("\x7f\x00\x00\x07", 4)));
    else if (name == "a.test" && type == kTypeHttps)
      answers.push_back(answer_record(kTypeHttps, 60, https()));
    else if (name != "a.test")
      rcode = 3;
    std::string reply = q.substr(0, 2) + u16(static_cast<uint16_t>(0x8180 | rcode)) + u16(1) +
                        u16(static_cast<uint16_t>(answers.size())) + u16(0) + u16(0) +
                        q.substr(12, question_end - 12);
    for (const auto& a : answers) reply += a;
    socket_.send_to(asio::buffer(reply), peer_);
  }
  static std::string answer_record(uint16_t type, uint32_t ttl, const std::string& rdata) {
    return answer_rr(type, ttl, rdata);
  }
  static std::string https() { return u16(1) + std::string(1, '\0') + param(1, "\x02h3") + param(5, "ECH"); }

  asio::ip::udp::socket socket_;
  asio::ip::udp::endpoint peer_;
  std::array<char, 1500> buf_{};
};

ResolveQuery query(std::string name, std::string servers, int family = 0, bool https_record = false) {
  ResolveQuery q;
  q.name = std::move(name);
  q.servers = std::move(servers);
  q.family = family;
  q.https_record = https_record;
  return q;
}
// "127.0.0.1:<port>", built piece by piece (GCC 12 warns falsely on a chain of operator+).
std::string loopback(uint16_t port) {
  std::string s = "127.0.0.1:";
  s.append(std::to_string(port));
  return s;
}

std::string TinyNameServer::address() const { return loopback(socket_.local_endpoint().port()); }

ResolveResult run(asio::io_context& io, Resolver& resolver, ResolveQuery q) {
  std::optional<ResolveResult> got;
  resolver.resolve(std::move(q), [&](ResolveResult r) { got = std::move(r); });
  io.restart();
  while (!got && io.run_one()) {
  }
  return got.value_or(ResolveResult{{}, "no answer"});
}

TEST(Resolver, AsksAddressesAndHttpsAtOnceAndCachesByTtl) {
  asio::io_context io;
  TinyNameServer server(io);
  Resolver resolver(io);
  ResolveQuery q = query("a.test", server.address(), 0, true);
  ResolveResult r = run(io, resolver, q);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.answer.addresses, std::vector<std::string>{"127.0.0.7"});
  EXPECT_EQ(r.answer.alpn, std::vector<std::string>{"h3"});
  EXPECT_EQ(r.answer.ech_config_list, "ECH");
  EXPECT_EQ(r.answer.ttl_seconds, 60u);
  const int asked = server.questions;
  EXPECT_GE(asked, 3);  // A, AAAA, HTTPS
  r = run(io, resolver, q);
  EXPECT_EQ(r.answer.addresses, std::vector<std::string>{"127.0.0.7"});
  EXPECT_EQ(server.questions, asked);  // from the cache
  EXPECT_EQ(resolver.lookups_sent(), 1u);
  q.identity = "another";
  run(io, resolver, q);
  EXPECT_GT(server.questions, asked);  // another identity asks for itself
}

TEST(Resolver, ReportsNxdomainAndTimeoutWithTheReason) {
  asio::io_context io;
  TinyNameServer server(io);
  Resolver resolver(io);
  ResolveResult r = run(io, resolver, query("nothing.test", server.address()));
  EXPECT_NE(r.error.find("NXDOMAIN"), std::string::npos) << r.error;
  // A server that never answers.
  asio::ip::udp::socket silent(io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  r = run(io, resolver, query("a.test", loopback(silent.local_endpoint().port())));
  EXPECT_NE(r.error.find("timeout"), std::string::npos) << r.error;
}

TEST(Resolver, LocalhostAsksNoNameServerNotEvenForTheHttpsRecord) {
  asio::io_context io;
  TinyNameServer server(io);
  Resolver resolver(io);
  const ResolveResult r = run(io, resolver, query("localhost", server.address(), 0, true));
  EXPECT_EQ(r.error, "");
  EXPECT_FALSE(r.answer.addresses.empty());
  EXPECT_EQ(server.questions, 0);
}

// localhost is answered inside ares_getaddrinfo: that answer is there at the first turn of the loop,
// not after the grace an HTTPS record that is never asked would get (the default path's every cold
// connection to a hosts-file name paid it).
TEST(Resolver, LocalhostIsAnsweredWithoutWaitingForAnHttpsRecord) {
  asio::io_context io;
  TinyNameServer server(io);
  Resolver resolver(io);
  std::optional<ResolveResult> got;
  resolver.resolve(query("localhost", server.address(), 0, true),
                   [&](ResolveResult r) { got = std::move(r); });
  io.restart();
  io.poll();  // ready handlers only: no timer has expired
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->error, "");
}

TEST(Resolver, FamilyAndCancel) {
  asio::io_context io;
  TinyNameServer server(io);
  Resolver resolver(io);
  ResolveResult r = run(io, resolver, query("a.test", server.address(), 6));
  EXPECT_NE(r.error, "");  // a.test has no AAAA
  bool called = false;
  auto pending =
      resolver.resolve(query("a.test", server.address(), 4), [&](ResolveResult) { called = true; });
  pending->cancel();
  io.restart();
  io.run_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace ctn::dns
