// A preset's HTTP/2 headers, merged with the caller's, on a connection where ALPN chose HTTP/1.1:
// the request writer sends them the way the browser writes HTTP/1.1 (order, spelling, Connection),
// keeping what the caller spelled and added.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/http_types.h"
#include "http1/request_writer.h"
#include "profiles/profile.h"

namespace ctn::http1 {
namespace {

std::vector<std::string> lines(const HeaderList& list) {
  std::vector<std::string> out;
  for (const auto& h : list) out.push_back(h.name + ": " + h.value);
  return out;
}

// What lib/options.ts does with a preset: the caller's headers replace the preset's by name
// (case-insensitively, in place, with the caller's spelling); the caller's others follow.
HeaderList overlay(const HeaderList& preset, const HeaderList& user) {
  HeaderList out = preset;
  std::vector<bool> replaced(preset.size(), false);
  for (const auto& u : user) {
    bool done = false;
    for (size_t i = 0; i < preset.size() && !done; ++i) {
      if (!replaced[i] && iequals(out[i].name, u.name)) {
        out[i] = u;
        replaced[i] = true;
        done = true;
      }
    }
    if (!done) out.push_back(u);
  }
  return out;
}

HeaderList with_host(HeaderList list) {
  list.insert(list.begin(), Header{"Host", "example.com"});  // as the engine's complete_headers does
  return list;
}

const Profile& chrome() { return *find_profile("chrome_156"); }
const Profile& firefox() { return *find_profile("firefox_153"); }

TEST(PresetHeadersOnHttp1, ChromeDefaultsBecomeChromesHttp1Request) {
  const HeaderList sent = with_host(chrome().headers);
  const HeaderList got = respell_preset_headers(sent, chrome().headers, chrome().http1_headers);
  EXPECT_EQ(lines(got), lines(with_host(chrome().http1_headers)));
  // Spelled out, as Chrome writes it.
  std::vector<std::string> names;
  for (const auto& h : got) names.push_back(h.name);
  EXPECT_EQ(names, (std::vector<std::string>{"Host", "Connection", "sec-ch-ua", "sec-ch-ua-mobile",
                                             "sec-ch-ua-platform", "Upgrade-Insecure-Requests", "User-Agent",
                                             "Accept", "Sec-Fetch-Site", "Sec-Fetch-Mode", "Sec-Fetch-User",
                                             "Sec-Fetch-Dest", "Accept-Encoding", "Accept-Language"}));
}

TEST(PresetHeadersOnHttp1, EveryPresetMatchesMergingOntoItsHttp1List) {
  // The same user headers merged onto the HTTP/2 list and re-spelled, or merged onto the HTTP/1.1
  // list directly (what lib/options.ts does when HTTP/1.1 is known in advance), give one request.
  const HeaderList user = {
      {"User-Agent", "custom/1.0"}, {"Accept-Language", "de"}, {"X-Trace", "1"}, {"Cookie", "a=b"}};
  for (const auto& id : profile_ids()) {
    SCOPED_TRACE(id);
    const Profile& p = *find_profile(id);
    const HeaderList got =
        respell_preset_headers(with_host(overlay(p.headers, user)), p.headers, p.http1_headers);
    EXPECT_EQ(lines(got), lines(with_host(overlay(p.http1_headers, user))));
  }
}

TEST(PresetHeadersOnHttp1, CallerSpellingAndValuesAreKept) {
  // userAgent alone changes the value in the preset's place and spelling: it becomes User-Agent.
  HeaderList sent = with_host(chrome().headers);
  for (auto& h : sent) {
    if (h.name == "user-agent") h.value = "ua/2";
  }
  // A header the caller spelled their way keeps it.
  for (auto& h : sent) {
    if (h.name == "accept") h = Header{"ACCEPT", "*/*"};
  }
  sent.push_back({"x-mine", "1"});
  const HeaderList got = respell_preset_headers(sent, chrome().headers, chrome().http1_headers);
  EXPECT_EQ(find_header(got, "user-agent")->name, "User-Agent");
  EXPECT_EQ(find_header(got, "user-agent")->value, "ua/2");
  EXPECT_EQ(find_header(got, "accept")->name, "ACCEPT");
  EXPECT_EQ(find_header(got, "accept")->value, "*/*");
  EXPECT_EQ(got.back().name, "x-mine");
}

TEST(PresetHeadersOnHttp1, Http2OnlyHeadersGoUnlessTheCallerSetThem) {
  HeaderList sent = with_host(firefox().headers);  // has te: trailers and priority
  HeaderList got = respell_preset_headers(sent, firefox().headers, firefox().http1_headers);
  EXPECT_EQ(find_header(got, "te"), nullptr);
  EXPECT_EQ(find_header(got, "priority")->name, "Priority");  // Firefox keeps it on HTTP/1.1
  // Chrome's priority is HTTP/2 only; a caller's own value stays.
  sent = with_host(overlay(chrome().headers, {{"priority", "u=1"}}));
  got = respell_preset_headers(sent, chrome().headers, chrome().http1_headers);
  ASSERT_NE(find_header(got, "priority"), nullptr);
  EXPECT_EQ(find_header(got, "priority")->value, "u=1");
}

TEST(PresetHeadersOnHttp1, ACallersConnectionHeaderTakesThePresetsPlace) {
  const HeaderList sent = with_host(overlay(firefox().headers, {{"connection", "close"}}));
  const HeaderList got = respell_preset_headers(sent, firefox().headers, firefox().http1_headers);
  ASSERT_GE(got.size(), 6u);
  EXPECT_EQ(got[5].name, "connection");  // Host, User-Agent, Accept, Accept-Language, Accept-Encoding
  EXPECT_EQ(got[5].value, "close");
  int connections = 0;
  for (const auto& h : got) connections += iequals(h.name, "connection");
  EXPECT_EQ(connections, 1);
}

TEST(PresetHeadersOnHttp1, PlainHttpListDropsSecureContextHeaders) {
  const Profile& p = chrome();
  const HeaderList sent = with_host(p.headers);
  const HeaderList got = respell_preset_headers(sent, p.headers, profile_headers(p, HeaderSet::kHttp1Plain));
  EXPECT_EQ(lines(got), lines(with_host(p.http1_plain_headers)));
  EXPECT_EQ(find_header(got, "accept-encoding")->value, "gzip, deflate");
}

TEST(PresetHeadersOnHttp1, WriterAppliesItOnlyWhenAsked) {
  const HeaderList sent = with_host(firefox().headers);
  std::string plain, respelled, why;
  ASSERT_TRUE(write_request_head({"GET", "/", &sent}, plain, &why)) << why;
  EXPECT_NE(plain.find("\r\nuser-agent: "), std::string::npos);
  RequestHeadSpec spec{"GET", "/", &sent};
  spec.preset_http2 = &firefox().headers;
  spec.preset_http1 = &firefox().http1_headers;
  ASSERT_TRUE(write_request_head(spec, respelled, &why)) << why;
  EXPECT_EQ(
      respelled.rfind(
          "GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:153.0)", 0),
      0u)
      << respelled;
  EXPECT_NE(respelled.find("\r\nAccept-Encoding: gzip, deflate, br, zstd\r\nConnection: keep-alive\r\n"
                           "Upgrade-Insecure-Requests: 1\r\n"),
            std::string::npos);
  EXPECT_EQ(respelled.find("te: trailers"), std::string::npos);
  // Invalid caller headers are still refused after the rewrite.
  HeaderList bad = sent;
  bad.push_back({"X", "a\r\nb"});
  spec.headers = &bad;
  std::string out = "keep";
  EXPECT_FALSE(write_request_head(spec, out, &why));
  EXPECT_EQ(out, "keep");
}

TEST(PresetHeadersOnHttp1, RepeatedHeadersAndMissingPresetOnes) {
  HeaderList sent = with_host(chrome().headers);
  sent.push_back({"accept", "second"});  // a repeated header is the caller's extra
  // A preset header the HTTP/2 list has but the request lacks is not re-added.
  for (auto it = sent.begin(); it != sent.end(); ++it) {
    if (it->name == "sec-fetch-user") {
      sent.erase(it);
      break;
    }
  }
  const HeaderList got = respell_preset_headers(sent, chrome().headers, chrome().http1_headers);
  EXPECT_EQ(find_header(got, "sec-fetch-user"), nullptr);
  EXPECT_EQ(find_header(got, "accept")->name, "Accept");
  EXPECT_EQ(got.back().name, "accept");
  EXPECT_EQ(got.back().value, "second");
}

}  // namespace
}  // namespace ctn::http1
