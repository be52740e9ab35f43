// The preset table: every preset is something this TLS stack puts on the wire exactly, the aliases
// name the newest of each family, and the header lists follow the browsers' rules.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

#include "profiles/profile.h"
#include "tls/tls_context.h"

namespace ctn {
namespace {

std::vector<std::string> preset_ids() {
  std::vector<std::string> out;
  for (const auto& id : profile_ids()) {
    if (find_profile(id)->id == id) out.push_back(id);  // aliases resolve to another id
  }
  return out;
}

TEST(Presets, EveryPresetPassesTheStackCheck) {
  ASSERT_TRUE(tls_stack_patched()) << "the presets need the patched TLS stack";
  const auto ids = preset_ids();
  EXPECT_GE(ids.size(), 15u);
  for (const auto& id : ids) {
    std::string why;
    EXPECT_TRUE(check_tls_profile(find_profile(id)->tls, &why)) << id << ": " << why;
  }
}

TEST(Presets, TheTableHoldsTheseIdsAndAliases) {
  const std::set<std::string> want = {"chrome_130",  "chrome_131",    "chrome_133",   "chrome_149",
                                      "chrome_150",  "chrome_156",    "edge_131",     "edge_156",
                                      "firefox_128", "firefox_140",   "firefox_153",  "safari_18",
                                      "safari_26",   "safari_ios_18", "safari_ios_26"};
  const auto ids = preset_ids();
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), want);
  EXPECT_EQ(find_profile("chrome")->id, "chrome_156");
  EXPECT_EQ(find_profile("chromium")->id, "chrome_156");
  EXPECT_EQ(find_profile("edge")->id, "edge_156");
  EXPECT_EQ(find_profile("firefox")->id, "firefox_153");
  EXPECT_EQ(find_profile("safari")->id, "safari_26");
  EXPECT_EQ(find_profile("safari_ios")->id, "safari_ios_26");
  EXPECT_EQ(find_profile("")->id, "chrome_156");
  EXPECT_EQ(find_profile("chrome_124"), nullptr);  // its headers are not established (profile.cc)
}

TEST(Presets, ChromiumSecChUaFollowsChromiumsAlgorithm) {
  // Real headers: the golden capture, curl-impersonate's recordings, requests in public code.
  EXPECT_EQ(chromium_sec_ch_ua(156, ""), "\"Not:A-Brand\";v=\"8\", \"Chromium\";v=\"156\"");
  EXPECT_EQ(chromium_sec_ch_ua(131, "Google Chrome"),
            "\"Google Chrome\";v=\"131\", \"Chromium\";v=\"131\", \"Not_A Brand\";v=\"24\"");
  EXPECT_EQ(chromium_sec_ch_ua(130, "Google Chrome"),
            "\"Chromium\";v=\"130\", \"Google Chrome\";v=\"130\", \"Not?A_Brand\";v=\"99\"");
  EXPECT_EQ(chromium_sec_ch_ua(130, "Microsoft Edge"),
            "\"Chromium\";v=\"130\", \"Microsoft Edge\";v=\"130\", \"Not?A_Brand\";v=\"99\"");
  EXPECT_EQ(chromium_sec_ch_ua(117, "Microsoft Edge"),
            "\"Microsoft Edge\";v=\"117\", \"Not;A=Brand\";v=\"8\", \"Chromium\";v=\"117\"");
  EXPECT_EQ(chromium_sec_ch_ua(110, "Google Chrome"),
            "\"Chromium\";v=\"110\", \"Not A(Brand\";v=\"24\", \"Google Chrome\";v=\"110\"");
  EXPECT_EQ(chromium_sec_ch_ua(105, "Google Chrome"),
            "\"Google Chrome\";v=\"105\", \"Not)A;Brand\";v=\"8\", \"Chromium\";v=\"105\"");
  EXPECT_EQ(chromium_sec_ch_ua(150, "Google Chrome"),
            "\"Not;A=Brand\";v=\"8\", \"Chromium\";v=\"150\", \"Google Chrome\";v=\"150\"");
  EXPECT_EQ(chromium_sec_ch_ua(149, "Google Chrome"),
            "\"Google Chrome\";v=\"149\", \"Chromium\";v=\"149\", \"Not)A;Brand\";v=\"24\"");
  EXPECT_EQ(chromium_sec_ch_ua(133, "Google Chrome"),
            "\"Not(A:Brand\";v=\"99\", \"Google Chrome\";v=\"133\", \"Chromium\";v=\"133\"");
  // The golden capture's value is what chrome_156 sends.
  EXPECT_EQ(find_header(find_profile("chrome_156")->headers, "sec-ch-ua")->value,
            chromium_sec_ch_ua(156, ""));
  EXPECT_EQ(find_header(find_profile("edge_156")->headers, "sec-ch-ua")->value,
            "\"Not:A-Brand\";v=\"8\", \"Chromium\";v=\"156\", \"Microsoft Edge\";v=\"156\"");
}

