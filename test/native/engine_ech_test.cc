// Real Encrypted ClientHello (RFC 9849) through the engine, against the test server holding ECH keys
// (BoringSSL's server side): the offer accepted with the preset's hello inside, the retry with the
// server's retry configs, Chrome's "secure disable" without them, a second rejection, a config list
// the stack cannot parse, and GREASE as before without a list. Then the same over HTTP/3, against
// the echo's QUIC server (quic_server) holding ECH keys.
#include <openssl/base64.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "ech_server/ech_server.h"
#include "engine_harness.h"
#include "fingerprint/fingerprint.h"
#include "quic_server/server.h"
#include "quic_server_thread.h"

namespace ctn_test {
namespace {

using ctn::RequestSpec;

constexpr const char* kPublicName = "ech-public.test";

using ctn::ech_server::EchKey;

EchKey make_ech_key(uint8_t config_id) {
  EchKey key;
  if (!ctn::ech_server::make_ech_key(config_id, kPublicName, &key)) ADD_FAILURE() << "cannot make an ECH key";
  return key;
}

std::string base64(const std::string& raw) {
  size_t len = 0;
  EVP_EncodedLength(&len, raw.size());
  std::string out(len, '\0');
  const size_t written = EVP_EncodeBlock(reinterpret_cast<uint8_t*>(out.data()),
                                         reinterpret_cast<const uint8_t*>(raw.data()), raw.size());
  out.resize(written);
  return out;
}

// The parts of a ClientHello handshake message the tests compare.
struct Hello {
  std::vector<uint16_t> ciphers;
  std::vector<uint16_t> extensions;  // in order
  std::string server_name;
  bool ok = false;
};

bool is_grease(uint16_t v) { return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff); }

Hello parse_hello(const std::string& message) {
  Hello h;
  CBS in, body, random, session_id, ciphers, compression, extensions;
  uint8_t type = 0;
  uint16_t version = 0;
  CBS_init(&in, reinterpret_cast<const uint8_t*>(message.data()), message.size());
  if (!CBS_get_u8(&in, &type) || type != SSL3_MT_CLIENT_HELLO || !CBS_get_u24_length_prefixed(&in, &body) ||
      !CBS_get_u16(&body, &version) || !CBS_get_bytes(&body, &random, 32) ||
      !CBS_get_u8_length_prefixed(&body, &session_id) || !CBS_get_u16_length_prefixed(&body, &ciphers) ||
      !CBS_get_u8_length_prefixed(&body, &compression) || !CBS_get_u16_length_prefixed(&body, &extensions)) {
    return h;
  }
  while (CBS_len(&ciphers) > 0) {
    uint16_t c = 0;
    if (!CBS_get_u16(&ciphers, &c)) return h;
    h.ciphers.push_back(is_grease(c) ? 0x0a0a : c);
  }
  while (CBS_len(&extensions) > 0) {
    uint16_t id = 0;
    CBS data;
    if (!CBS_get_u16(&extensions, &id) || !CBS_get_u16_length_prefixed(&extensions, &data)) return h;
    h.extensions.push_back(is_grease(id) ? 0x0a0a : id);
    CBS list, name;
    uint8_t name_type = 0;
    if (id == TLSEXT_TYPE_server_name && CBS_get_u16_length_prefixed(&data, &list) &&
        CBS_get_u8(&list, &name_type) && CBS_get_u16_length_prefixed(&list, &name)) {
      h.server_name.assign(reinterpret_cast<const char*>(CBS_data(&name)), CBS_len(&name));
    }
  }
  h.ok = true;
  return h;
}

std::vector<uint16_t> sorted(std::vector<uint16_t> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<uint16_t> without(std::vector<uint16_t> v, const std::vector<uint16_t>& drop) {
  std::erase_if(v, [&](uint16_t id) { return std::find(drop.begin(), drop.end(), id) != drop.end(); });
  return v;
}

// How often `inner`'s extensions step backwards in `outer`'s order (GREASE ids by occurrence).
int order_breaks(const std::vector<uint16_t>& inner, const std::vector<uint16_t>& outer) {
  int breaks = 0;
  size_t previous = 0;
  std::map<uint16_t, size_t> seen;
  for (size_t i = 0; i < inner.size(); ++i) {
    size_t nth = seen[inner[i]]++;
    size_t at = outer.size();
    for (size_t j = 0; j < outer.size(); ++j) {
      if (outer[j] == inner[i] && nth-- == 0) {
        at = j;
        break;
      }
    }
    if (at == outer.size()) return 99;  // not in the outer hello at all
    if (i > 0 && at < previous) ++breaks;
    previous = at;
  }
  return breaks;
}

bool offers_ech(const Hello& h) {
  return std::find(h.extensions.begin(), h.extensions.end(), 0xfe0d) != h.extensions.end();
}

// A hello that went without a real offer, as without a config (or after Chrome's secure disable):
// the true name in the clear, ECH GREASE, nothing for the server to decrypt.
void expect_grease_in_clear(const std::string& outer_message, const std::string& inner_message) {
  const Hello h = parse_hello(outer_message);
  EXPECT_EQ(h.server_name, "localhost");
  EXPECT_TRUE(offers_ech(h));
  EXPECT_TRUE(inner_message.empty());
}

// What the server saw of an accepted offer: the handshake went by the inner SNI (the request's
// host), the observer saw the config's public_name only. The outer and inner hellos, parsed.
std::pair<Hello, Hello> accepted_hellos(bool accepted, const std::string& server_name,
                                        const std::string& outer_message, const std::string& inner_message) {
  EXPECT_TRUE(accepted);
  EXPECT_EQ(server_name, "localhost");
  const Hello outer = parse_hello(outer_message);
  const Hello inner = parse_hello(inner_message);
  EXPECT_TRUE(outer.ok && inner.ok);
  EXPECT_EQ(outer.server_name, kPublicName);
  EXPECT_EQ(inner.server_name, "localhost");
  return {outer, inner};
}

class EngineEchTest : public EngineFixture {
 protected:
  // A request to the server as https://localhost:<port>/ with `profile` (a preset id).
  RequestSpec ech_request(const TestServer& server, const std::string& profile,
                          const std::string& config_list) {
    return ech_request(server.port(), profile, config_list);
  }
  RequestSpec ech_request(uint16_t port, const std::string& profile, const std::string& config_list) {
    RequestSpec r = loopback_request(next_id_++, true, "localhost", port);
    r.custom_profile = nullptr;
    r.profile = profile;
    r.ech_config_list = config_list.empty() ? "" : base64(config_list);
    return r;
  }
  // The engine's count of TCP connections opened, once nothing is in flight.
  uint64_t connections_opened() {
    const auto deadline = Clock::now() + kWait;
    while (engine_->stats().requests_in_flight != 0 && Clock::now() < deadline)
      std::this_thread::sleep_for(2ms);
    return engine_->stats().connections_opened;
  }
};

ServerOptions ech_server(std::function<void(SSL_CTX*, int)> keys) {
  return ServerOptions{.tls = true,
                       .cert = "ech-server.pem",
                       .key = "ech-server-key.pem",
                       .before_handshake = std::move(keys)};
}

// A server holding one ECH key throughout.
ServerOptions ech_server(const EchKey& key) {
  return ech_server([&key](SSL_CTX* ctx, int) { SSL_CTX_set1_ech_keys(ctx, key.keys.get()); });
}

TEST_F(EngineEchTest, Chrome156OffersRealEchTheServerAccepts) {
  const EchKey key = make_ech_key(1);
  TestServer server(TestServer::respond_always(response("inner")), ech_server(key));
  const uint64_t id = submit(ech_request(server, "chrome_156", key.config_list));
  AWAIT(r, id);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.body, "inner");
  const auto hellos = server.hellos();
  ASSERT_EQ(hellos.size(), 1u);
  const auto [outer, inner] =
      accepted_hellos(hellos[0].ech_accepted, hellos[0].server_name, hellos[0].outer, hellos[0].inner);

  // The preset's own hello, without ECH, from a second engine-fresh connection to a plain server.
  TestServer plain(TestServer::respond_always(response("plain")),
                   ServerOptions{.tls = true, .cert = "ech-server.pem", .key = "ech-server-key.pem"});
  const uint64_t plain_id = submit(ech_request(plain, "chrome_156", ""));
  AWAIT(p, plain_id);
  ASSERT_TRUE(p.ok()) << p.describe();
  ASSERT_EQ(plain.hellos().size(), 1u);
  const Hello fresh = parse_hello(plain.hellos()[0].outer);
  ASSERT_TRUE(fresh.ok);
  EXPECT_FALSE(plain.hellos()[0].ech_accepted);

  // The outer hello has the fresh hello's shape: the same extensions (ECH's now real, not GREASE),
  // the same cipher suites (Chrome permutes the order per connection: compared as sets).
  EXPECT_EQ(sorted(outer.extensions), sorted(fresh.extensions));
  EXPECT_EQ(outer.ciphers, fresh.ciphers);
  // Inside, what ECH changes as BoringSSL (so Chrome) writes a ClientHelloInner: TLS 1.3 suites
  // only; no TLS 1.2-only extensions (extended_master_secret 23, renegotiation_info 65281,
  // ec_point_formats 11, session_ticket 35) and no padding (21). Everything else is the preset's.
  EXPECT_EQ(inner.ciphers, (std::vector<uint16_t>{0x0a0a, 0x1301, 0x1302, 0x1303}));
  const std::vector<uint16_t> tls12_only = {23, 65281, 11, 35, 21};
  EXPECT_EQ(sorted(inner.extensions), sorted(without(fresh.extensions, tls12_only)));
  // The inner hello keeps the outer hello's extension permutation (one per connection), except
  // that BoringSSL moves the extensions it compresses (those the outer hello repeats) to one block
  // at the end: two runs, each in the outer order.
  EXPECT_LE(order_breaks(inner.extensions, outer.extensions), 1) << "inner extensions out of order";
}

TEST_F(EngineEchTest, RejectedWithRetryConfigsReconnectsOnceWithThem) {
  const EchKey stale = make_ech_key(1);    // what the client was told (an old DNS answer)
  const EchKey current = make_ech_key(2);  // what the server holds and sends as retry configs
  TestServer server(TestServer::respond_always(response("retried")), ech_server(current));
  const uint64_t id = submit(ech_request(server, "chrome_156", stale.config_list));
  AWAIT(r, id);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.body, "retried");
  const auto hellos = server.hellos();
  ASSERT_EQ(hellos.size(), 2u);
  EXPECT_FALSE(hellos[0].ech_accepted);  // the client ends it (ech_required) once it has the configs
  EXPECT_EQ(parse_hello(hellos[0].outer).server_name, kPublicName);
  EXPECT_TRUE(hellos[1].ech_accepted);
  EXPECT_EQ(hellos[1].server_name, "localhost");
  EXPECT_EQ(parse_hello(hellos[1].outer).server_name, kPublicName);
  EXPECT_EQ(connections_opened(), 2u);
}

