// ProfileResolver alone (native/profiles): the TLS check is the resolver's caller's, so a counting
// stand-in shows what is checked, how often, and what is kept. The real check (tls/) is run by the
// binding's and the hub's resolvers (fingerprint_strings_test, share_test, the Jest suites).
#include "profiles/profile_resolver.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace ctn {
namespace {

constexpr const char* kJa3 = "771,4865-4866-4867,0-10-13-16-43-45-51,29-23,";

struct CountingCheck {
  int calls = 0;
  std::string refuse;  // refuses every profile with this reason when not empty
  TlsProfileCheck check() {
    return [this](const TlsProfile&, std::string* why) {
      ++calls;
      if (refuse.empty()) return true;
      *why = refuse;
      return false;
    };
  }
};

TEST(ProfileResolver, UnknownProfileIsNamed) {
  CountingCheck tls;
  ProfileResolver resolver(tls.check());
  std::shared_ptr<const Profile> custom;
  std::string why;
  EXPECT_FALSE(resolver.resolve("netscape_4", {}, &custom, &why));
  EXPECT_EQ(why, "unknown profile 'netscape_4'");
  EXPECT_EQ(tls.calls, 0);
}

TEST(ProfileResolver, PresetIsCheckedOnceAndSentAsItIs) {
  CountingCheck tls;
  ProfileResolver resolver(tls.check());
  std::shared_ptr<const Profile> custom;
  std::string why;
  EXPECT_TRUE(resolver.resolve("chrome_156", {}, &custom, &why)) << why;
  EXPECT_TRUE(resolver.resolve("chrome_156", {}, &custom, &why)) << why;
  EXPECT_EQ(custom, nullptr);  // no fingerprint strings: the preset itself
  EXPECT_EQ(tls.calls, 1);
}

TEST(ProfileResolver, RefusedPresetNamesItsIdAndTheReason) {
  CountingCheck tls;
  tls.refuse = "no such cipher";
  ProfileResolver resolver(tls.check());
  std::shared_ptr<const Profile> custom;
  std::string why;
  EXPECT_FALSE(resolver.resolve("chrome_156", {}, &custom, &why));
  EXPECT_EQ(why, "chrome_156: no such cipher");
  why.clear();
  EXPECT_FALSE(resolver.resolve("chrome_156", {}, &custom, &why));  // remembered, not checked again
  EXPECT_EQ(why, "chrome_156: no such cipher");
  EXPECT_EQ(tls.calls, 1);
}

TEST(ProfileResolver, ComposedProfileIsCheckedAndKept) {
  CountingCheck tls;
  ProfileResolver resolver(tls.check());
  FingerprintInputs fp;
  fp.ja3 = kJa3;
  std::shared_ptr<const Profile> first, second;
  std::string why;
  ASSERT_TRUE(resolver.resolve("chrome_156", fp, &first, &why)) << why;
  ASSERT_TRUE(resolver.resolve("chrome_156", fp, &second, &why)) << why;
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first, second);  // composed once
  EXPECT_EQ(tls.calls, 1);
  EXPECT_EQ(first->tls.min_version, 0x0304);  // the JA3 string's hello, on the preset

  tls.refuse = "cannot send that";
  std::shared_ptr<const Profile> refused;
  fp.disable_grease = true;  // another input: composed and checked anew
  EXPECT_FALSE(resolver.resolve("chrome_156", fp, &refused, &why));
  EXPECT_EQ(why, "cannot send that");
  EXPECT_EQ(refused, nullptr);
}

// A quicFingerprint composes a profile of its own (kept as text: core parses it where a QUIC connection
// is built), named by a digest of the hello so the pool keys it apart; what follows "@@" is not the hello.
TEST(ProfileResolver, QuicFingerprintComposesAProfileNamedByItsDigest) {
  CountingCheck tls;
  ProfileResolver resolver(tls.check());
  FingerprintInputs fp;
  fp.quic_fingerprint = "16030100040100000000";
  std::shared_ptr<const Profile> hello, tailed, other;
  std::string why;
  ASSERT_TRUE(resolver.resolve("chrome_156", fp, &hello, &why)) << why;
  ASSERT_NE(hello, nullptr);
  EXPECT_EQ(hello->quic_fingerprint, fp.quic_fingerprint);
  EXPECT_EQ(hello->id, "chrome_156|quic=" + quic_fingerprint_digest(fp.quic_fingerprint));
  EXPECT_EQ(hello->id.size(), std::string("chrome_156|quic=").size() + 16);
  fp.quic_fingerprint += "@@505249";
  ASSERT_TRUE(resolver.resolve("chrome_156", fp, &tailed, &why)) << why;
  EXPECT_EQ(tailed->id, hello->id);
  fp.quic_fingerprint = "16030100040100000001";
  ASSERT_TRUE(resolver.resolve("chrome_156", fp, &other, &why)) << why;
  EXPECT_NE(other->id, hello->id);
}

TEST(ProfileResolver, BadFingerprintStringIsRefusedBeforeTheCheck) {
  CountingCheck tls;
  ProfileResolver resolver(tls.check());
  FingerprintInputs fp;
  fp.ja3 = "not a ja3";
  std::shared_ptr<const Profile> custom;
  std::string why;
  EXPECT_FALSE(resolver.resolve("chrome_156", fp, &custom, &why));
  EXPECT_FALSE(why.empty());
  EXPECT_EQ(tls.calls, 0);
}

}  // namespace
}  // namespace ctn