TEST(Presets, VersionTraitsOnTheWire) {
  const TlsProfile& c130 = find_profile("chrome_130")->tls;
  const TlsProfile& c131 = find_profile("chrome_131")->tls;
  const TlsProfile& c133 = find_profile("chrome_133")->tls;
  const TlsProfile& c156 = find_profile("chrome_156")->tls;
  EXPECT_EQ(c130.groups.front(), 0x6399);  // X25519Kyber768Draft00
  EXPECT_EQ(c131.groups.front(), 0x11ec);  // X25519MLKEM768
  EXPECT_FALSE(c130.alps_new_codepoint);
  EXPECT_FALSE(c131.alps_new_codepoint);
  EXPECT_TRUE(c133.alps_new_codepoint);
  EXPECT_TRUE(c133.trust_anchors.empty());
  EXPECT_FALSE(c133.grease_signature_algorithms);
  EXPECT_FALSE(c156.trust_anchors.empty());
  // 150: ML-DSA first in signature_algorithms, but neither the GREASE value nor trust anchors yet.
  const TlsProfile& c150 = find_profile("chrome_150")->tls;
  EXPECT_EQ(c150.signature_algorithms.front(), 0x0904);
  EXPECT_FALSE(c150.grease_signature_algorithms);
  EXPECT_TRUE(c150.trust_anchors.empty());
  EXPECT_EQ(find_profile("chrome_149")->tls.signature_algorithms, c133.signature_algorithms);
  // Edge is Chromium's stack with its own headers.
  EXPECT_EQ(find_profile("edge_156")->tls.extension_order, c156.extension_order);
  EXPECT_EQ(find_profile("edge_156")->tls.trust_anchors, c156.trust_anchors);
  EXPECT_NE(find_header(find_profile("edge_156")->headers, "user-agent")->value.find(" Edg/156.0.0.0"),
            std::string::npos);

  const TlsProfile& f128 = find_profile("firefox_128")->tls;
  const TlsProfile& f140 = find_profile("firefox_140")->tls;
  EXPECT_EQ(f128.key_shares, 2u);
  EXPECT_TRUE(f128.cert_compression.empty());
  EXPECT_EQ(f128.extension_order.size(), 15u);
  EXPECT_EQ(f140.cipher_suites.size(), 17u);  // with 0xc009
  EXPECT_EQ(find_profile("firefox_153")->tls.cipher_suites.size(), 16u);

  const Profile& s18 = *find_profile("safari_18");
  EXPECT_EQ(s18.tls.min_version, 0x0301);  // supported_versions 1.3 down to 1.0
  EXPECT_EQ(s18.tls.groups.front(), 29);
  EXPECT_EQ(s18.http2.settings.size(), 5u);  // with ENABLE_CONNECT_PROTOCOL
  EXPECT_EQ(find_profile("safari_ios_26")->tls.cipher_suites, find_profile("safari_26")->tls.cipher_suites);
  EXPECT_NE(find_header(find_profile("safari_ios_26")->headers, "user-agent")->value.find("iPhone OS 18_6"),
            std::string::npos);
}