TEST_F(EngineEchTest, RejectedWithoutRetryConfigsReconnectsWithGreaseOnly) {
  const EchKey offered = make_ech_key(1);
  // A server without ECH keys: it ignores the offer and answers the outer hello (public_name).
  TestServer server(TestServer::respond_always(response("disabled")), ech_server(nullptr));
  const uint64_t id = submit(ech_request(server, "chrome_156", offered.config_list));
  AWAIT(r, id);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.body, "disabled");
  const auto hellos = server.hellos();
  ASSERT_EQ(hellos.size(), 2u);
  EXPECT_EQ(parse_hello(hellos[0].outer).server_name, kPublicName);
  EXPECT_FALSE(hellos[0].ech_accepted);
  expect_grease_in_clear(hellos[1].outer, hellos[1].inner);  // Chrome's secure disable
  EXPECT_FALSE(hellos[1].ech_accepted);
}

TEST_F(EngineEchTest, SecondRejectionFailsWithErrEchRejected) {
  const EchKey stale = make_ech_key(1);
  const EchKey first = make_ech_key(2);
  const EchKey second = make_ech_key(3);
  // The server's keys change between the two connections: the retry configs of the first are
  // stale by the second.
  TestServer server(TestServer::respond_always(response("never")), ech_server([&](SSL_CTX* ctx, int index) {
                      SSL_CTX_set1_ech_keys(ctx, index == 0 ? first.keys.get() : second.keys.get());
                    }));
  const uint64_t id = submit(ech_request(server, "chrome_156", stale.config_list));
  AWAIT(r, id);
  EXPECT_EQ(r.code(), "ERR_ECH_REJECTED") << r.describe();
  EXPECT_EQ(r.stage(), "tls") << r.describe();
  EXPECT_TRUE(server.wait_hellos(2));
  EXPECT_EQ(server.hellos().size(), 2u);
}

