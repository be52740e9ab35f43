// JA3, JA4_r and Akamai strings into Profiles: exact fields, and named refusals.
#include "profiles/fingerprint_strings.h"

#include "tls/tls_context.h"

#include <gtest/gtest.h>

namespace ctn {
namespace {

constexpr const char* kFirefox153Ja3 =
    "771,4865-4867-4866-49195-49199-52393-52392-49196-49200-49162-49171-49172-156-157-47-53,"
    "0-23-65281-10-11-35-16-5-34-18-51-43-13-45-28-27-65037,4588-29-23-24-25-256-257,0";

TEST(Ja3, FirefoxStringGivesItsExactHello) {
  TlsProfile t = find_profile("chrome_156")->tls;
  std::string why;
  ASSERT_TRUE(parse_ja3(kFirefox153Ja3, &t, &why)) << why;
  EXPECT_EQ(t.cipher_suites,
            (std::vector<uint16_t>{0x1301, 0x1303, 0x1302, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0xc02c, 0xc030,
                                   0xc00a, 0xc013, 0xc014, 0x9c, 0x9d, 0x2f, 0x35}));
  EXPECT_EQ(t.extension_order,
            (std::vector<uint16_t>{0, 23, 65281, 10, 11, 35, 16, 5, 34, 18, 51, 43, 13, 45, 28, 27, 65037}));
  EXPECT_EQ(t.groups, (std::vector<uint16_t>{4588, 29, 23, 24, 25, 256, 257}));
  EXPECT_EQ(t.max_version,
            0x0304);  // supported_versions present: TLS 1.3 offered (cycletls offered 1.2 only)
  EXPECT_FALSE(t.grease);
  EXPECT_FALSE(t.grease_signature_algorithms);
  EXPECT_FALSE(t.permute_extensions);
  EXPECT_TRUE(t.alps.empty());  // no 17513/17613 in the string
  EXPECT_EQ(t.record_size_limit, 16385);
  EXPECT_FALSE(t.delegated_credentials.empty());
  EXPECT_TRUE(t.trust_anchors.empty());
  EXPECT_TRUE(t.ech_grease);
}

TEST(Ja3, Tls13OnlyStringsSendNoTls12Extensions) {
  TlsProfile t = find_profile("chrome_156")->tls;
  std::string why;
  ASSERT_TRUE(parse_ja3("771,4865-4866-4867,0-10-13-16-43-45-51,29-23,", &t, &why)) << why;
  EXPECT_EQ(t.min_version, 0x0304);
  // Listing a TLS 1.2 extension keeps TLS 1.2 in supported_versions, so that it is written; the
  // other TLS 1.2 extensions are left out.
  ASSERT_TRUE(parse_ja3("771,4865-4866-4867,0-23-10-13-43-45-51,29-23,", &t, &why)) << why;
  EXPECT_EQ(t.min_version, 0x0303);
  EXPECT_EQ(t.omitted_extensions, (std::vector<uint16_t>{11, 65281}));
  EXPECT_FALSE(parse_ja3("771,4865-4866-4867,0-10-13-43-45-51,29-23,0", &t, &why));
  EXPECT_NE(why.find("extension 11"), std::string::npos) << why;
}

TEST(Ja3, Tls12OnlyStringOffersTls12Only) {
  TlsProfile t = find_profile("chrome_156")->tls;
  std::string why;
  ASSERT_TRUE(parse_ja3("771,49195-49199-52393,0-23-65281-10-11-13,29-23-24,0", &t, &why)) << why;
  EXPECT_EQ(t.max_version, 0x0303);
}

TEST(Ja3, GreaseValuesTurnGreaseOn) {
  TlsProfile t = find_profile("firefox_153")->tls;
  std::string why;
  ASSERT_TRUE(
      parse_ja3("771,2570-4865-4866-49195,2570-0-23-65281-10-11-13-16-43-45-51-2570,2570-29-23,0", &t, &why))
      << why;
  EXPECT_TRUE(t.grease);
  EXPECT_EQ(t.cipher_suites, (std::vector<uint16_t>{0x1301, 0x1302, 0xc02b}));
}

TEST(Ja3, RefusalsNameTheElement) {
  TlsProfile t = find_profile("chrome_156")->tls;
  std::string why;
  EXPECT_FALSE(parse_ja3("771,4865", &t, &why));
  EXPECT_NE(why.find("5 comma-separated"), std::string::npos);
  EXPECT_FALSE(parse_ja3("771,4865-x,0,29,0", &t, &why));
  EXPECT_NE(why.find("'x'"), std::string::npos);
  EXPECT_FALSE(parse_ja3("771,4865-49195,0-23-65281-10-11-13-43-45-51-42,29,0", &t, &why));
  EXPECT_NE(why.find("early_data (42)"), std::string::npos) << why;
  EXPECT_FALSE(parse_ja3("771,4865-49195,0-23-65281-10-11-13-43-45-51-57,29,0", &t, &why));
  EXPECT_NE(why.find("QUIC only"), std::string::npos) << why;
  EXPECT_FALSE(parse_ja3("771,4865-49195,0-23-65281-10-11-13-43-51,29,0", &t, &why));  // no 45
  EXPECT_NE(why.find("psk_key_exchange_modes"), std::string::npos) << why;
  EXPECT_FALSE(parse_ja3("771,4865,0-0-23,29,0", &t, &why));
  EXPECT_NE(why.find("twice"), std::string::npos);
  EXPECT_FALSE(parse_ja3("999,4865,0,29,0", &t, &why));
}

// cycletls 2.0.5's default JA3 (its README and its tests): DHE suites 0x0033 and 0x0039 go on the
// wire, advertised only.
constexpr const char* kCycletlsDefaultJa3 =
    "771,4865-4867-4866-49195-49199-52393-52392-49196-49200-49162-49161-49171-49172-51-57-47-53-10,"
    "0-23-65281-10-11-35-16-5-51-43-13-45-28-21,29-23-24-25-256-257,0";

TEST(Ja3, SuitesTheStackLacksAreAdvertised) {
  TlsProfile t = find_profile("chrome_156")->tls;
  std::string why;
  ASSERT_TRUE(parse_ja3(kCycletlsDefaultJa3, &t, &why)) << why;
  EXPECT_EQ(t.cipher_suites[13], 0x0033);
  EXPECT_EQ(t.cipher_suites[14], 0x0039);
  EXPECT_TRUE(t.opaque_extensions.empty());
  EXPECT_TRUE(t.omitted_extensions.empty());
  EXPECT_TRUE(t.padding);
  EXPECT_TRUE(check_tls_profile(t, &why)) << why;
  // TLS 1.3: a subset, another order, and ids beyond the three (CCM).
  ASSERT_TRUE(parse_ja3("771,4866-4869-4868-49195,0-23-65281-10-11-13-43-45-51,29,0", &t, &why)) << why;
  EXPECT_EQ(t.cipher_suites, (std::vector<uint16_t>{0x1302, 0x1305, 0x1304, 0xc02b}));
  EXPECT_TRUE(check_tls_profile(t, &why)) << why;
}

TEST(Ja3, UnimplementedExtensionsAreSentOpaque) {
  TlsProfile t = find_profile("chrome_156")->tls;
  std::string why;
  ASSERT_TRUE(parse_ja3(
      "771,4865-49195-255,0-11-10-35-16-22-23-49-13-43-45-50-51-17-12345-21,29-23-30-258,0-1-2", &t, &why))
      << why;
  EXPECT_EQ(t.opaque_extensions, (std::vector<uint16_t>{22, 49, 50, 17, 12345}));
  EXPECT_EQ(t.extension_order,
            (std::vector<uint16_t>{0, 11, 10, 35, 16, 22, 23, 49, 13, 43, 45, 50, 51, 17, 12345, 21}));
  EXPECT_EQ(t.point_formats, (std::vector<uint8_t>{0, 1, 2}));
  EXPECT_EQ(t.omitted_extensions, (std::vector<uint16_t>{65281}));  // OpenSSL relies on the SCSV
  EXPECT_EQ(t.groups, (std::vector<uint16_t>{29, 23, 30, 258}));
  EXPECT_TRUE(check_tls_profile(t, &why)) << why;
}

TEST(Ja3, ExtensionsTheStackAlwaysSendsCanBeLeftOut) {
  TlsProfile t = find_profile("chrome_156")->tls;
  std::string why;
  ASSERT_TRUE(parse_ja3("771,49195-49199,0-35-16,,", &t, &why)) << why;
  EXPECT_EQ(t.omitted_extensions, (std::vector<uint16_t>{10, 11, 13, 23, 65281}));
  EXPECT_EQ(t.max_version, 0x0303);
  // A TLS 1.3-only hello may leave out supported_groups and signature_algorithms.
  ASSERT_TRUE(parse_ja3("771,4865-4866-4867,0-16-43-45-51,29,", &t, &why)) << why;
  EXPECT_EQ(t.omitted_extensions, (std::vector<uint16_t>{10, 13}));
}

TEST(Ja4r, SuitesAndExtensionsTheStackLacksAreAdvertised) {
  TlsProfile t = find_profile("chrome_156")->tls;
  std::string why;
  ASSERT_TRUE(parse_ja4r(
      "t13d0708h2_0033,0039,1301,1304,c02b,c02f,ccaa_000a,000b,000d,0016,002b,002d,0031,0033_0403,0804", &t,
      &why))
      << why;
  EXPECT_EQ(t.cipher_suites, (std::vector<uint16_t>{0x33, 0x39, 0x1301, 0x1304, 0xc02b, 0xc02f, 0xccaa}));
  EXPECT_EQ(t.opaque_extensions, (std::vector<uint16_t>{22, 49}));
  EXPECT_EQ(t.omitted_extensions, (std::vector<uint16_t>{23, 65281}));
  EXPECT_TRUE(check_tls_profile(t, &why)) << why;
}

TEST(Ja4r, ChromiumStringGivesSortedHello) {
  TlsProfile t = find_profile("chrome_156")->tls;
  std::string why;
  ASSERT_TRUE(
      parse_ja4r("t13d1517h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_"
                 "0005,000a,000b,000d,0012,0017,001b,0023,002b,002d,0033,44cd,ca34,fe0d,ff01_"
                 "0904,0905,0906,0403,0804,0401,0503,0805,0501,0806,0601",
                 &t, &why))
      << why;
  EXPECT_EQ(t.cipher_suites.front(), 0x002f);
  EXPECT_EQ(t.extension_order.front(), 0);  // 'd': SNI
  EXPECT_NE(std::find(t.extension_order.begin(), t.extension_order.end(), 16), t.extension_order.end());
  EXPECT_TRUE(t.alps_new_codepoint);
  EXPECT_EQ(t.signature_algorithms.front(), 0x0904);
  EXPECT_EQ(t.alpn, (std::vector<std::string>{"h2", "http/1.1"}));
}

// cycletls's README lists SNI (0000) in its JA4_r, which the canonical form leaves out: accepted
// when the first part agrees, and the hello is the canonical string's.
TEST(Ja4r, ListedSniAndAlpnAgreeingWithTheFirstPartAreAccepted) {
  const std::string listed =
      "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_"
      "0000,0005,000a,000b,000d,0010,0012,0017,001b,0023,002b,002d,0033,44cd,fe0d,ff01_"
      "0403,0804,0401,0503,0805,0501,0806,0601";
  const std::string canonical =
      "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_"
      "0005,000a,000b,000d,0012,0017,001b,0023,002b,002d,0033,44cd,fe0d,ff01_"
      "0403,0804,0401,0503,0805,0501,0806,0601";
  TlsProfile a = find_profile("chrome_156")->tls, b = a;
  std::string why;
  ASSERT_TRUE(parse_ja4r(listed, &a, &why)) << why;
  ASSERT_TRUE(parse_ja4r(canonical, &b, &why)) << why;
  EXPECT_EQ(a.extension_order, b.extension_order);
  EXPECT_EQ(a.cipher_suites, b.cipher_suites);

  TlsProfile t = find_profile("chrome_156")->tls;
  EXPECT_FALSE(parse_ja4r("t13i1516h2_002f_0000,000a_0403", &t, &why));  // 'i': no SNI
  EXPECT_NE(why.find("extension 0"), std::string::npos) << why;
  EXPECT_FALSE(parse_ja4r("t13d151600_002f_0010,000a_0403", &t, &why));  // '00': no ALPN
  EXPECT_NE(why.find("extension 16"), std::string::npos) << why;
  EXPECT_FALSE(parse_ja4r("t13d1516h2_002f_0000,0000,000a_0403", &t, &why));  // twice
}

TEST(Akamai, ChromeFirefoxSafariAndOldFirefox) {
  Http2Profile h;
  std::string why;
  ASSERT_TRUE(parse_akamai("1:65536;2:0;4:6291456;6:262144|15663105|0|m,a,s,p", &h, &why)) << why;
  ASSERT_EQ(h.settings.size(), 4u);
  EXPECT_EQ(h.settings[1].id, 2);
  EXPECT_EQ(h.settings[1].value, 0u);  // ENABLE_PUSH=0 kept (cycletls lost it)
  EXPECT_EQ(h.connection_window_update, 15663105u);
  EXPECT_EQ(h.pseudo_header_order, "masp");
  EXPECT_TRUE(h.headers_priority_spec.exclusive);
  EXPECT_EQ(h.headers_priority_spec.weight, 256);

  ASSERT_TRUE(parse_akamai("1:65536;2:0;4:131072;5:16384|12517377|0|m,p,a,s", &h, &why)) << why;
  EXPECT_EQ(h.first_stream_id, 3u);
  EXPECT_EQ(h.headers_priority_spec.weight, 42);

  ASSERT_TRUE(parse_akamai("2:0;3:100;4:2097152;9:1|10420225|0|m,s,a,p", &h, &why)) << why;
  EXPECT_FALSE(h.headers_priority);
  EXPECT_EQ(h.settings[3].id, 9);

  ASSERT_TRUE(parse_akamai(
      "1:65536;4:131072;5:16384|12517377|3:0:0:201,5:0:0:101,7:0:0:1,9:0:7:1,11:0:3:1,13:0:0:241|m,p,a,s", &h,
      &why))
      << why;
  ASSERT_EQ(h.priority_frames.size(), 6u);
  EXPECT_EQ(h.priority_frames[3].depends_on, 7u);
  EXPECT_EQ(h.priority_frames[0].weight, 201);
  EXPECT_EQ(h.first_stream_id, 15u);
  EXPECT_EQ(h.headers_priority_spec.depends_on, 13u);
}

TEST(Akamai, Refusals) {
  Http2Profile h;
  std::string why;
  EXPECT_FALSE(parse_akamai("1:65536|0|m,a,s,p", &h, &why));
  EXPECT_FALSE(parse_akamai("1:x|0|0|m,a,s,p", &h, &why));
  EXPECT_NE(why.find("SETTINGS entry '1:x'"), std::string::npos);
  EXPECT_FALSE(parse_akamai("1:1|0|0|m,a,s", &h, &why));
  EXPECT_FALSE(parse_akamai("1:1|0|0|m,a,s,s", &h, &why));
  EXPECT_FALSE(parse_akamai("1:1|0|3:0:0:0|m,a,s,p", &h, &why));  // weight 0
}

TEST(Compose, IdsAreStableAndGreaseCanBeDisabled) {
  Profile a, b;
  std::string why;
  FingerprintInputs in;
  in.ja3 = kFirefox153Ja3;
  in.disable_grease = true;
  ASSERT_TRUE(compose_profile(default_profile(), in, &a, &why)) << why;
  ASSERT_TRUE(compose_profile(default_profile(), in, &b, &why)) << why;
  EXPECT_EQ(a.id, b.id);
  EXPECT_NE(a.id, default_profile().id);
  EXPECT_FALSE(a.tls.grease);
  in.ja4r = "t13d0101h2_1301_000a_0403";
  EXPECT_FALSE(compose_profile(default_profile(), in, &a, &why));
  EXPECT_NE(why.find("give one"), std::string::npos);
}

TEST(Presets, AliasesAndIds) {
  EXPECT_EQ(find_profile("chrome")->id, "chrome_156");
  EXPECT_EQ(find_profile("firefox")->id, "firefox_153");
  EXPECT_EQ(find_profile("")->id, "chrome_156");
  EXPECT_EQ(find_profile("netscape_4"), nullptr);
  EXPECT_EQ(default_profile().id, "chrome_156");
}

}  // namespace
}  // namespace ctn