TEST(Presets, Http1ListsFollowTheBrowsersRules) {
  for (const auto& id : preset_ids()) {
    SCOPED_TRACE(id);
    const Profile& p = *find_profile(id);
    const HeaderList& h2 = profile_headers(p, HeaderSet::kHttp2);
    const HeaderList& h1 = profile_headers(p, HeaderSet::kHttp1);
    const HeaderList& plain = profile_headers(p, HeaderSet::kHttp1Plain);
    EXPECT_EQ(&h2, &p.headers);
    ASSERT_FALSE(p.http1_headers.empty());
    ASSERT_FALSE(p.http1_plain_headers.empty());
    for (const Header& h : h2) {
      EXPECT_EQ(h.name, [&] {
        std::string lower = h.name;
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return lower;
      }()) << "HTTP/2 names are lower case";
    }
    // Host is the engine's to write first; Connection: keep-alive is always there on HTTP/1.1.
    EXPECT_EQ(find_header(h1, "host"), nullptr);
    ASSERT_NE(find_header(h1, "connection"), nullptr);
    EXPECT_EQ(find_header(h1, "connection")->value, "keep-alive");
    ASSERT_NE(find_header(plain, "connection"), nullptr);
    EXPECT_EQ(find_header(h1, "connection")->name, "Connection");
    EXPECT_EQ(find_header(h1, "user-agent")->name, "User-Agent");
    EXPECT_EQ(find_header(h1, "user-agent")->value, find_header(h2, "user-agent")->value);
    // HTTP/2-only headers stay out of HTTP/1.1.
    EXPECT_EQ(find_header(h1, "te"), nullptr);
    // Without TLS: no br/zstd, nothing for secure contexts only.
    EXPECT_EQ(find_header(plain, "accept-encoding")->value, "gzip, deflate");
    for (const Header& h : plain) {
      EXPECT_NE(h.name.rfind("Sec-", 0), 0u) << h.name;
      EXPECT_NE(h.name.rfind("sec-", 0), 0u) << h.name;
    }
  }
  // Chrome: Connection right after Host, client hints lower case, the rest Title-Case, no priority.
  const HeaderList& chrome = find_profile("chrome_156")->http1_headers;
  EXPECT_EQ(chrome.front().name, "Connection");
  EXPECT_EQ(chrome[1].name, "sec-ch-ua");
  EXPECT_EQ(find_header(chrome, "priority"), nullptr);
  EXPECT_EQ(chrome.size(), find_profile("chrome_156")->headers.size());  // +Connection -priority
  // Firefox: Connection after Accept-Encoding, Priority kept, te gone.
  const HeaderList& firefox = find_profile("firefox_153")->http1_headers;
  EXPECT_EQ(firefox[3].name, "Accept-Encoding");
  EXPECT_EQ(firefox[4].name, "Connection");
  EXPECT_EQ(firefox.back().name, "Priority");
}

// process.exit() runs the static destructors (std::exit) while the engine's threads still serve, a
// host's service to other processes among them: what they look up must still answer then. Once, a
// destroyed preset table made each lookup throw (map::at) and the exiting host answered its peers'
// requests with ERR_INTERNAL. In a process of its own (the threadsafe style runs the statement in a
// fresh one), a handler registered before the table is built runs after the table's destructor
// would have, and looks presets up there; the TLS room's statics (the CA bundle's path, the lists a
// preset is checked against) likewise.
char ca_path_before[4096];

void look_up_after_static_destructors() {
  try {
    const Profile* fallback = find_profile("");
    const Profile* alias = find_profile("chrome");
    const Profile* firefox = find_profile("firefox_153");
    const bool presets = fallback && fallback->id == "chrome_156" && alias == fallback && firefox &&
                         firefox->id == "firefox_153" && profile_ids().size() >= 15;
    std::string why;
    const bool tls = check_tls_profile(firefox->tls, &why) && check_tls_profile(fallback->tls, &why) &&
                     ca_bundle_path() == ca_path_before;
    std::_Exit(presets && tls ? 0 : 3);
  } catch (...) {
    std::_Exit(4);
  }
}

TEST(PresetsDeathTest, TheTableOutlivesTheStaticDestructors) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        std::atexit(look_up_after_static_destructors);
        if (default_profile().id != "chrome_156") std::_Exit(2);  // builds the table
        std::string why;
        if (!check_tls_profile(find_profile("firefox_153")->tls, &why)) std::_Exit(2);
        std::snprintf(ca_path_before, sizeof ca_path_before, "%s", ca_bundle_path().c_str());
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace ctn