TEST_F(EngineEchTest, RejectionWhoseCertificateFailsForPublicNameIsACertificateError) {
  const EchKey offered = make_ech_key(1);
  // The outer handshake's certificate names only localhost, not the public_name: the rejection
  // is not authenticated, so there is no retry (Chrome: ERR_ECH_FALLBACK_CERTIFICATE_INVALID).
  TestServer server(TestServer::respond_always(response("x")), ServerOptions{.tls = true});
  const uint64_t id = submit(ech_request(server, "chrome_156", offered.config_list));
  AWAIT(r, id);
  EXPECT_EQ(r.code(), "ERR_TLS_CERT") << r.describe();
  EXPECT_TRUE(server.wait_hellos(1));
  EXPECT_EQ(server.hellos().size(), 1u);
}

TEST_F(EngineEchTest, UnparseableConfigListFailsAsChromeDoes) {
  TestServer server(TestServer::respond_always(response("x")), ech_server(nullptr));
  const uint64_t id = submit(ech_request(server, "chrome_156", std::string("\x00\x04\xfe\x0d\x00\x09", 6)));
  AWAIT(r, id);
  EXPECT_EQ(r.code(), "ERR_INVALID_OPTION") << r.describe();
  EXPECT_EQ(r.stage(), "tls");
  for (const HelloRecord& h : server.hellos()) EXPECT_TRUE(h.outer.empty()) << "a hello went out";
}

