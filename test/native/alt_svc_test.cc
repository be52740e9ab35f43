// Alt-Svc alone (native/pool): the header parser (RFC 7838's examples, the edges of its grammar,
// hostile values) and the store of HTTP/3 alternatives per identity (ma expiry, clear, replacement,
// Chrome's broken-alternative back-off, LRU bounds, identities kept apart). The store's clock is a
// variable the tests move: nothing waits.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "pool/alt_svc_header.h"
#include "pool/alt_svc_store.h"

namespace {

using ctn::alt_svc_parse;
using ctn::AltSvcAlternative;
using ctn::AltSvcEndpoint;
using ctn::AltSvcHeader;
using ctn::AltSvcKey;
using ctn::AltSvcStore;
using ctn::PoolKey;
using Kind = ctn::AltSvcHeader::Kind;
using std::chrono::hours;
using std::chrono::seconds;

AltSvcAlternative alt(std::string alpn, std::string host, uint16_t port, uint32_t ma = 86'400,
                      bool persist = false) {
  return {std::move(alpn), std::move(host), port, ma, persist};
}

void expect_invalid(std::string_view value) {
  const AltSvcHeader h = alt_svc_parse(value);
  EXPECT_EQ(h.kind, Kind::kInvalid) << "value: " << value;
  EXPECT_TRUE(h.alternatives.empty()) << "value: " << value;
}

// --- the parser ---

TEST(AltSvcParse, Rfc7838Examples) {
  // RFC 7838 §3's examples.
  auto h = alt_svc_parse(R"(h2="new.example.org:80")");
  ASSERT_EQ(h.kind, Kind::kAlternatives);
  EXPECT_EQ(h.alternatives, std::vector{alt("h2", "new.example.org", 80)});

  h = alt_svc_parse(R"(h2=":443"; ma=3600)");
  EXPECT_EQ(h.alternatives, std::vector{alt("h2", "", 443, 3600)});

  h = alt_svc_parse(R"(h2="alt.example.com:8000", h2=":443")");
  EXPECT_EQ(h.alternatives, (std::vector{alt("h2", "alt.example.com", 8000), alt("h2", "", 443)}));

  h = alt_svc_parse(R"(h2=":443"; ma=2592000; persist=1)");
  EXPECT_EQ(h.alternatives, std::vector{alt("h2", "", 443, 2592000, true)});

  // §3: percent-encoded protocol ids ("w=x:y#z" and "x%y").
  h = alt_svc_parse(R"(w%3Dx%3Ay#z=":1", x%25y=":2")");
  EXPECT_EQ(h.alternatives, (std::vector{alt("w=x:y#z", "", 1), alt("x%y", "", 2)}));

  EXPECT_EQ(alt_svc_parse("clear").kind, Kind::kClear);
}

TEST(AltSvcParse, WhatServersSend) {
  // caddy / Cloudflare / Google style: h3 with its draft ids after it.
  const auto h = alt_svc_parse(R"(h3=":443"; ma=2592000,h3-29=":443"; ma=2592000,h3-Q050=":443")");
  ASSERT_EQ(h.kind, Kind::kAlternatives);
  ASSERT_EQ(h.alternatives.size(), 3u);
  EXPECT_EQ(h.alternatives[0], alt("h3", "", 443, 2592000));
  EXPECT_EQ(h.alternatives[1].alpn, "h3-29");
  EXPECT_EQ(h.alternatives[2].alpn, "h3-Q050");
  EXPECT_EQ(h.alternatives[2].max_age_s, 86'400u);  // the default
}

TEST(AltSvcParse, GrammarEdges) {
  // OWS around separators, empty list elements, quoted and unknown parameters, escapes.
  auto h = alt_svc_parse(" \th3=\":443\" ;\tma=\"60\" ; foo=bar ; v=\"a,b;c\" , , h3=\"[::1]:8443\" ,");
  ASSERT_EQ(h.kind, Kind::kAlternatives);
  EXPECT_EQ(h.alternatives, (std::vector{alt("h3", "", 443, 60), alt("h3", "::1", 8443)}));
  // An escaped character inside the authority; host names come out lower case.
  h = alt_svc_parse(R"(h3="Alt.EXAMPLE\.com:443")");
  EXPECT_EQ(h.alternatives, std::vector{alt("h3", "alt.example.com", 443)});
  // Protocol ids are case-sensitive; parameter names are not; persist other than 1 is ignored.
  h = alt_svc_parse(R"(H3=":443"; MA=5; Persist=2)");
  EXPECT_EQ(h.alternatives, std::vector{alt("H3", "", 443, 5)});
  // A huge ma saturates rather than overflowing; ma=0 is kept as said (the store drops it).
  h = alt_svc_parse(R"(h3=":443"; ma=99999999999999999999999, h3=":444"; ma=0)");
  EXPECT_EQ(h.alternatives, (std::vector{alt("h3", "", 443, UINT32_MAX), alt("h3", "", 444, 0)}));
  // clear with whitespace around it; several field lines joined as one list.
  EXPECT_EQ(alt_svc_parse("  clear \t").kind, Kind::kClear);
  h = ctn::alt_svc_parse_fields({R"(h3=":443")", R"(h2=":443")"});
  EXPECT_EQ(h.alternatives, (std::vector{alt("h3", "", 443), alt("h2", "", 443)}));
}

TEST(AltSvcParse, MalformedValuesYieldNothing) {
  expect_invalid("");
  expect_invalid(" , ,");
  expect_invalid("Clear");                // clear is case-sensitive
  expect_invalid(R"(clear, h3=":443")");  // clear must stand alone
  expect_invalid(R"(h3=":443", clear)");
  expect_invalid("h3");              // no authority
  expect_invalid("h3=:443");         // unquoted authority
  expect_invalid(R"(h3 =":443")");   // whitespace before '='
  expect_invalid(R"(h3=":443)");     // unterminated quote
  expect_invalid(R"(h3=":443\)");    // escape at the end
  expect_invalid(R"(h3="443")");     // no colon
  expect_invalid(R"(h3=":0")");      // port 0
  expect_invalid(R"(h3=":65536")");  // beyond 16 bits
  expect_invalid(R"(h3=":-1")");
  expect_invalid(R"(h3=":44x")");
  expect_invalid(R"(h3=":")");
  expect_invalid(R"(h3="a:b:443")");   // a colon in a host name
  expect_invalid(R"(h3="[::1:443")");  // unclosed IPv6 literal
  expect_invalid(R"(h3="[zz::1]:443")");
  expect_invalid(R"(h3="[]:443")");
  expect_invalid(R"(h3="ex ample:443")");
  expect_invalid(R"(h%3=":443")");  // truncated escape
  expect_invalid(R"(h%=":443")");
  expect_invalid(R"(h%zz=":443")");
  expect_invalid(R"(=":443")");            // empty protocol id
  expect_invalid(R"(h3=":443"; ma=abc)");  // a malformed ma spoils the value
  expect_invalid(R"(h3=":443"; ma=)");
  expect_invalid(R"(h3=":443"; ma)");
  expect_invalid(R"(h3=":443";)");
  expect_invalid(R"(h3=":443" h2=":443")");     // no comma between
  expect_invalid(R"(h3=":443", h2=":443" x)");  // one bad element spoils all
  expect_invalid(
      std::string("h3=\":4\x01"
                  "43\""));  // control character in a quoted string
  expect_invalid(std::string("h3=\":443\"\0", 8));
  // An ALPN id longer than ALPN allows, a host longer than DNS allows.
  expect_invalid(std::string(256, 'a') + R"(=":443")");
  expect_invalid(R"(h3=")" + std::string(254, 'a') + R"(:443")");
}

TEST(AltSvcParse, BoundsOnHostileValues) {
  // Thousands of alternatives: parsed (the value is valid), kMaxAltSvcAlternatives kept.
  std::string many;
  while (many.size() < ctn::kMaxAltSvcValueBytes - 16) many += R"(h3=":443",)";
  const auto h = alt_svc_parse(many);
  ASSERT_EQ(h.kind, Kind::kAlternatives);
  EXPECT_EQ(h.alternatives.size(), ctn::kMaxAltSvcAlternatives);
  // Beyond the byte bound: ignored whole, however well-formed; so are field lines that add up to it.
  std::string huge;
  while (huge.size() <= ctn::kMaxAltSvcValueBytes) huge += R"(h3=":443",)";
  expect_invalid(huge);
  const std::string half(ctn::kMaxAltSvcValueBytes / 2, ' ');
  EXPECT_EQ(ctn::alt_svc_parse_fields({half + R"(h3=":1")", half + R"(h3=":2")"}).kind, Kind::kInvalid);
  // Deep runs of quotes, escapes and separators end in bounded time and without a crash.
  expect_invalid(std::string(ctn::kMaxAltSvcValueBytes, '"'));
  expect_invalid(std::string(ctn::kMaxAltSvcValueBytes, '\\'));
  expect_invalid(std::string(ctn::kMaxAltSvcValueBytes, ';'));
  expect_invalid(R"(h3=")" + std::string(ctn::kMaxAltSvcValueBytes - 8, '\\'));
}

// --- the store ---

// On a port of 1024 or above, so that every alternative port is allowed (alt_svc_port_allowed).
PoolKey origin(const std::string& host, uint16_t port = 8000) {
  PoolKey key;
  key.host = host;
  key.port = port;
  key.server_name = host;
  key.profile = "chrome_133";
  return key;
}

// A clock the test moves by hand.
struct TestClock {
  AltSvcStore::Clock::time_point now{hours(1000)};
  AltSvcStore::Now fn() {
    return [this] { return now; };
  }
};

std::vector<AltSvcEndpoint> endpoints(std::initializer_list<AltSvcEndpoint> list) { return list; }

TEST(AltSvcStore, RecordsH3OnlyWithTheOriginHostResolved) {
  TestClock clock;
  AltSvcStore store({}, clock.fn());
  const AltSvcKey key = ctn::alt_svc_key(origin("example.com"));
  store.record(key, alt_svc_parse(R"(h2=":8443", h3-29=":443", h3=":443", h3="alt.example.net:8443")"));
  EXPECT_EQ(store.lookup(key), endpoints({{"example.com", 443}, {"alt.example.net", 8443}}));
  EXPECT_EQ(store.offered(key), (std::vector<std::string>{"h2", "h3-29", "h3"}));
  EXPECT_EQ(store.size(), 1u);

  // An offer with draft ids only forgets the origin (it replaces the earlier one whole).
  store.record(key, alt_svc_parse(R"(h3-29=":443"; ma=3600)"));
  EXPECT_TRUE(store.lookup(key).empty());
  EXPECT_EQ(store.size(), 0u);
}

TEST(AltSvcStore, MaxAgeExpiresByTheInjectedClock) {
  TestClock clock;
  AltSvcStore store({}, clock.fn());
  const AltSvcKey key = ctn::alt_svc_key(origin("example.com"));
  store.record(key, alt_svc_parse(R"(h3=":443"; ma=60, h3=":8443")"));
  clock.now += seconds(59);
  EXPECT_EQ(store.lookup(key), endpoints({{"example.com", 443}, {"example.com", 8443}}));
  clock.now += seconds(1);  // ma=60 is over; the default 24 h is not
  EXPECT_EQ(store.lookup(key), endpoints({{"example.com", 8443}}));
  clock.now += hours(24);
  EXPECT_TRUE(store.lookup(key).empty());
  EXPECT_EQ(store.size(), 0u);  // dropped once nothing was left

  // ma=0 is never kept; a huge ma is cut to kMaxAge.
  store.record(key, alt_svc_parse(R"(h3=":443"; ma=0)"));
  EXPECT_EQ(store.size(), 0u);
  store.record(key, alt_svc_parse(R"(h3=":443"; ma=4294967295)"));
  clock.now += AltSvcStore::kMaxAge - seconds(1);
  EXPECT_EQ(store.lookup(key).size(), 1u);
  clock.now += seconds(1);
  EXPECT_TRUE(store.lookup(key).empty());
}

TEST(AltSvcStore, ClearAndReplacementAndInvalidHeaders) {
  TestClock clock;
  AltSvcStore store({}, clock.fn());
  const AltSvcKey key = ctn::alt_svc_key(origin("example.com"));
  store.record(key, alt_svc_parse(R"(h3=":443")"));
  store.record(key, alt_svc_parse(R"(h3=":443"; ma=nope)"));  // invalid: changes nothing
  EXPECT_EQ(store.lookup(key), endpoints({{"example.com", 443}}));
  store.record(key, alt_svc_parse(R"(h3=":9443")"));  // replaces, does not add
  EXPECT_EQ(store.lookup(key), endpoints({{"example.com", 9443}}));
  store.record(key, alt_svc_parse("clear"));
  EXPECT_TRUE(store.lookup(key).empty());
  EXPECT_EQ(store.size(), 0u);
  // record_fields: no lines changes nothing; lines are one list.
  store.record(key, alt_svc_parse(R"(h3=":443")"));
  store.record_fields(key, {});
  EXPECT_EQ(store.size(), 1u);
  store.record_fields(key, {R"(h3=":1")", R"(h3=":2")"});
  EXPECT_EQ(store.lookup(key), endpoints({{"example.com", 1}, {"example.com", 2}}));
}

TEST(AltSvcStore, AnOriginBelow1024DoesNotMoveAbove) {
  TestClock clock;
  AltSvcStore store({}, clock.fn());
  const AltSvcKey key = ctn::alt_svc_key(origin("example.com", 443));
  store.record(key, alt_svc_parse(R"(h3=":8443", h3=":443", h3="alt.example.com:1023")"));
  EXPECT_EQ(store.lookup(key), endpoints({{"example.com", 443}, {"alt.example.com", 1023}}));
  EXPECT_EQ(store.size(), 1u);
}

TEST(AltSvcStore, PerOriginBoundAndDuplicates) {
  TestClock clock;
  AltSvcStore store({}, clock.fn());
  const AltSvcKey key = ctn::alt_svc_key(origin("example.com"));
  store.record(key, alt_svc_parse(R"(h3=":1", h3="example.com:1", h3=":2", h3=":3", h3=":4", h3=":5")"));
  EXPECT_EQ(store.lookup(key).size(), AltSvcStore::kMaxAlternativesPerOrigin);
  EXPECT_EQ(store.lookup(key).front(), (AltSvcEndpoint{"example.com", 1}));
}

TEST(AltSvcStore, BrokenBackOffDoublesAndResetsOnSuccess) {
  TestClock clock;
  AltSvcStore store({}, clock.fn());
  const AltSvcKey key = ctn::alt_svc_key(origin("example.com"));
  const AltSvcEndpoint quic{"example.com", 443};
  store.record(key, alt_svc_parse(R"(h3=":443"; ma=2592000)"));

  // 5 min, 10, 20, ... each counted from the failure, up to 2 days.
  seconds expected = AltSvcStore::kBrokenDelay;
  for (int failure = 1; failure <= 12; ++failure) {
    store.mark_broken(key, quic);
    store.mark_broken(key, quic);  // a second failure while broken is the same episode
    EXPECT_TRUE(store.is_broken(key, quic)) << failure;
    EXPECT_TRUE(store.lookup(key).empty()) << failure;
    clock.now += expected - seconds(1);
    EXPECT_TRUE(store.is_broken(key, quic)) << failure;
    clock.now += seconds(1);
    EXPECT_FALSE(store.is_broken(key, quic)) << failure;
    // The alternative comes back (re-advertised, as every TCP response would).
    store.record(key, alt_svc_parse(R"(h3=":443"; ma=2592000)"));
    EXPECT_EQ(store.lookup(key), endpoints({quic})) << failure;
    expected = std::min<seconds>(expected * 2, AltSvcStore::kMaxBrokenDelay);
  }
  EXPECT_EQ(expected, AltSvcStore::kMaxBrokenDelay);

  // A success forgets the failures: the next one is 5 minutes again.
  store.confirm(key, quic);
  EXPECT_EQ(store.broken_size(), 0u);
  store.mark_broken(key, quic);
  clock.now += AltSvcStore::kBrokenDelay;
  EXPECT_FALSE(store.is_broken(key, quic));

  // Brokenness is per endpoint: the origin's other alternative stays usable.
  store.record(key, alt_svc_parse(R"(h3=":443", h3=":8443")"));
  store.mark_broken(key, quic);
  EXPECT_EQ(store.lookup(key), endpoints({{"example.com", 8443}}));
}

TEST(AltSvcStore, IdentitiesDoNotMix) {
  TestClock clock;
  AltSvcStore store({}, clock.fn());
  const PoolKey base = origin("example.com");
  PoolKey other_profile = base;
  other_profile.profile = "firefox_135";
  PoolKey via_socks = base;
  via_socks.proxy = "socks5://127.0.0.1:1080";
  PoolKey other_port = base;
  other_port.port = 9000;
  PoolKey http1_only = base;  // the ALPN variant is the same identity here
  http1_only.http1_only = true;
  PoolKey rotated = base;  // and so are the rotation limits (a pool policy, not another client)
  rotated.max_requests = 1;
  rotated.max_age_ms = 5000;
  PoolKey session_a = base;
  session_a.identity = "session-a";
  PoolKey session_b = base;
  session_b.identity = "session-b";

  store.record(ctn::alt_svc_key(base), alt_svc_parse(R"(h3=":443")"));
  store.record(ctn::alt_svc_key(session_a), alt_svc_parse(R"(h3=":7443")"));
  EXPECT_TRUE(store.lookup(ctn::alt_svc_key(other_profile)).empty());
  EXPECT_TRUE(store.lookup(ctn::alt_svc_key(via_socks)).empty());
  EXPECT_TRUE(store.lookup(ctn::alt_svc_key(other_port)).empty());
  EXPECT_TRUE(store.lookup(ctn::alt_svc_key(session_b)).empty());
  EXPECT_EQ(store.lookup(ctn::alt_svc_key(http1_only)), endpoints({{"example.com", 443}}));
  EXPECT_EQ(store.lookup(ctn::alt_svc_key(rotated)), endpoints({{"example.com", 443}}));
  EXPECT_EQ(store.lookup(ctn::alt_svc_key(session_a)), endpoints({{"example.com", 7443}}));

  // Brokenness too: a failure under one identity leaves the other alone.
  store.record(ctn::alt_svc_key(other_profile), alt_svc_parse(R"(h3=":443")"));
  store.mark_broken(ctn::alt_svc_key(base), {"example.com", 443});
  EXPECT_TRUE(store.lookup(ctn::alt_svc_key(base)).empty());
  EXPECT_EQ(store.lookup(ctn::alt_svc_key(other_profile)), endpoints({{"example.com", 443}}));
  // clear under one identity leaves the other alone.
  store.record(ctn::alt_svc_key(other_profile), alt_svc_parse("clear"));
  EXPECT_EQ(store.lookup(ctn::alt_svc_key(session_a)), endpoints({{"example.com", 7443}}));
}

TEST(AltSvcStore, LeastRecentlyUsedOriginsAndFailuresGoFirst) {
  TestClock clock;
  AltSvcStore store({.max_origins = 3, .max_broken = 2}, clock.fn());
  const auto key = [](const char* host) { return ctn::alt_svc_key(origin(host)); };
  for (const char* host : {"a.test", "b.test", "c.test"})
    store.record(key(host), alt_svc_parse(R"(h3=":443")"));
  EXPECT_EQ(store.lookup(key("a.test")).size(), 1u);  // a is now the most recently used
  store.record(key("d.test"), alt_svc_parse(R"(h3=":443")"));
  EXPECT_EQ(store.size(), 3u);
  EXPECT_TRUE(store.lookup(key("b.test")).empty());  // the least recently used went
  EXPECT_EQ(store.lookup(key("a.test")).size(), 1u);
  EXPECT_EQ(store.lookup(key("c.test")).size(), 1u);
  EXPECT_EQ(store.lookup(key("d.test")).size(), 1u);

  store.mark_broken(key("a.test"), {"a.test", 443});
  store.mark_broken(key("c.test"), {"c.test", 443});
  store.mark_broken(key("d.test"), {"d.test", 443});
  EXPECT_EQ(store.broken_size(), 2u);
  EXPECT_FALSE(store.is_broken(key("a.test"), {"a.test", 443}));
  EXPECT_TRUE(store.is_broken(key("d.test"), {"d.test", 443}));

  AltSvcStore none({.max_origins = 0, .max_broken = 0}, clock.fn());
  none.record(key("a.test"), alt_svc_parse(R"(h3=":443")"));
  none.mark_broken(key("a.test"), {"a.test", 443});
  EXPECT_EQ(none.size(), 0u);
  EXPECT_EQ(none.broken_size(), 0u);
}

TEST(AltSvcStore, WhereAltSvcApplies) {
  PoolKey key = origin("example.com");
  EXPECT_TRUE(ctn::alt_svc_applies(key));
  key.proxy = "socks5h://127.0.0.1:1080";
  EXPECT_TRUE(ctn::alt_svc_applies(key));
  key.proxy = "http://127.0.0.1:8080";  // Chrome does no QUIC through an HTTP proxy
  EXPECT_FALSE(ctn::alt_svc_applies(key));
  key.proxy = "https://127.0.0.1:8443";
  EXPECT_FALSE(ctn::alt_svc_applies(key));
  key.proxy.clear();
  key.tls = false;  // Alt-Svc from a cleartext origin is not honoured
  EXPECT_FALSE(ctn::alt_svc_applies(key));

  EXPECT_TRUE(ctn::alt_svc_port_allowed(443, 443));
  EXPECT_TRUE(ctn::alt_svc_port_allowed(8443, 443));
  EXPECT_TRUE(ctn::alt_svc_port_allowed(8443, 9443));
  EXPECT_FALSE(ctn::alt_svc_port_allowed(443, 8443));
}

}  // namespace
