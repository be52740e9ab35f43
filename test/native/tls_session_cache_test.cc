// The TLS session cache alone (native/tls): which identities keep their sessions as it fills (the
// least recently used goes, in O(1)), and the bounds per identity and in all. Sessions are
// BoringSSL objects made here; resumption on the wire is engine_pool_test.cc's.
#include <gtest/gtest.h>

#include <string>

#include <openssl/ssl.h>

#include "tls/tls_context.h"

namespace ctn {
namespace {

class SessionCacheTest : public ::testing::Test {
 protected:
  SSL_SESSION* new_session() { return SSL_SESSION_new(ctx_.get()); }
  bssl::UniquePtr<SSL_CTX> ctx_{SSL_CTX_new(TLS_method())};
};

TEST_F(SessionCacheTest, TheLeastRecentlyUsedIdentityGoesWhenFull) {
  TlsSessionCache cache(3);
  cache.store("a", new_session());
  cache.store("b", new_session());
  cache.store("c", new_session());
  cache.store("a", new_session());  // "a" is the most recently used now; "b" the least
  cache.store("d", new_session());
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.sessions("a"), 2u);
  EXPECT_EQ(cache.sessions("b"), 0u) << "the least recently used went";
  EXPECT_EQ(cache.sessions("c"), 1u);
  EXPECT_EQ(cache.sessions("d"), 1u);
  cache.store("e", new_session());
  EXPECT_EQ(cache.sessions("c"), 0u);
  EXPECT_EQ(cache.sessions("a"), 2u);
  cache.clear();
  EXPECT_EQ(cache.size(), 0u);
  cache.store("f", new_session());  // the order starts over after clear()
  EXPECT_EQ(cache.size(), 1u);
}

TEST_F(SessionCacheTest, ManyIdentitiesKeepOnlyTheNewest) {
  TlsSessionCache cache(100);
  for (int i = 0; i < 10000; ++i) cache.store("host" + std::to_string(i), new_session());
  EXPECT_EQ(cache.size(), 100u);
  EXPECT_EQ(cache.sessions("host9899"), 0u);
  for (int i = 9900; i < 10000; ++i) EXPECT_EQ(cache.sessions("host" + std::to_string(i)), 1u) << i;
}

// Connections opened side by side each need a session of their own (TLS 1.3 tickets are single-use).
TEST_F(SessionCacheTest, AnIdentityKeepsItsNewestSixteenSessions) {
  TlsSessionCache cache;
  for (int i = 0; i < 20; ++i) cache.store("a", new_session());
  EXPECT_EQ(cache.sessions("a"), TlsSessionCache::kSessionsPerKey);
  EXPECT_EQ(cache.sessions("a"), 16u);
  EXPECT_EQ(cache.total_sessions(), 16u);
}

// Sessions in all stay within four per key on average: the least recently used keys go first,
// and a key alone over the bound drops its oldest.
TEST_F(SessionCacheTest, SessionsInAllStayWithinFourPerKeyOnAverage) {
  TlsSessionCache cache(3);  // 12 sessions in all
  for (int i = 0; i < 5; ++i) cache.store("a", new_session());
  for (int i = 0; i < 5; ++i) cache.store("b", new_session());
  EXPECT_EQ(cache.total_sessions(), 10u);
  for (int i = 0; i < 3; ++i) cache.store("c", new_session());
  EXPECT_EQ(cache.sessions("a"), 0u) << "the least recently used key went";
  EXPECT_EQ(cache.sessions("b"), 5u);
  EXPECT_EQ(cache.sessions("c"), 3u);
  EXPECT_EQ(cache.total_sessions(), 8u);
  for (int i = 0; i < 16; ++i) cache.store("c", new_session());
  EXPECT_EQ(cache.sessions("b"), 0u);
  EXPECT_EQ(cache.sessions("c"), 12u) << "alone over the bound: its oldest went";
  EXPECT_EQ(cache.total_sessions(), 12u);
  cache.clear();
  EXPECT_EQ(cache.total_sessions(), 0u);
}

TEST_F(SessionCacheTest, ACacheOfNoKeysKeepsNothing) {
  TlsSessionCache cache(0);
  cache.store("a", new_session());
  EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
}  // namespace ctn
