// quic_server::Server, the echo's HTTP/3 endpoint, on 127.0.0.1 with the test certificates, against our
// own quic::ClientConnection (a real QUIC + HTTP/3 client): requests are answered through respond()
// and arrive with their connection's record (every datagram both ways, the TLS key log) and their
// field lines in wire order. Hostile datagrams (garbage, truncated Initials, a flood of Initials that
// never complete a handshake) are dropped or bounded, and the server keeps serving. No timing is
// asserted: waits poll until a condition holds (or a generous bound fails the test).
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <asio/post.hpp>

#include <openssl/rand.h>

#include "quic/connection.h"
#include "quic_server/server.h"
#include "quic_server_thread.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ctn::quic_server::RequestEvent;

fs::path cert_dir() {
  return fs::weakly_canonical(fs::path(__FILE__).parent_path() / ".." / "fixtures" / "certs");
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A server on its own io thread; each request is answered with its method and path, the number of
// datagrams recorded and the connection number.
struct EchoServer : ctn_test::QuicServerThread {
  explicit EchoServer(ctn::quic_server::Options options = {}) {
    options.certificate_pem = read_file(cert_dir() / "server.pem");
    options.private_key_pem = read_file(cert_dir() / "server-key.pem");
    options.on_request = [this](RequestEvent&& e) {
      std::string method, path;
      for (const ctn::Header& h : e.fields) {
        if (h.name == ":method") method = h.value;
        if (h.name == ":path") path = h.value;
      }
      if (path == "/hold") {  // never answered here: the test answers it late, or not at all
        std::lock_guard lock(mutex);
        events.push_back(std::move(e));
        return;
      }
      ctn::quic_server::Reply reply;
      reply.headers = {{"content-type", "text/plain"}, {"x-connection", std::to_string(e.connection)}};
      reply.body = method + " " + path + " datagrams=" + std::to_string(e.datagrams.size());
      server->respond(e.connection, e.stream, std::move(reply));
      std::lock_guard lock(mutex);
      events.push_back(std::move(e));
    };
    options.on_long_header_datagram = [this](ctn::quic_server::LongHeaderDatagram&& d) {
      std::lock_guard lock(mutex);
      first_flight.push_back(std::move(d));
    };
    start(std::move(options));
  }
  ~EchoServer() { stop(); }
  // Polls `done` on the server's stats (at most ~20 s).
  template <typename F>
  bool wait_for(F&& done) {
    for (int i = 0; i < 2000; ++i) {
      if (done(stats())) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
  std::mutex mutex;
  std::vector<RequestEvent> events;
  std::vector<ctn::quic_server::LongHeaderDatagram> first_flight;
};

ctn::quic::Options client_options(uint16_t port) {
  ctn::quic::Options o;
  o.server = asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), port);
  o.server_name = "localhost";
  o.ca_file = (cert_dir() / "ca.pem").string();
  o.handshake_timeout_ms = 10'000;
  o.read_timeout_ms = 10'000;
  return o;
}

struct Outcome {
  std::optional<ctn::Error> error;
  ctn::quic::Response response;
};

// `paths` fetched one after another over one connection of our client.
std::vector<Outcome> fetch_all(uint16_t port, const std::vector<std::string>& paths) {
  asio::io_context io;
  std::vector<Outcome> out(paths.size());
  auto conn = ctn::quic::ClientConnection::create(io, client_options(port));
  std::function<void(size_t)> next = [&](size_t i) {
    if (i == paths.size()) return conn->close();
    ctn::quic::Request req;
    req.authority = "localhost:" + std::to_string(port);
    req.path = paths[i];
    req.headers = {{"user-agent", "quic-server-test"}, {"accept", "*/*"}, {"x-order", std::to_string(i)}};
    conn->fetch(std::move(req), [&, i](const ctn::Error* error, ctn::quic::Response&& response) {
      if (error) out[i].error = *error;
      out[i].response = std::move(response);
      next(i + 1);
    });
  };
  next(0);
  conn->start();
  io.run();
  return out;
}

std::string error_text(const Outcome& o) {
  return o.error ? std::string(ctn::error_code_name(o.error->code)) + ": " + o.error->message : "no error";
}

const ctn::Header* find(const ctn::HeaderList& headers, std::string_view name) {
  for (const ctn::Header& h : headers)
    if (h.name == name) return &h;
  return nullptr;
}

void send_raw(uint16_t port, const std::vector<std::string>& datagrams) {
  asio::io_context io;
  asio::ip::udp::socket s(io, asio::ip::udp::endpoint(asio::ip::udp::v4(), 0));
  const asio::ip::udp::endpoint to(asio::ip::make_address("127.0.0.1"), port);
  for (const std::string& d : datagrams) s.send_to(asio::buffer(d), to);
}

// A datagram ngtcp2_accept takes for a client's first Initial (version 1, an 8..20-byte DCID, padded
// to 1200 bytes) whose protected payload is random: it opens a connection that never completes.
std::string fake_initial() {
  std::string d(1200, '\0');
  RAND_bytes(reinterpret_cast<uint8_t*>(d.data()), d.size());
  size_t at = 0;
  d[at++] = static_cast<char>(0xc3);  // long header, fixed bit, Initial, 4-byte packet number
  d[at++] = 0, d[at++] = 0, d[at++] = 0, d[at++] = 1;
  d[at++] = 8;
  at += 8;  // DCID (random)
  d[at++] = 8;
  at += 8;      // SCID (random)
  d[at++] = 0;  // no token
  const size_t length = d.size() - at - 2;
  d[at++] = static_cast<char>(0x40 | (length >> 8));
  d[at++] = static_cast<char>(length & 0xff);
  return d;
}

TEST(QuicServer, AnswersOurClientAndHandsOverTheConnectionsRecord) {
  EchoServer echo;
  ASSERT_TRUE(echo.server);
  const std::vector<Outcome> out = fetch_all(echo.server->port(), {"/quic", "/headers?x=1"});
  ASSERT_EQ(out.size(), 2u);
  for (const Outcome& o : out) {
    ASSERT_FALSE(o.error) << error_text(o);
    EXPECT_EQ(o.response.head.status, 200);
    EXPECT_EQ(o.response.head.version_major, 3);
    const ctn::Header* ct = find(o.response.head.headers, "content-type");
    ASSERT_NE(ct, nullptr);
    EXPECT_EQ(ct->value, "text/plain");
  }
  EXPECT_EQ(out[0].response.body.rfind("GET /quic datagrams=", 0), 0u) << out[0].response.body;
  EXPECT_EQ(out[1].response.body.rfind("GET /headers?x=1 datagrams=", 0), 0u) << out[1].response.body;
  // Both requests came over one connection.
  EXPECT_EQ(find(out[0].response.head.headers, "x-connection")->value,
            find(out[1].response.head.headers, "x-connection")->value);

  std::lock_guard lock(echo.mutex);
  ASSERT_EQ(echo.events.size(), 2u);
  const RequestEvent& e = echo.events[0];
  // The field lines in wire order: our client's pseudo-headers, then its headers as given.
  std::vector<std::string> names;
  for (const ctn::Header& h : e.fields) names.push_back(h.name);
  EXPECT_EQ(names, (std::vector<std::string>{":method", ":scheme", ":authority", ":path", "user-agent",
                                             "accept", "x-order"}));
  EXPECT_EQ(e.fields[2].value, "localhost:" + std::to_string(echo.server->port()));
  EXPECT_EQ(e.client.rfind("127.0.0.1:", 0), 0u) << e.client;
  EXPECT_FALSE(e.recording_truncated);
  // The record: the client's first Initial first (1200 bytes at least), both directions present.
  ASSERT_GE(e.datagrams.size(), 3u);
  EXPECT_FALSE(e.datagrams[0].sent);
  EXPECT_GE(e.datagrams[0].bytes.size(), 1200u);
  EXPECT_EQ(static_cast<uint8_t>(e.datagrams[0].bytes[0]) & 0xf0, 0xc0);  // long header, Initial
  bool sent = false;
  for (const auto& d : e.datagrams) sent |= d.sent;
  EXPECT_TRUE(sent);
  // The key log holds every secret a decoder needs for the handshake and 1-RTT packets.
  for (const char* label : {"CLIENT_HANDSHAKE_TRAFFIC_SECRET ", "SERVER_HANDSHAKE_TRAFFIC_SECRET ",
                            "CLIENT_TRAFFIC_SECRET_0 ", "SERVER_TRAFFIC_SECRET_0 "}) {
    EXPECT_NE(e.key_log.find(label), std::string::npos) << label << "\n" << e.key_log;
  }
  // The second request's record is longer: it holds the first exchange too.
  EXPECT_GT(echo.events[1].datagrams.size(), e.datagrams.size());
  EXPECT_EQ(echo.events[1].connection, e.connection);
  // The first flight was offered for a first-flight view, as it arrived.
  ASSERT_FALSE(echo.first_flight.empty());
  EXPECT_EQ(echo.first_flight[0].bytes, e.datagrams[0].bytes);
}

TEST(QuicServer, GarbageAndTruncatedInitialsAreDroppedAndTheServerKeepsServing) {
  EchoServer echo;
  ASSERT_TRUE(echo.server);
  const uint16_t port = echo.server->port();
  std::vector<std::string> hostile;
  hostile.push_back(std::string(1, '\xc0'));  // a long header's first byte alone
  hostile.push_back(std::string(5, '\xff'));  // a version-less long header
  hostile.push_back(std::string("GET / HTTP/1.1\r\n\r\n"));
  std::string initial = fake_initial();
  hostile.push_back(initial.substr(0, 40));    // truncated: header only
  hostile.push_back(initial.substr(0, 1100));  // an Initial under 1200 bytes (RFC 9000 §14.1)
  std::string short_header(60, '\0');
  RAND_bytes(reinterpret_cast<uint8_t*>(short_header.data()), short_header.size());
  short_header[0] = 0x40;  // a short header for a connection nobody has
  hostile.push_back(short_header);
  for (int i = 0; i < 64; ++i) {
    std::string junk(1 + static_cast<size_t>(i) * 23, '\0');
    RAND_bytes(reinterpret_cast<uint8_t*>(junk.data()), junk.size());
    junk[0] = static_cast<char>(junk[0] & 0x7f);  // never a long header: cannot open a connection
    hostile.push_back(junk);
  }
  send_raw(port, hostile);
  ASSERT_TRUE(echo.wait_for([&](const ctn::quic_server::Stats& s) {
    return s.datagrams_dropped >= hostile.size();
  })) << echo.stats().datagrams_dropped;
  EXPECT_EQ(echo.stats().connections_accepted, 0u);
  const std::vector<Outcome> out = fetch_all(port, {"/after-garbage"});
  ASSERT_FALSE(out[0].error) << error_text(out[0]);
  EXPECT_EQ(out[0].response.head.status, 200);
}

// The first datagram of each of `n` connections of our client, sent to a UDP socket that never answers:
// real Initials (they decrypt), each with its own DCID.
std::vector<std::string> real_first_datagrams(size_t n) {
  asio::io_context io;
  asio::ip::udp::socket silent(io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  silent.non_blocking(true);
  std::vector<std::shared_ptr<ctn::quic::ClientConnection>> clients;
  for (size_t i = 0; i < n; ++i) {
    clients.push_back(
        ctn::quic::ClientConnection::create(io, client_options(silent.local_endpoint().port())));
    clients.back()->start();
  }
  std::map<uint16_t, std::string> first;  // by the client's port
  for (int spins = 0; first.size() < n && spins < 20'000; ++spins) {
    io.poll();
    std::array<char, 2048> buf;
    asio::ip::udp::endpoint from;
    std::error_code ec;
    const size_t got = silent.receive_from(asio::buffer(buf), from, 0, ec);
    if (ec) {
      std::this_thread::sleep_for(1ms);
      continue;
    }
    first.try_emplace(from.port(), std::string(buf.data(), got));
  }
  for (auto& c : clients) c->close();
  io.poll();
  std::vector<std::string> out;
  for (auto& [port, d] : first) out.push_back(d);
  return out;
}

TEST(QuicServer, InitialsThatDoNotDecryptAreDroppedAtOnce) {
  EchoServer echo;
  ASSERT_TRUE(echo.server);
  std::vector<std::string> flood;
  for (int i = 0; i < 50; ++i) flood.push_back(fake_initial());
  send_raw(echo.server->port(), flood);
  ASSERT_TRUE(echo.wait_for([](const ctn::quic_server::Stats& s) {
    return s.connections_accepted + s.connections_refused + s.datagrams_dropped >= 50;
  }));
  EXPECT_TRUE(echo.wait_for([](const ctn::quic_server::Stats& s) { return s.connections_open == 0; }));
  const std::vector<Outcome> out = fetch_all(echo.server->port(), {"/after-fakes"});
  ASSERT_FALSE(out[0].error) << error_text(out[0]);
}

TEST(QuicServer, AFloodOfRealInitialsIsBoundedByMaxConnectionsAndExpires) {
  ctn::quic_server::Options options;
  options.max_connections = 4;
  options.handshake_timeout_ms = 500;  // the flood's connections never complete: they go at this deadline
  EchoServer echo(options);
  ASSERT_TRUE(echo.server);
  const std::vector<std::string> flood = real_first_datagrams(12);
  ASSERT_EQ(flood.size(), 12u);
  send_raw(echo.server->port(), flood);
  ASSERT_TRUE(echo.wait_for(
      [](const ctn::quic_server::Stats& s) { return s.connections_accepted + s.connections_refused >= 12; }));
  ctn::quic_server::Stats s = echo.stats();
  EXPECT_EQ(s.connections_accepted, 4u);
  EXPECT_EQ(s.connections_refused, 8u);
  EXPECT_LE(s.connections_open, 4u);
  // The handshake deadline frees the slots; then a real client is served.
  ASSERT_TRUE(echo.wait_for([](const ctn::quic_server::Stats& st) { return st.connections_open == 0; }));
  const std::vector<Outcome> out = fetch_all(echo.server->port(), {"/after-flood"});
  ASSERT_FALSE(out[0].error) << error_text(out[0]);
  EXPECT_EQ(out[0].response.body.rfind("GET /after-flood", 0), 0u);
  // Each accepted connection offered its first flight; the refused ones nothing.
  std::lock_guard lock(echo.mutex);
  EXPECT_GE(echo.first_flight.size(), 5u);
}

TEST(QuicServer, RecordingStopsAtItsBoundAndSaysSo) {
  ctn::quic_server::Options options;
  options.max_recorded_datagrams = 2;
  EchoServer echo(options);
  ASSERT_TRUE(echo.server);
  const std::vector<Outcome> out = fetch_all(echo.server->port(), {"/bounded"});
  ASSERT_FALSE(out[0].error) << error_text(out[0]);
  EXPECT_EQ(out[0].response.body, "GET /bounded datagrams=2");
  std::lock_guard lock(echo.mutex);
  ASSERT_EQ(echo.events.size(), 1u);
  EXPECT_TRUE(echo.events[0].recording_truncated);
}

TEST(QuicServer, ACertificateThatDoesNotLoadIsAnInvalidOption) {
  asio::io_context io;
  ctn::quic_server::Options options;
  options.certificate_pem = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
  options.private_key_pem = read_file(cert_dir() / "server-key.pem");
  ctn::Error error;
  EXPECT_FALSE(ctn::quic_server::Server::create(io, options, &error));
  EXPECT_EQ(error.code, ctn::ErrorCode::kInvalidOption);
}

TEST(QuicServer, AClientThatGivesUpOnARequestLeavesNothingBehindAndTheLateReplyIsANoOp) {
  EchoServer echo;
  ASSERT_TRUE(echo.server);
  asio::io_context io;
  ctn::quic::Options o = client_options(echo.server->port());
  o.read_timeout_ms = 200;  // the client gives up on /hold: it resets the stream, then closes
  auto conn = ctn::quic::ClientConnection::create(io, o);
  std::optional<ctn::Error> error;
  ctn::quic::Request req;
  req.authority = "localhost";
  req.path = "/hold";
  conn->fetch(std::move(req), [&](const ctn::Error* e, ctn::quic::Response&&) {
    if (e) error = *e;
    conn->close();
  });
  conn->start();
  io.run();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, ctn::ErrorCode::kTimeout);
  // The client's CONNECTION_CLOSE ends the server's connection.
  ASSERT_TRUE(echo.wait_for([](const ctn::quic_server::Stats& s) { return s.connections_open == 0; }));
  uint64_t connection = 0;
  int64_t stream = -1;
  {
    std::lock_guard lock(echo.mutex);
    ASSERT_EQ(echo.events.size(), 1u);
    connection = echo.events[0].connection;
    stream = echo.events[0].stream;
  }
  echo.server->respond(connection, stream, ctn::quic_server::Reply{200, {}, "too late"});
  const std::vector<Outcome> out = fetch_all(echo.server->port(), {"/after-hold"});
  ASSERT_FALSE(out[0].error) << error_text(out[0]);
}

TEST(QuicServer, AReplyForAConnectionThatIsGoneIsANoOp) {
  EchoServer echo;
  ASSERT_TRUE(echo.server);
  echo.server->respond(12345, 0, ctn::quic_server::Reply{});
  const std::vector<Outcome> out = fetch_all(echo.server->port(), {"/still-fine"});
  ASSERT_FALSE(out[0].error) << error_text(out[0]);
}

}  // namespace