TEST_F(EngineEchTest, WithoutAConfigListTheHelloGreasesAsBefore) {
  TestServer server(TestServer::respond_always(response("grease")), ech_server(nullptr));
  const uint64_t id = submit(ech_request(server, "chrome_156", ""));
  AWAIT(r, id);
  ASSERT_TRUE(r.ok()) << r.describe();
  const auto hellos = server.hellos();
  ASSERT_EQ(hellos.size(), 1u);
  expect_grease_in_clear(hellos[0].outer, hellos[0].inner);
}

TEST_F(EngineEchTest, Firefox153KeepsNssSizedGreaseWithAConfigList) {
  // NSS's real ECH encodes the inner hello unlike BoringSSL (tls_context.h sends_real_ech): the
  // Firefox presets keep their GREASE, the true name in the clear.
  const EchKey key = make_ech_key(1);
  TestServer server(TestServer::respond_always(response("firefox")), ech_server(key));
  const uint64_t id = submit(ech_request(server, "firefox_153", key.config_list));
  AWAIT(r, id);
  ASSERT_TRUE(r.ok()) << r.describe();
  const auto hellos = server.hellos();
  ASSERT_EQ(hellos.size(), 1u);
  EXPECT_FALSE(hellos[0].ech_accepted);
  EXPECT_EQ(parse_hello(hellos[0].outer).server_name, "localhost");
}

