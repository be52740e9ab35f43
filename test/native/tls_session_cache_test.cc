// The TLS session cache alone (native/tls): which identities keep their sessions as it fills (the
// least recently used goes, in O(1)), and a bounded number of sessions per identity. Sessions are
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

TEST_F(SessionCacheTest, AnIdentityKeepsItsNewestFourSessions) {
  TlsSessionCache cache;
  for (int i = 0; i < 6; ++i) cache.store("a", new_session());
  EXPECT_EQ(cache.sessions("a"), 4u);
}

TEST_F(SessionCacheTest, ACacheOfNoKeysKeepsNothing) {
  TlsSessionCache cache(0);
  cache.store("a", new_session());
  EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
}  // namespace ctn