namespace {

// Not a test of its own: test/echo/h3-echo.test.js runs it to fetch from a live echo server with our
// client (CTN_QUIC_ECHO_PORT, CTN_QUIC_ECHO_CA: the CA of its certificate, or unset: no check,
// CTN_QUIC_ECHO_PATHS: comma-separated paths, CTN_QUIC_ECHO_OUT: where each response body goes, one file per
// path, <out>.<i>). Skipped unless set.
TEST(QuicServer, FetchFromTheEchoNamedByTheEnvironment) {
  const char* port = std::getenv("CTN_QUIC_ECHO_PORT");
  const char* ca = std::getenv("CTN_QUIC_ECHO_CA");
  const char* paths = std::getenv("CTN_QUIC_ECHO_PATHS");
  const char* out_prefix = std::getenv("CTN_QUIC_ECHO_OUT");
  if (!port || !paths || !out_prefix) GTEST_SKIP() << "run by test/echo/h3-echo.test.js";
  ctn::quic::Options o = client_options(static_cast<uint16_t>(std::stoi(port)));
  // The echo's own certificate is self-signed: without a CA that issued it, no check (a fingerprint
  // test, not a certificate one).
  o.verify = ca != nullptr;
  if (ca) o.ca_file = ca;
  std::vector<std::string> list;
  std::stringstream ss(paths);
  for (std::string p; std::getline(ss, p, ',');) list.push_back(p);
  asio::io_context io;
  auto conn = ctn::quic::ClientConnection::create(io, o);
  std::function<void(size_t)> next = [&](size_t i) {
    if (i == list.size()) return conn->close();
    ctn::quic::Request req;
    req.authority = "localhost:" + std::string(port);
    req.path = list[i];
    req.headers = {{"user-agent", "cycletls-native quic_server_test"}, {"accept", "application/json"}};
    conn->fetch(std::move(req), [&, i](const ctn::Error* error, ctn::quic::Response&& response) {
      EXPECT_EQ(error, nullptr) << (error ? error->message : "");
      std::ofstream(std::string(out_prefix) + "." + std::to_string(i), std::ios::binary)
          << response.head.status << "\n"
          << response.body;
      next(i + 1);
    });
  };
  next(0);
  conn->start();
  io.run();
}

}  // namespace