// ---- over HTTP/3 ----

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The echo's HTTP/3 endpoint on its own io thread, certified for localhost and the public_name,
// holding `keys(connection)`'s ECH keys from each new connection on (null: none yet). Each request is
// answered "ok" and kept with its connection's hellos.
struct QuicEchServer : QuicServerThread {
  explicit QuicEchServer(std::function<SSL_ECH_KEYS*(uint64_t)> keys) {
    ctn::quic_server::Options options;
    options.certificate_pem = read_file(cert_dir() / "ech-server.pem");
    options.private_key_pem = read_file(cert_dir() / "ech-server-key.pem");
    options.report_hellos = true;
    options.before_connection = [keys = std::move(keys)](SSL_CTX* ctx, uint64_t connection) {
      if (SSL_ECH_KEYS* held = keys(connection)) SSL_CTX_set1_ech_keys(ctx, held);
    };
    options.on_request = [this](ctn::quic_server::RequestEvent&& e) {
      server->respond(e.connection, e.stream, ctn::quic_server::Reply{200, {}, "ok"});
      std::lock_guard lock(mutex);
      events.push_back(std::move(e));
    };
    start(std::move(options));
  }
  ~QuicEchServer() { stop(); }
  std::vector<ctn::quic_server::RequestEvent> requests() {
    std::lock_guard lock(mutex);
    return events;
  }
  // The connections the server took (handshakes begun).
  uint64_t connections() { return stats().connections_accepted; }

  std::mutex mutex;
  std::vector<ctn::quic_server::RequestEvent> events;
};

class EngineQuicEchTest : public EngineEchTest {
 protected:
  RequestSpec h3_request(const QuicEchServer& server, const std::string& profile,
                         const std::string& config_list) {
    RequestSpec r = ech_request(server.port(), profile, config_list);
    r.http3 = "force";
    r.timeout_ms = 20'000;
    return r;
  }
};

TEST_F(EngineQuicEchTest, Chrome156OffersRealEchOverQuicTheServerAccepts) {
  const EchKey key = make_ech_key(1);
  QuicEchServer server([&](uint64_t) { return key.keys.get(); });
  const uint64_t id = submit(h3_request(server, "chrome_156", key.config_list));
  AWAIT(r, id);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.connection.alpn, "h3");
  ASSERT_TRUE(r.connection.fingerprint);
  EXPECT_EQ(r.connection.fingerprint->ech, ctn::fingerprint::EchSent::kReal);
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto [outer, inner] = accepted_hellos(requests[0].ech_accepted, requests[0].server_name,
                                              requests[0].client_hello, requests[0].inner_client_hello);

  // The preset's QUIC hello without ECH, from a fresh connection to a server holding no key.
  QuicEchServer plain([](uint64_t) { return nullptr; });
  const uint64_t plain_id = submit(h3_request(plain, "chrome_156", ""));
  AWAIT(p, plain_id);
  ASSERT_TRUE(p.ok()) << p.describe();
  ASSERT_EQ(plain.requests().size(), 1u);
  const Hello fresh = parse_hello(plain.requests()[0].client_hello);
  ASSERT_TRUE(fresh.ok);
  EXPECT_EQ(p.connection.fingerprint->ech, ctn::fingerprint::EchSent::kGrease);

  // Outside, the preset's QUIC hello (the same extensions, quic_transport_parameters among them;
  // ECH's now real); inside, the same hello as BoringSSL writes a ClientHelloInner: a QUIC hello
  // is TLS 1.3 only already, so nothing of it is dropped.
  EXPECT_EQ(sorted(outer.extensions), sorted(fresh.extensions));
  EXPECT_EQ(outer.ciphers, fresh.ciphers);
  EXPECT_NE(std::find(outer.extensions.begin(), outer.extensions.end(), 57), outer.extensions.end());
  EXPECT_EQ(sorted(inner.extensions), sorted(without(fresh.extensions, {21})));
  EXPECT_EQ(sorted(inner.ciphers), sorted(fresh.ciphers));
  EXPECT_LE(order_breaks(inner.extensions, outer.extensions), 1) << "inner extensions out of order";
}

TEST_F(EngineQuicEchTest, RejectedWithRetryConfigsReconnectsOnceOverQuicWithThem) {
  const EchKey stale = make_ech_key(1);
  const EchKey current = make_ech_key(2);
  QuicEchServer server([&](uint64_t) { return current.keys.get(); });
  const uint64_t id = submit(h3_request(server, "chrome_156", stale.config_list));
  AWAIT(r, id);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.connection.alpn, "h3");
  EXPECT_EQ(r.connection.fingerprint->ech, ctn::fingerprint::EchSent::kReal);
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);  // the rejected connection carried none
  EXPECT_TRUE(requests[0].ech_accepted);
  EXPECT_EQ(requests[0].server_name, "localhost");
  EXPECT_EQ(parse_hello(requests[0].client_hello).server_name, kPublicName);
  EXPECT_EQ(server.connections(), 2u);
  EXPECT_EQ(connections_opened(), 2u);
  EXPECT_EQ(engine_->stats().exchanges, 1u);  // the exchange is counted once
}

TEST_F(EngineQuicEchTest, RejectedWithoutRetryConfigsReconnectsOverQuicWithGreaseOnly) {
  const EchKey offered = make_ech_key(1);
  QuicEchServer server([](uint64_t) { return nullptr; });
  const uint64_t id = submit(h3_request(server, "chrome_156", offered.config_list));
  AWAIT(r, id);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.connection.fingerprint->ech, ctn::fingerprint::EchSent::kGrease);
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  expect_grease_in_clear(requests[0].client_hello, requests[0].inner_client_hello);  // secure disable
  EXPECT_FALSE(requests[0].ech_accepted);
  EXPECT_EQ(server.connections(), 2u);
}

TEST_F(EngineQuicEchTest, SecondRejectionOverQuicFailsWithErrEchRejected) {
  const EchKey stale = make_ech_key(1);
  const EchKey first = make_ech_key(2);
  const EchKey second = make_ech_key(3);
  QuicEchServer server(
      [&](uint64_t connection) { return connection == 1 ? first.keys.get() : second.keys.get(); });
  const uint64_t id = submit(h3_request(server, "chrome_156", stale.config_list));
  AWAIT(r, id);
  EXPECT_EQ(r.code(), "ERR_ECH_REJECTED") << r.describe();
  EXPECT_EQ(r.stage(), "tls") << r.describe();
  EXPECT_EQ(r.error->message, "the server rejected the Encrypted ClientHello again after its retry configs");
  EXPECT_TRUE(server.requests().empty());
  EXPECT_EQ(server.connections(), 2u);
}

TEST_F(EngineQuicEchTest, UnparseableConfigListFailsOverQuicAsOverTcp) {
  QuicEchServer server([](uint64_t) { return nullptr; });
  const uint64_t id = submit(h3_request(server, "chrome_156", std::string("\x00\x04\xfe\x0d\x00\x09", 6)));
  AWAIT(r, id);
  EXPECT_EQ(r.code(), "ERR_INVALID_OPTION") << r.describe();
  EXPECT_EQ(r.stage(), "tls");
  EXPECT_EQ(server.connections(), 0u);
}

TEST_F(EngineQuicEchTest, WithoutAConfigListTheQuicHelloGreasesAsBefore) {
  QuicEchServer server([](uint64_t) { return nullptr; });
  const uint64_t id = submit(h3_request(server, "chrome_156", ""));
  AWAIT(r, id);
  ASSERT_TRUE(r.ok()) << r.describe();
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  expect_grease_in_clear(requests[0].client_hello, requests[0].inner_client_hello);
  EXPECT_EQ(server.connections(), 1u);
}

TEST_F(EngineQuicEchTest, Firefox153KeepsItsGreaseOverQuicWithAConfigList) {
  const EchKey key = make_ech_key(1);
  QuicEchServer server([&](uint64_t) { return key.keys.get(); });
  const uint64_t id = submit(h3_request(server, "firefox_153", key.config_list));
  AWAIT(r, id);
  ASSERT_TRUE(r.ok()) << r.describe();
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_FALSE(requests[0].ech_accepted);
  expect_grease_in_clear(requests[0].client_hello, requests[0].inner_client_hello);
  EXPECT_EQ(r.connection.fingerprint->ech, ctn::fingerprint::EchSent::kGrease);
}

}  // namespace
}  // namespace ctn_test
