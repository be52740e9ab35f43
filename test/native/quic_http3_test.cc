// quic::ClientConnection against real HTTP/3 servers on 127.0.0.1: Debian's caddy (quic-go) and
// ngtcp2's example server (gtlsserver), both installed by scripts/install-deps.sh, started here on a
// free port with the test certificates (test/fixtures/certs, verified against the test CA). Hostile
// cases: a UDP peer that never answers (handshake deadline), a stream the server resets mid-body
// (caddy proxying a backend that dies), a server that falls silent mid-body (a relay that stops
// forwarding: QUIC's idle timeout). Every case settles with a code; no timing is asserted.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>

#include <openssl/aead.h>
#include <openssl/aes.h>
#include <openssl/digest.h>
#include <openssl/hkdf.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "profiles/profile.h"
#include "quic/connection.h"
#include "quic/crypto_layout.h"
#include "quic/hello_fingerprint.h"
#include "tls/tls_context.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

fs::path cert_dir() {
  return fs::weakly_canonical(fs::path(__FILE__).parent_path() / ".." / "fixtures" / "certs");
}

// A scratch directory removed at the end of the test.
struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/ctn-quic-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path path;
};

// A port free for TCP and UDP on 127.0.0.1 (caddy listens on both).
uint16_t free_port() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    const int udp = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(udp, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::getsockname(udp, reinterpret_cast<sockaddr*>(&a), &len);
    const int tcp = ::socket(AF_INET, SOCK_STREAM, 0);
    const bool tcp_free = ::bind(tcp, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(tcp);
    ::close(udp);
    if (tcp_free) return ntohs(a.sin_port);
  }
  return 0;
}

// Whether something listens on UDP 127.0.0.1:port (/proc/net/udp: local address in hex).
bool udp_listening(uint16_t port) {
  std::ifstream in("/proc/net/udp");
  char want[32];
  std::snprintf(want, sizeof want, "0100007F:%04X", port);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(want) != std::string::npos) return true;
  }
  return false;
}

// A server process, stopped (SIGTERM, then SIGKILL) when the test ends. Output goes to a log file
// the failure message shows.
class ChildServer {
 public:
  ChildServer(std::vector<std::string> argv, fs::path log, std::vector<std::string> env = {})
      : log_(std::move(log)) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    std::vector<std::string> envs;
    for (char** e = environ; *e; ++e) envs.emplace_back(*e);
    for (auto& e : env) envs.push_back(e);
    std::vector<char*> envp;
    for (auto& e : envs) envp.push_back(e.data());
    envp.push_back(nullptr);
    if (posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), envp.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~ChildServer() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 50; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(20ms);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  bool running() const { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }
  std::string log() const {
    std::ifstream in(log_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  // Waits (bounded) until the server listens on UDP `port`.
  bool wait_udp(uint16_t port) const {
    for (int i = 0; i < 500 && running(); ++i) {
      if (udp_listening(port)) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

 private:
  pid_t pid_ = -1;
  fs::path log_;
};

struct Outcome {
  std::optional<ctn::Error> error;
  ctn::quic::Response response;
};

// Runs one request on a new connection to `options.server` until it settles (the io_context stops
// once every handler ran: the connection closes after the answer).
Outcome fetch_once(ctn::quic::Options options, ctn::quic::Request request) {
  asio::io_context io;
  Outcome out;
  auto conn = ctn::quic::ClientConnection::create(io, std::move(options));
  conn->fetch(std::move(request), [&](const ctn::Error* error, ctn::quic::Response&& response) {
    if (error) out.error = *error;
    out.response = std::move(response);
    conn->close();
  });
  conn->start();
  io.run();
  return out;
}

ctn::quic::Options options_for(uint16_t port) {
  ctn::quic::Options o;
  o.server = asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), port);
  o.server_name = "localhost";
  o.ca_file = (cert_dir() / "ca.pem").string();
  o.handshake_timeout_ms = 10'000;
  o.read_timeout_ms = 10'000;
  return o;
}

// The body of extension `type` in a ClientHello handshake message (empty when absent).
std::string_view hello_extension(std::string_view hello, uint16_t type) {
  const auto u8 = [&](size_t at) { return at < hello.size() ? static_cast<uint8_t>(hello[at]) : 0; };
  const auto u16 = [&](size_t at) { return static_cast<size_t>(u8(at) << 8 | u8(at + 1)); };
  size_t p = 4 + 2 + 32;  // handshake header, legacy_version, random
  p += 1 + u8(p);         // session id
  p += 2 + u16(p);        // cipher suites
  p += 1 + u8(p);         // compression methods
  const size_t end = p + 2 + u16(p);
  for (p += 2; p + 4 <= end && p + 4 <= hello.size(); p += 4 + u16(p + 2)) {
    if (u16(p) == type) return hello.substr(p + 4, u16(p + 2));
  }
  return {};
}

// A ClientHello handshake message taken apart: the cipher suites and the extensions in wire order.
struct ClientHello {
  std::vector<uint16_t> ciphers;
  std::vector<std::pair<uint16_t, std::string>> extensions;  // id, body

  explicit ClientHello(std::string_view hello) {
    const auto u8 = [&](size_t at) { return at < hello.size() ? static_cast<uint8_t>(hello[at]) : 0; };
    const auto u16 = [&](size_t at) { return static_cast<uint16_t>(u8(at) << 8 | u8(at + 1)); };
    size_t p = 4 + 2 + 32;  // handshake header, legacy_version, random
    p += 1 + u8(p);         // session id
    for (size_t c = p + 2; c < p + 2 + u16(p); c += 2) ciphers.push_back(u16(c));
    p += 2 + u16(p);
    p += 1 + u8(p);  // compression methods
    const size_t end = std::min(hello.size(), p + 2 + u16(p));
    for (p += 2; p + 4 <= end; p += 4 + u16(p + 2)) {
      extensions.emplace_back(u16(p), std::string(hello.substr(p + 4, u16(p + 2))));
    }
  }
  const std::string* body(uint16_t id) const {
    for (const auto& [ext, b] : extensions)
      if (ext == id) return &b;
    return nullptr;
  }
  std::vector<uint16_t> ids() const {
    std::vector<uint16_t> out;
    for (const auto& e : extensions) out.push_back(e.first);
    return out;
  }
  // An extension body's u16 list behind a length of `skip` bytes (supported_groups, signature
  // algorithms: 2), as "11ec,001d,...".
  std::string u16_list(uint16_t id, size_t skip = 2) const {
    const std::string* b = body(id);
    return b && b->size() >= skip ? hex_list(std::string_view(*b).substr(skip)) : "";
  }
  // key_share's groups.
  std::string key_share_groups() const {
    const std::string* b = body(51);
    std::vector<uint16_t> groups;
    for (size_t p = 2; b && p + 4 <= b->size(); p += 4 + be16(*b, p + 2)) groups.push_back(be16(*b, p));
    return hex_list(groups);
  }
  static uint16_t be16(std::string_view s, size_t at) {
    return static_cast<uint16_t>(static_cast<uint8_t>(s[at]) << 8 | static_cast<uint8_t>(s[at + 1]));
  }
  static std::string hex_list(std::string_view s) {
    std::vector<uint16_t> v;
    for (size_t p = 0; p + 1 < s.size(); p += 2) v.push_back(be16(s, p));
    return hex_list(v);
  }
  static std::string hex_list(const std::vector<uint16_t>& v) {
    std::string out;
    char hex[8];
    for (uint16_t x : v) {
      std::snprintf(hex, sizeof hex, "%s%04x", out.empty() ? "" : ",", x);
      out += hex;
    }
    return out;
  }
};

// Shapes the QUIC ClientHello as preset `id`'s quic_tls says (what core does for HTTP/3) and captures
// the hello BoringSSL writes (on its way into the CRYPTO frames) into *hello.
void note_client_hello(int write_p, int, int content_type, const void* buf, size_t len, SSL*, void* arg) {
  const auto* bytes = static_cast<const char*>(buf);
  if (write_p && content_type == SSL3_RT_HANDSHAKE && len > 0 && bytes[0] == SSL3_MT_CLIENT_HELLO) {
    static_cast<std::string*>(arg)->assign(bytes, len);
  }
}

void shape_as(ctn::quic::Options& o, const ctn::TlsProfile& t, std::string* hello) {
  o.shape_client_hello = [t](SSL_CTX* ctx, ctn::Error* error) {
    return ctn::shape_quic_context(ctx, t, error);
  };
  o.shape_client_hello_ssl = [t, hello](SSL* ssl, ctn::Error* error) {
    if (!ctn::prepare_quic_connection(ssl, t, error)) return false;
    // After prepare_quic_connection, whose own capture (response.fingerprint's) this one replaces.
    SSL_set_msg_callback_arg(ssl, hello);
    SSL_set_msg_callback(ssl, &note_client_hello);
    return true;
  };
}

void shape_as_preset(ctn::quic::Options& o, const char* id, std::string* hello) {
  const ctn::Profile* profile = ctn::find_profile(id);
  ASSERT_NE(profile, nullptr);
  ASSERT_TRUE(profile->quic_tls);
  shape_as(o, *profile->quic_tls, hello);
}

const ctn::Header* find(const ctn::HeaderList& headers, std::string_view name) {
  for (const auto& h : headers) {
    if (h.name == name) return &h;
  }
  return nullptr;
}

std::string joined(const ctn::HeaderList& headers) {
  std::string s;
  for (const auto& h : headers) s += h.name + ": " + h.value + "; ";
  return s;
}

std::string error_text(const Outcome& o) {
  return o.error ? std::string(ctn::error_code_name(o.error->code)) + " (" +
                       std::string(ctn::stage_name(o.error->stage)) + "): " + o.error->message
                 : "no error";
}

// caddy serving HTTP/3 (and h1/h2 on TCP) for https://localhost:<port> on 127.0.0.1.
struct Caddy {
  explicit Caddy(const std::string& site_body) : port(free_port()) {
    const fs::path conf = dir.path / "Caddyfile";
    std::ofstream(conf) << "{\n  admin off\n  auto_https off\n  http_port " << free_port()
                        << "\n  servers {\n    protocols h1 h2 h3\n  }\n}\n"
                        << "https://localhost:" << port << " {\n  bind 127.0.0.1\n  tls "
                        << (cert_dir() / "server.pem") << " " << (cert_dir() / "server-key.pem") << "\n"
                        << site_body << "}\n";
    const std::string home = "HOME=" + dir.path.string();
    server.emplace(
        std::vector<std::string>{"caddy", "run", "--config", conf.string(), "--adapter", "caddyfile"},
        dir.path / "caddy.log",
        std::vector<std::string>{home, "XDG_DATA_HOME=" + dir.path.string(),
                                 "XDG_CONFIG_HOME=" + dir.path.string()});
  }
  bool ready() { return server->wait_udp(port); }
  TempDir dir;
  uint16_t port;
  std::optional<ChildServer> server;
};

// ngtcp2's example server (GnuTLS) serving files from a directory.
struct Ngtcp2Server {
  // `options`: gtlsserver options before the positional arguments.
  explicit Ngtcp2Server(std::vector<std::string> options = {}) : port(free_port()) {
    fs::create_directories(dir.path / "htdocs");
    std::vector<std::string> argv{"gtlsserver", "-q", "-d", (dir.path / "htdocs").string()};
    argv.insert(argv.end(), options.begin(), options.end());
    argv.insert(argv.end(), {"127.0.0.1", std::to_string(port), (cert_dir() / "server-key.pem").string(),
                             (cert_dir() / "server.pem").string()});
    server.emplace(argv, dir.path / "gtlsserver.log");
  }
  bool ready() { return server->wait_udp(port); }
  TempDir dir;
  uint16_t port;
  std::optional<ChildServer> server;
};

TEST(QuicHttp3, GetFromCaddy) {
  Caddy caddy("  header X-Served-By caddy-h3\n  respond /hello \"hello over HTTP/3\" 200\n");
  ASSERT_TRUE(caddy.ready()) << caddy.server->log();
  ctn::quic::Request req;
  req.authority = "localhost:" + std::to_string(caddy.port);
  req.path = "/hello";
  req.headers = {{"user-agent", "cycletls-native-test"}, {"accept", "*/*"}};
  ctn::quic::Options o = options_for(caddy.port);
  o.datagram_size = 1250;  // Chrome's datagrams: the whole exchange works with them
  std::string hello;
  shape_as_preset(o, "chrome_156", &hello);
  const Outcome out = fetch_once(o, req);
  EXPECT_EQ(ClientHello(hello).ids().size(), 12u);
  ASSERT_FALSE(out.error) << error_text(out) << "\n" << caddy.server->log();
  EXPECT_EQ(out.response.head.status, 200);
  EXPECT_EQ(out.response.head.version_major, 3);
  EXPECT_EQ(out.response.body, "hello over HTTP/3");
  const ctn::Header* served = find(out.response.head.headers, "x-served-by");
  ASSERT_NE(served, nullptr);
  EXPECT_EQ(served->value, "caddy-h3");
  // Go writes its header map in no fixed order, and quic-go no content-length for `respond`.
  const auto value = [&](std::string_view name) {
    const ctn::Header* h = find(out.response.head.headers, name);
    return h ? h->value : "<absent>";
  };
  EXPECT_EQ(value("server"), "Caddy") << joined(out.response.head.headers);
  EXPECT_EQ(value("x-served-by"), "caddy-h3");
  EXPECT_EQ(value("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(out.response.head.headers.size(), 3u);
}

// Firefox's QUIC hello (three key shares, delegated credentials, record_size_limit, NSS's ECH GREASE)
// completes a handshake with caddy too.
TEST(QuicHttp3, GetFromCaddyWithFirefoxsQuicHello) {
  Caddy caddy("  respond /hello \"hello over HTTP/3\" 200\n");
  ASSERT_TRUE(caddy.ready()) << caddy.server->log();
  ctn::quic::Request req;
  req.authority = "localhost:" + std::to_string(caddy.port);
  req.path = "/hello";
  ctn::quic::Options o = options_for(caddy.port);
  o.datagram_size = 1252;
  std::string hello;
  shape_as_preset(o, "firefox_153", &hello);
  const Outcome out = fetch_once(o, req);
  EXPECT_EQ(ClientHello(hello).ids().size(), 15u);
  ASSERT_FALSE(out.error) << error_text(out) << "\n" << caddy.server->log();
  EXPECT_EQ(out.response.head.status, 200);
  EXPECT_EQ(out.response.body, "hello over HTTP/3");
}

TEST(QuicHttp3, GetFromNgtcp2Server) {
  Ngtcp2Server server;
  // 8 MiB: more than the stream window (6 MiB), so the window has to be opened again as body arrives.
  std::string big(8 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
  std::ofstream(server.dir.path / "htdocs" / "big.txt", std::ios::binary) << big;
  std::ofstream(server.dir.path / "htdocs" / "hello.txt") << "hello from ngtcp2\n";
  ASSERT_TRUE(server.ready()) << server.server->log();

  ctn::quic::Request req;
  req.authority = "localhost:" + std::to_string(server.port);
  req.path = "/hello.txt";
  Outcome out = fetch_once(options_for(server.port), req);
  ASSERT_FALSE(out.error) << error_text(out) << "\n" << server.server->log();
  EXPECT_EQ(out.response.head.status, 200);
  EXPECT_EQ(out.response.body, "hello from ngtcp2\n");
  ASSERT_NE(find(out.response.head.headers, "content-length"), nullptr);
  EXPECT_EQ(find(out.response.head.headers, "content-length")->value, "18");

  req.path = "/big.txt";
  out = fetch_once(options_for(server.port), req);
  ASSERT_FALSE(out.error) << error_text(out);
  EXPECT_EQ(out.response.head.status, 200);
  EXPECT_EQ(out.response.body.size(), big.size());
  EXPECT_TRUE(out.response.body == big);

  req.path = "/missing.txt";
  out = fetch_once(options_for(server.port), req);
  ASSERT_FALSE(out.error) << error_text(out);
  EXPECT_EQ(out.response.head.status, 404);
}

// More requests than the server lets us open streams at once: the rest wait for its MAX_STREAMS and
// then go out on the same connection.
TEST(QuicHttp3, RequestsBeyondTheServersStreamLimitWaitForMaxStreams) {
  Ngtcp2Server server({"--max-streams-bidi=3"});
  for (int i = 0; i < 10; ++i) {
    std::ofstream(server.dir.path / "htdocs" / ("f" + std::to_string(i))) << "file " << i;
  }
  ASSERT_TRUE(server.ready()) << server.server->log();
  asio::io_context io;
  auto conn = ctn::quic::ClientConnection::create(io, options_for(server.port));
  std::vector<Outcome> outcomes(10);
  int settled = 0;
  for (int i = 0; i < 10; ++i) {
    ctn::quic::Request req;
    req.authority = "localhost:" + std::to_string(server.port);
    req.path = "/f" + std::to_string(i);
    conn->fetch(req, [&, i](const ctn::Error* e, ctn::quic::Response&& r) {
      if (e) outcomes[i].error = *e;
      outcomes[i].response = std::move(r);
      if (++settled == 10) conn->close();
    });
  }
  conn->start();
  io.run();
  for (int i = 0; i < 10; ++i) {
    ASSERT_FALSE(outcomes[i].error) << i << ": " << error_text(outcomes[i]);
    EXPECT_EQ(outcomes[i].response.head.status, 200);
    EXPECT_EQ(outcomes[i].response.body, "file " + std::to_string(i));
  }
}

TEST(QuicHttp3, CertificateFromAnotherCaIsRefusedWithTlsCert) {
  Ngtcp2Server server;
  ASSERT_TRUE(server.ready()) << server.server->log();
  ctn::quic::Options o = options_for(server.port);
  o.ca_file = (cert_dir() / "self-signed.pem").string();  // not the CA that signed server.pem
  ctn::quic::Request req;
  req.authority = "localhost";
  const Outcome out = fetch_once(o, req);
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->code, ctn::ErrorCode::kTlsCert) << error_text(out);
  EXPECT_EQ(out.error->stage, ctn::Stage::kTls);
}

// An IP literal as the server name: no SNI, and the certificate must name the address (server.pem
// carries IP:127.0.0.1 but not 127.0.0.2).
TEST(QuicHttp3, IpLiteralServerNameIsCheckedAgainstTheCertificatesAddresses) {
  Ngtcp2Server server;
  std::ofstream(server.dir.path / "htdocs" / "ip.txt") << "by address";
  ASSERT_TRUE(server.ready()) << server.server->log();
  ctn::quic::Request req;
  req.authority = "127.0.0.1:" + std::to_string(server.port);
  req.path = "/ip.txt";
  ctn::quic::Options o = options_for(server.port);
  o.server_name = "127.0.0.1";
  Outcome out = fetch_once(o, req);
  ASSERT_FALSE(out.error) << error_text(out);
  EXPECT_EQ(out.response.body, "by address");

  o.server_name = "127.0.0.2";
  out = fetch_once(o, req);
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->code, ctn::ErrorCode::kTlsCert) << error_text(out);
}

// Writes datagrams as one hex line each.
void dump_datagrams(const std::string& path, const std::vector<std::string>& datagrams) {
  std::ofstream dump(path);
  static constexpr char kHex[] = "0123456789abcdef";
  for (const auto& d : datagrams) {
    for (char c : d) dump << kHex[(c >> 4) & 0xf] << kHex[c & 0xf];
    dump << "\n";
  }
}

// Connections to a UDP peer that reads every datagram and never answers, all at once.
struct SilentPeerRun {
  const char* preset;                    // its quic_tls shapes the ClientHello
  const ctn::TlsProfile* tls = nullptr;  // or this one (a quicFingerprint's)
  int connections = 1;
  std::optional<ctn::quic::TransportShape> transport = {};  // its datagram size too
  uint32_t datagram_size = 0;                               // Options::datagram_size
  std::string server_name = "localhost";
  // CTN_QUIC_SHAPE_DUMP_DIR=<dir>: the datagrams also go to <dir>/<dump_name>.hex, one hex line each
  // (for an independent decoder, e.g. lib/echo's).
  std::string dump_name = {};
};

// What they sent until their handshake deadline (300 ms): the first flights and their
// retransmissions, and the ClientHellos inside.
struct FirstFlights {
  std::optional<ctn::Error> error;     // the first connection's
  std::vector<std::string> hellos;     // one per connection
  std::vector<std::string> datagrams;  // every datagram the silent peer received, in arrival order
  const std::string& hello() const { return hellos.at(0); }
};

FirstFlights send_to_silent_peer(const SilentPeerRun& run) {
  asio::io_context io;
  asio::ip::udp::socket silent(io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::array<char, 2048> sink;
  FirstFlights out;
  out.hellos.resize(run.connections);
  std::function<void()> read = [&] {
    silent.async_receive(asio::buffer(sink), [&](const std::error_code& ec, size_t got) {
      if (ec) return;
      out.datagrams.emplace_back(sink.data(), got);
      read();
    });
  };
  read();
  int settled = 0;
  std::vector<std::shared_ptr<ctn::quic::ClientConnection>> conns;
  for (int i = 0; i < run.connections; ++i) {
    ctn::quic::Options o = options_for(silent.local_endpoint().port());
    o.handshake_timeout_ms = 300;
    if (run.transport) o.transport = *run.transport;
    o.datagram_size = run.datagram_size;
    o.server_name = run.server_name;
    if (run.tls)
      shape_as(o, *run.tls, &out.hellos[i]);
    else
      shape_as_preset(o, run.preset, &out.hellos[i]);
    conns.push_back(ctn::quic::ClientConnection::create(io, o));
    conns.back()->fetch(ctn::quic::Request{}, [&, i](const ctn::Error* e, ctn::quic::Response&&) {
      if (e && i == 0) out.error = *e;
      if (++settled == run.connections) silent.close();
    });
    conns.back()->start();
  }
  io.run();
  const char* dir = std::getenv("CTN_QUIC_SHAPE_DUMP_DIR");
  if (dir && !run.dump_name.empty())
    dump_datagrams((fs::path(dir) / (run.dump_name + ".hex")).string(), out.datagrams);
  return out;
}

TEST(QuicHttp3, SilentServerFailsWithHandshakeTimeout) {
  // With an X25519MLKEM768 key share the hello (~1.9 kB) takes two Initials, as a browser's does;
  // 1250: Chrome's size, which the padded Initial fills.
  const FirstFlights c = send_to_silent_peer({.preset = "chrome_156", .datagram_size = 1250});
  // CTN_QUIC_FIRST_FLIGHT_DUMP=<file>: the datagrams received, one hex line each (how docs/quic-gap.md
  // measured what this stack sends).
  if (const char* dump_path = std::getenv("CTN_QUIC_FIRST_FLIGHT_DUMP"))
    dump_datagrams(dump_path, c.datagrams);
  ASSERT_TRUE(c.error);
  EXPECT_EQ(c.error->code, ctn::ErrorCode::kTimeout) << c.error->message;
  EXPECT_EQ(c.error->stage, ctn::Stage::kTls);
  ASSERT_GE(c.datagrams.size(), 2u);  // the first flight did go out
  EXPECT_EQ(c.datagrams[0].size(), 1250u);
  EXPECT_EQ(c.datagrams[1].size(), 1250u);
}

// The sorted extension ids of a hello, as "0,10,13,..." (JA3N's extension field).
std::string sorted_ids(const ClientHello& h) {
  std::vector<uint16_t> ids = h.ids();
  std::sort(ids.begin(), ids.end());
  std::string out;
  for (uint16_t id : ids) out += (out.empty() ? "" : "-") + std::to_string(id);
  return out;
}

// A preset's QUIC ClientHello against the ground truth (shared/fingerprints/quic/README.md): JA4_r's
// and JA3N's parts field by field (the hash-free forms of JA4 and JA3N), and the extension bodies
// the README gives. CTN_QUIC_PRESET_DUMP_DIR=<dir>: each preset's first two datagrams go to
// <dir>/<preset>.hex, for test/echo/quic-preset-hello.test.js (the echo server's decoder and JA4).
void expect_preset_first_flight(const char* preset, uint32_t datagram_size, FirstFlights* out) {
  *out = send_to_silent_peer({.preset = preset, .datagram_size = datagram_size});
  ASSERT_GE(out->datagrams.size(), 2u);
  if (const char* dir = std::getenv("CTN_QUIC_PRESET_DUMP_DIR")) {
    dump_datagrams(std::string(dir) + "/" + preset + ".hex", {out->datagrams[0], out->datagrams[1]});
  }
  ASSERT_FALSE(out->hello().empty());
  const ClientHello h(out->hello());
  EXPECT_EQ(static_cast<uint8_t>(out->hello()[4 + 2 + 32]), 0);  // empty legacy_session_id
  EXPECT_EQ(*h.body(43), std::string("\x02\x03\x04", 3));        // supported_versions: TLS 1.3 only
  EXPECT_EQ(*h.body(45), std::string("\x01\x01", 2));            // psk_dhe_ke
  EXPECT_EQ(*h.body(16), std::string("\x00\x03\x02h3", 5));      // ALPN h3
}

TEST(QuicHttp3, Chrome156QuicHelloEqualsChromiums) {
  FirstFlights c;
  expect_preset_first_flight("chrome_156", 1250, &c);
  if (HasFatalFailure()) return;
  const ClientHello h(c.hello());
  EXPECT_EQ(ClientHello::hex_list(h.ciphers), "1301,1302,1303");
  EXPECT_EQ(sorted_ids(h), "0-10-13-16-27-43-45-51-57-17613-51764-65037");
  EXPECT_EQ(h.u16_list(10), "11ec,001d,0017,0018");
  EXPECT_EQ(h.key_share_groups(), "11ec,001d");
  EXPECT_EQ(h.body(51)->size(), 2u + 4 + 1216 + 4 + 32);
  EXPECT_EQ(h.u16_list(13), "0403,0804,0401,0503,0805,0501,0806,0601,0201");
  EXPECT_EQ(*h.body(27), std::string("\x02\x00\x02", 3));       // brotli
  EXPECT_EQ(*h.body(17613), std::string("\x00\x03\x02h3", 5));  // ALPS h3, new code point
  EXPECT_EQ(h.body(51764)->size(), 186u);                       // trust_anchors, as over TCP
  EXPECT_TRUE(h.body(65037)->size() == 186 || h.body(65037)->size() == 218 || h.body(65037)->size() == 250 ||
              h.body(65037)->size() == 282)
      << h.body(65037)->size();
  // Shuffled per connection: a second connection's order differs (or, once in 12!, repeats: try again).
  std::vector<uint16_t> first = h.ids(), other = first;
  for (int i = 0; i < 3 && other == first; ++i) {
    FirstFlights again = send_to_silent_peer({.preset = "chrome_156", .datagram_size = 1250});
    other = ClientHello(again.hello()).ids();
  }
  EXPECT_NE(first, other);
}

TEST(QuicHttp3, Firefox153QuicHelloEqualsFirefoxs) {
  FirstFlights c;
  expect_preset_first_flight("firefox_153", 1252, &c);
  if (HasFatalFailure()) return;
  const ClientHello h(c.hello());
  EXPECT_EQ(ClientHello::hex_list(h.ciphers), "1301,1303,1302");
  // With extended_master_secret (23) and renegotiation_info (65281), though TLS 1.3 only (patch 0013).
  EXPECT_EQ(sorted_ids(h), "0-5-10-13-16-23-27-28-34-43-45-51-57-65037-65281");
  EXPECT_EQ(*h.body(65281), std::string(1, '\0'));
  EXPECT_EQ(h.u16_list(10), "11ec,001d,0017,0018,0019");
  EXPECT_EQ(h.key_share_groups(), "11ec,001d,0017");
  EXPECT_EQ(h.u16_list(13), "0403,0503,0603,0203,0804,0805,0806,0401,0501,0601,0201");
  EXPECT_EQ(*h.body(27), std::string("\x06\x00\x01\x00\x03\x00\x02", 7));  // zlib, zstd, brotli
  EXPECT_EQ(*h.body(28), std::string("\x40\x01", 2));                      // 16385
  EXPECT_EQ(h.u16_list(34), "0403,0503,0603,0203");
  EXPECT_EQ(*h.body(5), std::string("\x01\x00\x00\x00\x00", 5));
  EXPECT_EQ(h.body(65037)->size(), 281u);  // NSS's GREASE ECH, sized as its inner hello would be
  const std::vector<uint16_t> ids = h.ids();
  EXPECT_EQ(std::vector<uint16_t>(ids.end() - 2, ids.end()), (std::vector<uint16_t>{57, 65037}));
  std::vector<uint16_t> other = ids;
  for (int i = 0; i < 3 && other == ids; ++i)
    other = ClientHello(send_to_silent_peer({.preset = "firefox_153", .datagram_size = 1252}).hello()).ids();
  EXPECT_NE(ids, other);
  EXPECT_EQ(std::vector<uint16_t>(other.end() - 2, other.end()), (std::vector<uint16_t>{57, 65037}));
}

// An HTTP/1.1 backend on 127.0.0.1 that answers every request with a head promising
// `promised` body bytes, sends `sent` of them and closes: what a crashing upstream looks like.
class DyingBackend {
 public:
  DyingBackend(size_t promised, size_t sent) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listener_, 8);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    thread_ = std::thread([this, promised, sent] {
      for (;;) {
        const int fd = ::accept(listener_, nullptr, nullptr);
        if (fd < 0) return;
        std::string request;
        char buf[4096];
        while (request.find("\r\n\r\n") == std::string::npos) {
          const ssize_t n = ::read(fd, buf, sizeof buf);
          if (n <= 0) break;
          request.append(buf, static_cast<size_t>(n));
        }
        const std::string out =
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(promised) +
            "\r\n\r\n" + std::string(sent, 'x');
        for (size_t off = 0; off < out.size();) {
          const ssize_t n = ::write(fd, out.data() + off, out.size() - off);
          if (n <= 0) break;
          off += static_cast<size_t>(n);
        }
        ::close(fd);
      }
    });
  }
  ~DyingBackend() {
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    thread_.join();
  }
  uint16_t port = 0;

 private:
  int listener_ = -1;
  std::thread thread_;
};

// caddy (quic-go) ends the stream when its upstream dies: the body falls short of its content-length.
// That request fails; another one on the same connection is unaffected.
TEST(QuicHttp3, UpstreamDyingMidBodyFailsThatStreamOnly) {
  DyingBackend backend(1'000'000, 200'000);
  Caddy caddy("  handle /dies {\n    reverse_proxy 127.0.0.1:" + std::to_string(backend.port) +
              " {\n      flush_interval -1\n    }\n  }\n  respond /hello \"still here\" 200\n");
  ASSERT_TRUE(caddy.ready()) << caddy.server->log();
  asio::io_context io;
  auto conn = ctn::quic::ClientConnection::create(io, options_for(caddy.port));
  Outcome dies, hello;
  auto request = [&](const char* path, Outcome& into, std::function<void()> then) {
    ctn::quic::Request req;
    req.authority = "localhost:" + std::to_string(caddy.port);
    req.path = path;
    conn->fetch(req, [&into, then](const ctn::Error* e, ctn::quic::Response&& r) {
      if (e) into.error = *e;
      into.response = std::move(r);
      then();
    });
  };
  // /hello goes out only after /dies failed: the connection must still be usable then.
  request("/dies", dies, [&] { request("/hello", hello, [&] { conn->close(); }); });
  conn->start();
  io.run();
  ASSERT_TRUE(dies.error) << "body " << dies.response.body.size() << " bytes";
  EXPECT_EQ(dies.error->code, ctn::ErrorCode::kBodyTruncated) << error_text(dies);
  EXPECT_EQ(dies.error->stage, ctn::Stage::kBody);
  ASSERT_FALSE(hello.error) << error_text(hello);
  EXPECT_EQ(hello.response.head.status, 200);
  EXPECT_EQ(hello.response.body, "still here");
}

// A response head beyond kMaxHeaderSectionBytes (a 300 000-byte field) fails the request with
// ERR_PROTOCOL before any head is delivered. nghttp3 0.8.0's QPACK decoder is unusable after that, so
// the connection closes (H3 error code inferred by nghttp3); requests still open fail with it.
TEST(QuicHttp3, HugeResponseHeadFailsWithProtocolError) {
  Caddy caddy("  header X-Huge " + std::string(300'000, 'h') + "\n  respond \"never seen\" 200\n");
  ASSERT_TRUE(caddy.ready()) << caddy.server->log();
  ctn::quic::Request req;
  req.authority = "localhost:" + std::to_string(caddy.port);
  req.path = "/huge";
  const Outcome out = fetch_once(options_for(caddy.port), req);
  ASSERT_TRUE(out.error) << "status " << out.response.head.status;
  EXPECT_EQ(out.error->code, ctn::ErrorCode::kProtocol) << error_text(out);
  EXPECT_EQ(out.error->stage, ctn::Stage::kHeaders);
  EXPECT_NE(out.error->message.find("passed the limit"), std::string::npos) << out.error->message;
  EXPECT_EQ(out.response.head.status, 0);
}

// A UDP relay between the client and a server that forwards both ways until `budget` bytes came
// from the server, then drops everything: the server has fallen silent mid-response.
class SilencingRelay {
 public:
  // It also drops the client's first `drop_from_client` datagrams (a lost first flight).
  SilencingRelay(asio::io_context& io, asio::ip::udp::endpoint server, size_t budget,
                 size_t drop_from_client = 0)
      : client_side_(io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        server_side_(io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        server_(server),
        budget_(budget),
        drop_from_client_(drop_from_client) {
    from_client();
    from_server();
  }
  uint16_t port() const { return client_side_.local_endpoint().port(); }
  void close() {
    client_side_.close();
    server_side_.close();
  }
  bool silenced() const { return forwarded_ >= budget_; }
  size_t dropped() const { return dropped_; }

 private:
  void from_client() {
    client_side_.async_receive_from(asio::buffer(up_), client_, [this](const std::error_code& ec, size_t n) {
      if (ec) return;
      std::error_code ignored;
      if (dropped_ < drop_from_client_)
        ++dropped_;
      else if (!silenced())
        server_side_.send_to(asio::buffer(up_.data(), n), server_, 0, ignored);
      from_client();
    });
  }
  void from_server() {
    server_side_.async_receive(asio::buffer(down_), [this](const std::error_code& ec, size_t n) {
      if (ec) return;
      std::error_code ignored;
      if (!silenced()) {
        forwarded_ += n;
        client_side_.send_to(asio::buffer(down_.data(), n), client_, 0, ignored);
      }
      from_server();
    });
  }
  asio::ip::udp::socket client_side_, server_side_;
  asio::ip::udp::endpoint server_, client_;
  std::array<char, 65536> up_, down_;
  size_t budget_;
  size_t forwarded_ = 0;
  size_t drop_from_client_;
  size_t dropped_ = 0;
};

TEST(QuicHttp3, ServerSilentMidBodyFailsWithBodyTruncated) {
  Ngtcp2Server server;
  std::ofstream(server.dir.path / "htdocs" / "big.bin", std::ios::binary) << std::string(8 << 20, 'z');
  ASSERT_TRUE(server.ready()) << server.server->log();
  asio::io_context io;
  SilencingRelay relay(io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), server.port),
                       256 * 1024);
  ctn::quic::Options o = options_for(relay.port());
  o.idle_timeout_ms = 400;  // QUIC's idle timeout ends the silent connection
  std::optional<ctn::Error> error;
  size_t body = 0;
  auto conn = ctn::quic::ClientConnection::create(io, o);
  ctn::quic::Request req;
  req.authority = "localhost:" + std::to_string(server.port);
  req.path = "/big.bin";
  conn->fetch(req, [&](const ctn::Error* e, ctn::quic::Response&& r) {
    if (e) error = *e;
    body = r.body.size();
    relay.close();
  });
  conn->start();
  io.run();
  ASSERT_TRUE(error) << body;
  EXPECT_TRUE(relay.silenced());
  EXPECT_EQ(error->code, ctn::ErrorCode::kBodyTruncated) << error->message;
  EXPECT_EQ(error->stage, ctn::Stage::kBody);
}

}  // namespace

// ---- The transport parameters and connection IDs of the browser shapes (transport_shape.h) ----

struct WireParameter {
  uint64_t id = 0;
  size_t id_width = 0;
  std::string value_hex;
};

// A QUIC varint at `at` (RFC 9000 §16); *width gets its length. 0 past the end.
uint64_t read_varint(std::string_view s, size_t& at, size_t* width) {
  if (at >= s.size()) return *width = 0;
  const size_t n = size_t{1} << (static_cast<uint8_t>(s[at]) >> 6);
  *width = n;
  if (at + n > s.size()) return at = s.size(), 0;
  uint64_t v = static_cast<uint8_t>(s[at]) & 0x3f;
  for (size_t i = 1; i < n; ++i) v = v << 8 | static_cast<uint8_t>(s[at + i]);
  at += n;
  return v;
}

std::string hex_of(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) out += {kHex[c >> 4], kHex[c & 0xf]};
  return out;
}

// Extension 57 of a ClientHello handshake message, decoded in wire order.
std::vector<WireParameter> hello_transport_parameters(std::string_view hello) {
  const std::string_view body = hello_extension(hello, 57);
  std::vector<WireParameter> out;
  for (size_t at = 0; at < body.size();) {
    WireParameter w;
    size_t len_width = 0;
    w.id = read_varint(body, at, &w.id_width);
    const uint64_t len = read_varint(body, at, &len_width);
    if (w.id_width == 0 || len_width == 0 || at + len > body.size()) return {};  // malformed
    w.value_hex = hex_of(body.substr(at, len));
    at += len;
    out.push_back(std::move(w));
  }
  return out;
}

// The Initial's long header (RFC 9000 §17.2): DCID and SCID.
struct LongHeaderIds {
  std::string dcid, scid;
};
LongHeaderIds long_header_ids(std::string_view d) {
  LongHeaderIds ids;
  if (d.size() < 7 || (static_cast<uint8_t>(d[0]) & 0xc0) != 0xc0) return ids;
  const size_t dlen = static_cast<uint8_t>(d[5]);
  ids.dcid = std::string(d.substr(6, dlen));
  const size_t slen = static_cast<uint8_t>(d[6 + dlen]);
  ids.scid = std::string(d.substr(7 + dlen, slen));
  return ids;
}

// The first Initial packet of datagram `d`, opened with the keys of the client's first DCID
// (RFC 9001 §5.2, §5.4, §5.3): its packet number and encoded length, its size, the width of its Length
// field and its plaintext payload. pn -1 when `d` is not a client Initial or does not open.
struct OpenedInitial {
  int64_t pn = -1;
  size_t pn_length = 0;
  size_t header_size = 0;   // up to and with the packet number
  size_t packet_size = 0;   // header, payload and AEAD tag
  size_t length_width = 0;  // the Length field's varint width
  std::string payload;
};
OpenedInitial open_initial(std::string_view d) {
  OpenedInitial out;
  const LongHeaderIds ids = long_header_ids(d);
  if (ids.dcid.empty() || (static_cast<uint8_t>(d[0]) & 0x30) != 0) return out;
  size_t at = 7 + ids.dcid.size() + ids.scid.size(), width = 0;
  at += read_varint(d, at, &width);  // token length, then the token
  const uint64_t length = read_varint(d, at, &out.length_width);
  if (at + 4 + 16 > d.size() || at + length > d.size()) return out;
  static constexpr uint8_t kSaltV1[] = {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
                                        0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a};
  const auto expand_label = [](const uint8_t* secret, std::string_view label, uint8_t* key, size_t n) {
    const std::string full = "tls13 " + std::string(label);
    std::string info{static_cast<char>(n >> 8), static_cast<char>(n)};
    info += static_cast<char>(full.size());
    info += full;
    info += '\0';
    HKDF_expand(key, n, EVP_sha256(), secret, 32, reinterpret_cast<const uint8_t*>(info.data()), info.size());
  };
  uint8_t initial[32], client[32], hp[16], key[16], iv[12];
  size_t len = sizeof initial;
  HKDF_extract(initial, &len, EVP_sha256(), reinterpret_cast<const uint8_t*>(ids.dcid.data()),
               ids.dcid.size(), kSaltV1, sizeof kSaltV1);
  expand_label(initial, "client in", client, sizeof client);
  expand_label(client, "quic hp", hp, sizeof hp);
  expand_label(client, "quic key", key, sizeof key);
  expand_label(client, "quic iv", iv, sizeof iv);
  AES_KEY hp_key;
  AES_set_encrypt_key(hp, 128, &hp_key);
  uint8_t mask[16];
  AES_encrypt(reinterpret_cast<const uint8_t*>(d.data() + at + 4), mask, &hp_key);
  std::string header(d.substr(0, at + 4));
  header[0] = static_cast<char>(static_cast<uint8_t>(header[0]) ^ (mask[0] & 0x0f));
  out.pn_length = (static_cast<uint8_t>(header[0]) & 0x03) + 1;
  header.resize(at + out.pn_length);
  int64_t pn = 0;
  for (size_t i = 0; i < out.pn_length; ++i) {
    header[at + i] = static_cast<char>(static_cast<uint8_t>(d[at + i]) ^ mask[1 + i]);
    pn = pn << 8 | static_cast<uint8_t>(header[at + i]);
  }
  out.header_size = header.size();
  out.packet_size = at + length;
  uint8_t nonce[12];
  std::memcpy(nonce, iv, sizeof nonce);
  for (size_t i = 0; i < 8; ++i) nonce[11 - i] ^= static_cast<uint8_t>(pn >> (8 * i));
  bssl::ScopedEVP_AEAD_CTX aead;
  if (!EVP_AEAD_CTX_init(aead.get(), EVP_aead_aes_128_gcm(), key, sizeof key, 16, nullptr)) return out;
  const std::string_view sealed = d.substr(header.size(), out.packet_size - header.size());
  out.payload.resize(sealed.size());
  size_t opened = 0;
  if (!EVP_AEAD_CTX_open(aead.get(), reinterpret_cast<uint8_t*>(out.payload.data()), &opened,
                         out.payload.size(), nonce, sizeof nonce,
                         reinterpret_cast<const uint8_t*>(sealed.data()), sealed.size(),
                         reinterpret_cast<const uint8_t*>(header.data()), header.size())) {
    return out;
  }
  out.payload.resize(opened);
  out.pn = pn;
  return out;
}

// An Initial's packet number and its encoded length ({-1, 0}: not a client Initial).
std::pair<int64_t, size_t> initial_packet_number(std::string_view d) {
  const OpenedInitial o = open_initial(d);
  return {o.pn, o.pn_length};
}

// The frames of an Initial's payload, as the captures' analysis lists them: CRYPTO(offset, length),
// PING, PADDING(run length) for each run of zero bytes; '?' for anything else (the rest unread).
struct WireFrame {
  char type = '?';  // 'C' CRYPTO, 'P' PING, '0' PADDING
  uint64_t offset = 0;
  size_t length = 0;
  std::string data;  // CRYPTO's
};
std::vector<WireFrame> initial_frames(std::string_view payload) {
  std::vector<WireFrame> out;
  for (size_t at = 0; at < payload.size();) {
    const uint8_t type = static_cast<uint8_t>(payload[at]);
    if (type == 0x00) {
      const size_t end = std::min(payload.find_first_not_of('\0', at), payload.size());
      out.push_back({'0', 0, end - at, {}});
      at = end;
    } else if (type == 0x01) {
      out.push_back({'P', 0, 0, {}});
      ++at;
    } else if (type == 0x06) {
      size_t w = 0;
      ++at;
      WireFrame f{'C', read_varint(payload, at, &w), 0, {}};
      f.length = read_varint(payload, at, &w);
      f.data = std::string(payload.substr(at, f.length));
      at += f.length;
      out.push_back(std::move(f));
    } else {
      out.push_back({'?', 0, 0, {}});
      break;
    }
  }
  return out;
}

// The frames as the captures' analysis writes them: "CRYPTO(0,43) PING PADDING(58) ...".
std::string describe(const std::vector<WireFrame>& frames) {
  std::string out;
  for (const WireFrame& w : frames) {
    out += w.type == 'C'   ? "CRYPTO(" + std::to_string(w.offset) + "," + std::to_string(w.length) + ") "
           : w.type == 'P' ? std::string("PING ")
           : w.type == '0' ? "PADDING(" + std::to_string(w.length) + ") "
                           : std::string("? ");
  }
  return out;
}

// The size of the first QUIC packet in datagram `d` (its long header's Length field, RFC 9000 §17.2).
size_t first_packet_size(std::string_view d) {
  const LongHeaderIds ids = long_header_ids(d);
  size_t at = 7 + ids.dcid.size() + ids.scid.size(), width = 0;
  at += read_varint(d, at, &width);
  const uint64_t length = read_varint(d, at, &width);
  return at + length;
}

// The first flight's datagrams of each connection (keyed by its first DCID), in the order sent.
std::map<std::string, std::vector<std::string>> by_connection(const std::vector<std::string>& datagrams) {
  std::map<std::string, std::vector<std::string>> out;
  for (const std::string& d : datagrams) out[long_header_ids(d).dcid].push_back(d);
  return out;
}

std::string id_list(const std::vector<WireParameter>& params) {
  std::string s;
  for (const auto& p : params) {
    if (!s.empty()) s += ',';
    s += std::to_string(p.id);
  }
  return s;
}

bool is_grease_version(std::string_view hex8) {
  return hex8.size() == 8 && hex8[1] == 'a' && hex8[3] == 'a' && hex8[5] == 'a' && hex8[7] == 'a';
}

// Chrome 156: 13 parameters (values and varint widths as captured), shuffled per connection, one
// GREASE parameter, version_information 0x11 with v1 and a GREASE version in random order; DCID 8
// bytes, SCID none.
TEST(QuicTransportShape, ChromeFirstFlightCarriesChromesParametersShuffled) {
  const FirstFlights f = send_to_silent_peer({.preset = "chrome_156",
                                              .connections = 8,
                                              .transport = ctn::quic::chrome_156_transport(),
                                              .dump_name = "chrome"});
  ASSERT_GE(f.datagrams.size(), 8u);
  for (const std::string& d : f.datagrams) {
    const LongHeaderIds ids = long_header_ids(d);
    EXPECT_EQ(ids.dcid.size(), 8u);
    EXPECT_EQ(ids.scid.size(), 0u);
  }
  // id -> (id width, value) as Chromium sends them (shared/fingerprints/quic, caddy run, conn 1).
  const std::map<uint64_t, std::pair<size_t, std::string>> expected = {
      {0x1, {1, "80007530"}}, {0x3, {1, "45c0"}},      {0x4, {1, "80f00000"}},    {0x5, {1, "80600000"}},
      {0x6, {1, "80600000"}}, {0x7, {1, "80600000"}},  {0x8, {1, "4064"}},        {0x9, {1, "4067"}},
      {0xf, {1, ""}},         {0x20, {1, "80010000"}}, {0x3128, {2, "4f524947"}},
  };
  std::set<std::string> orders;
  for (const std::string& hello : f.hellos) {
    const std::vector<WireParameter> params = hello_transport_parameters(hello);
    ASSERT_EQ(params.size(), 13u) << id_list(params);
    orders.insert(id_list(params));
    size_t grease = 0, version_information = 0;
    for (const WireParameter& p : params) {
      if (p.id % 31 == 27 && p.id > 0x3128) {
        ++grease;
        EXPECT_EQ(p.id_width, 8u);
        EXPECT_GE(p.value_hex.size(), 2u);
        EXPECT_LE(p.value_hex.size(), 30u);
      } else if (p.id == 0x11) {
        ++version_information;
        ASSERT_EQ(p.value_hex.size(), 24u);
        EXPECT_EQ(p.value_hex.substr(0, 8), "00000001");
        const std::string a = p.value_hex.substr(8, 8), b = p.value_hex.substr(16, 8);
        EXPECT_TRUE((a == "00000001" && is_grease_version(b)) || (b == "00000001" && is_grease_version(a)))
            << p.value_hex;
      } else {
        const auto it = expected.find(p.id);
        ASSERT_NE(it, expected.end()) << "unexpected parameter " << p.id;
        EXPECT_EQ(p.id_width, it->second.first) << p.id;
        EXPECT_EQ(p.value_hex, it->second.second) << p.id;
      }
    }
    EXPECT_EQ(grease, 1u);
    EXPECT_EQ(version_information, 1u);
  }
  EXPECT_GT(orders.size(), 1u);  // 8 connections, 13! orders: the same order twice is ~never
  // Two 1250-byte datagrams each: PN 1 on one byte, then PN 2 on two.
  const auto connections = by_connection(f.datagrams);
  EXPECT_EQ(connections.size(), 8u);
  for (const auto& [dcid, datagrams] : connections) {
    ASSERT_EQ(datagrams.size(), 2u);
    EXPECT_EQ(datagrams[0].size(), 1250u);
    EXPECT_EQ(datagrams[1].size(), 1250u);
    EXPECT_EQ(first_packet_size(datagrams[0]), 1250u);  // PADDING frames inside the packet
    EXPECT_EQ(initial_packet_number(datagrams[0]), (std::pair<int64_t, size_t>{1, 1}));
    EXPECT_EQ(initial_packet_number(datagrams[1]), (std::pair<int64_t, size_t>{2, 2}));
  }
}

// Firefox 153: 13 parameters in one fixed order with fixed values, GREASE version first, no GREASE
// parameter; DCID 8..20 random bytes, SCID 3 bytes (= initial_source_connection_id).
TEST(QuicTransportShape, FirefoxFirstFlightCarriesFirefoxsParametersInOrder) {
  const FirstFlights f = send_to_silent_peer({.preset = "firefox_153",
                                              .connections = 8,
                                              .transport = ctn::quic::firefox_153_transport(),
                                              .dump_name = "firefox"});
  ASSERT_GE(f.datagrams.size(), 8u);
  std::set<size_t> dcid_lengths;
  std::set<std::string> scids;
  for (const std::string& d : f.datagrams) {
    const LongHeaderIds ids = long_header_ids(d);
    EXPECT_GE(ids.dcid.size(), 8u);
    EXPECT_LE(ids.dcid.size(), 20u);
    dcid_lengths.insert(ids.dcid.size());
    EXPECT_EQ(ids.scid.size(), 3u);
    scids.insert(hex_of(ids.scid));
  }
  EXPECT_GT(dcid_lengths.size(), 1u);  // 8 connections over 13 lengths
  // Two 1252-byte datagrams each; the first packet number varies (1..31 or 512..1023), then +1.
  std::set<int64_t> first_numbers;
  const auto connections = by_connection(f.datagrams);
  EXPECT_EQ(connections.size(), 8u);
  for (const auto& [dcid, datagrams] : connections) {
    ASSERT_EQ(datagrams.size(), 2u);
    EXPECT_EQ(datagrams[0].size(), 1252u);
    EXPECT_EQ(datagrams[1].size(), 1252u);
    const int64_t first = initial_packet_number(datagrams[0]).first;
    EXPECT_TRUE((first >= 1 && first <= 31) || (first >= 512 && first <= 1023)) << first;
    EXPECT_EQ(initial_packet_number(datagrams[1]).first, first + 1);
    first_numbers.insert(first);
    for (const std::string& d : datagrams) {  // the packet, then zero bytes to the datagram's end
      const size_t packet = first_packet_size(d);
      EXPECT_LT(packet, 1100u) << describe(initial_frames(
          open_initial(d).payload));  // sized by its half of the hello (QuicFirstFlightLayout.*)
      EXPECT_EQ(d.find_first_not_of('\0', packet), std::string::npos);
    }
  }
  EXPECT_GT(first_numbers.size(), 1u);
  const std::vector<std::pair<uint64_t, std::string>> expected = {
      {0x1, "80007530"}, {0x4, "81800000"},    {0x5, "80c00000"},  {0x6, "80100000"}, {0x7, "80100000"},
      {0x8, "4064"},     {0x9, "4064"},        {0xb, "14"},        {0xe, "08"},       {0xf, "<scid>"},
      {0x11, "<vi>"},    {0xff02de1a, "43e8"}, {0x20, "8000ffff"},
  };
  for (const std::string& hello : f.hellos) {
    const std::vector<WireParameter> params = hello_transport_parameters(hello);
    ASSERT_EQ(params.size(), expected.size()) << id_list(params);
    for (size_t i = 0; i < params.size(); ++i) {
      EXPECT_EQ(params[i].id, expected[i].first) << i;
      EXPECT_EQ(params[i].id_width, expected[i].first == 0xff02de1a ? 8u : 1u) << i;
      if (expected[i].second == "<scid>") {
        EXPECT_EQ(params[i].value_hex.size(), 6u);
        EXPECT_TRUE(scids.count(params[i].value_hex)) << "initial_source_connection_id is not the SCID";
      } else if (expected[i].second == "<vi>") {
        ASSERT_EQ(params[i].value_hex.size(), 24u);
        EXPECT_EQ(params[i].value_hex.substr(0, 8), "00000001");
        EXPECT_TRUE(is_grease_version(params[i].value_hex.substr(8, 8))) << params[i].value_hex;
        EXPECT_EQ(params[i].value_hex.substr(16, 8), "00000001");
      } else {
        EXPECT_EQ(params[i].value_hex, expected[i].second) << i;
      }
    }
  }
}

// ---- The first flight's frame layout (crypto_layout.h, ngtcp2 patches 0003 and 0004) ----

// One connection's first flight, opened: per packet its Initial and frames.
struct OpenedFlight {
  std::vector<OpenedInitial> packets;
  std::vector<std::vector<WireFrame>> frames;
};

// Each connection's first two datagrams (keyed by DCID), opened; the hello each belongs to is found by
// the CRYPTO data at offset 0.
std::vector<std::pair<OpenedFlight, std::string>> opened_flights(const FirstFlights& f) {
  std::vector<std::pair<OpenedFlight, std::string>> out;
  for (const auto& [dcid, datagrams] : by_connection(f.datagrams)) {
    OpenedFlight flight;
    for (size_t i = 0; i < std::min<size_t>(2, datagrams.size()); ++i) {
      flight.packets.push_back(open_initial(datagrams[i]));
      flight.frames.push_back(initial_frames(flight.packets.back().payload));
    }
    std::map<uint64_t, std::string> pieces;
    for (const auto& frames : flight.frames)
      for (const WireFrame& w : frames)
        if (w.type == 'C') pieces[w.offset] = w.data;
    std::string reassembled, hello;
    for (const auto& [offset, data] : pieces)
      if (offset == reassembled.size()) reassembled += data;
    for (const std::string& h : f.hellos)
      if (h == reassembled) hello = h;
    out.emplace_back(std::move(flight), hello);
  }
  return out;
}

// The CRYPTO fragments of a flight cover `hello` exactly once, byte for byte.
void expect_covers_hello_once(const OpenedFlight& flight, const std::string& hello) {
  std::vector<const WireFrame*> crypto;
  for (const auto& frames : flight.frames)
    for (const WireFrame& w : frames)
      if (w.type == 'C') crypto.push_back(&w);
  std::sort(crypto.begin(), crypto.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  uint64_t next = 0;
  for (const WireFrame* w : crypto) {
    EXPECT_EQ(w->offset, next) << "a gap or an overlap";
    EXPECT_EQ(w->data, hello.substr(w->offset, w->length));
    next = w->offset + w->length;
  }
  EXPECT_EQ(next, hello.size());
}

size_t count(const std::vector<WireFrame>& frames, char type) {
  return static_cast<size_t>(
      std::count_if(frames.begin(), frames.end(), [&](auto& w) { return w.type == type; }));
}

void expect_in(size_t value, size_t lo, size_t hi, const char* what) {
  EXPECT_GE(value, lo) << what;
  EXPECT_LE(value, hi) << what;
}

// Chrome 156's chaos protection as captured (shared/fingerprints/quic, 6 connections): per packet 5..12
// CRYPTO fragments, 2..10 PINGs, 1..6 PADDING runs (11..20, 10..18, 4..11 over both), in random order;
// packet 1 holds the hello's first 67..83 bytes and its tail, floor(H/2) - 2 bytes; both packets fill
// their 1250-byte datagram, with a 2-byte Length.
TEST(QuicFirstFlightLayout, ChromeScramblesTheHelloAsChromeDoes) {
  const FirstFlights f = send_to_silent_peer({.preset = "chrome_156",
                                              .connections = 24,
                                              .transport = ctn::quic::chrome_156_transport(),
                                              .dump_name = "chrome-layout"});
  const auto flights = opened_flights(f);
  ASSERT_EQ(flights.size(), 24u);
  std::set<size_t> fragment_totals;
  size_t unordered = 0, padding_not_last = 0, padding_first = 0;
  for (const auto& [flight, hello] : flights) {
    ASSERT_FALSE(hello.empty());
    ASSERT_EQ(flight.packets.size(), 2u);
    expect_covers_hello_once(flight, hello);
    size_t fragments = 0, pings = 0, runs = 0;
    for (size_t i = 0; i < 2; ++i) {
      const OpenedInitial& p = flight.packets[i];
      const std::vector<WireFrame>& frames = flight.frames[i];
      ASSERT_EQ(p.pn, static_cast<int64_t>(i + 1));
      EXPECT_EQ(p.packet_size, 1250u);
      EXPECT_EQ(p.length_width, 2u);
      EXPECT_EQ(count(frames, '?'), 0u);
      const size_t c = count(frames, 'C'), g = count(frames, 'P'), r = count(frames, '0');
      expect_in(c, 5, 12, "CRYPTO fragments in a packet");
      expect_in(g, 2, 10, "PINGs in a packet");
      expect_in(r, 1, 6, "PADDING runs in a packet");
      fragments += c;
      pings += g;
      runs += r;
      std::vector<uint64_t> offsets;
      size_t bytes = 0;
      for (const WireFrame& w : frames) {
        if (w.type == 'C') offsets.push_back(w.offset), bytes += w.length;
      }
      if (!std::is_sorted(offsets.begin(), offsets.end())) ++unordered;
      if (frames.back().type != '0' && r > 0) ++padding_not_last;
      if (frames.front().type == '0') ++padding_first;
      size_t padding = 0;
      for (const WireFrame& w : frames) padding += w.type == '0' ? w.length : 0;
      expect_in(padding, 175, 311, "PADDING bytes in a packet");
      if (i == 0) {
        EXPECT_EQ(bytes, hello.size() / 2 - 2);
        // The head (0..A, A 67..83) and the tail.
        uint64_t head = 0;
        for (const WireFrame& w : frames)
          if (w.type == 'C' && w.offset < 100) head = std::max(head, w.offset + w.length);
        expect_in(head, 67, 83, "packet 1's leading bytes");
      }
    }
    expect_in(fragments, 11, 20, "CRYPTO fragments");
    expect_in(pings, 10, 18, "PINGs");
    expect_in(runs, 4, 11, "PADDING runs");
    fragment_totals.insert(fragments);
  }
  EXPECT_GT(unordered, 24u);        // random order: in order by chance is rare (48 packets)
  EXPECT_GT(padding_not_last, 0u);  // PADDING at random places, not one run at the end
  EXPECT_GT(padding_first, 0u);
  EXPECT_GT(fragment_totals.size(), 3u);
}

// Firefox 153 (neqo's SNI slicing) as captured: packet 1 = CRYPTO(X..end) CRYPTO(0..Y), packet 2 =
// CRYPTO(Y..X), Y the middle of the server name, each packet half the hello, no PING or PADDING; the
// packet ends after its frames (2-byte Length) and zeros fill the 1252-byte datagram. With Firefox's
// own 1882-byte hello (server name "fp.test", as captured) the packets are the captures' sizes:
// 979 + DCID + PN length bytes (978 when Y < 64) and 975 (974).
TEST(QuicFirstFlightLayout, FirefoxSlicesTheHelloInTheServerName) {
  const FirstFlights f = send_to_silent_peer({.preset = "firefox_153",
                                              .connections = 16,
                                              .transport = ctn::quic::firefox_153_transport(),
                                              .server_name = "fp.test",
                                              .dump_name = "firefox-layout"});
  const auto flights = opened_flights(f);
  ASSERT_EQ(flights.size(), 16u);
  std::set<uint64_t> cuts;
  for (const auto& [flight, hello] : flights) {
    ASSERT_EQ(hello.size(), 1882u);  // Firefox's, byte count for byte count
    ASSERT_EQ(flight.packets.size(), 2u);
    expect_covers_hello_once(flight, hello);
    const std::vector<WireFrame>& one = flight.frames[0];
    const std::vector<WireFrame>& two = flight.frames[1];
    ASSERT_EQ(one.size(), 2u);
    ASSERT_EQ(two.size(), 1u);
    ASSERT_TRUE(one[0].type == 'C' && one[1].type == 'C' && two[0].type == 'C');
    const uint64_t y = one[1].length, x = one[0].offset;
    EXPECT_EQ(one[1].offset, 0u);
    EXPECT_EQ(one[0].offset + one[0].length, hello.size());  // the tail first
    EXPECT_EQ(two[0].offset, y);
    EXPECT_EQ(two[0].offset + two[0].length, x);
    EXPECT_EQ(one[0].length + one[1].length, hello.size() / 2);
    // The cut through the middle of the host name is Y when the name sits in the first half (neqo
    // then sends the end of the rest first), else X (all of the rest first, then the start).
    const std::string_view sni = hello_extension(hello, 0);
    const size_t name = static_cast<size_t>(sni.data() - hello.data()) + 5;
    const size_t middle = name + (sni.size() - 5) / 2;
    EXPECT_EQ(middle, middle <= hello.size() / 2 ? y : x) << describe(one) << "| " << describe(two);
    cuts.insert(y);
    for (size_t i = 0; i < 2; ++i) {
      const OpenedInitial& p = flight.packets[i];
      EXPECT_EQ(p.length_width, 2u);
      const size_t dcid = p.header_size - 13 - p.pn_length;  // flags..SCID(3), token length, Length(2)
      const size_t expected = (i == 0 ? 979 : 975) - (y < 64 ? 1 : 0) + dcid + p.pn_length;
      EXPECT_EQ(p.packet_size, expected) << "packet " << i + 1 << ", DCID " << dcid << ", Y " << y;
      EXPECT_GE(p.packet_size, 983u);
      EXPECT_LE(p.packet_size, 1001u);
    }
  }
  EXPECT_GT(cuts.size(), 1u);  // the extension order moves the name, and the cut with it
}

// Without a server name (an IP literal) there is nothing to slice: Firefox's shape sends the hello in
// order, half in each packet, each packet still ending after its frame.
TEST(QuicFirstFlightLayout, FirefoxWithoutServerNameSendsHalvesInOrder) {
  const FirstFlights f = send_to_silent_peer({.preset = "firefox_153",
                                              .connections = 4,
                                              .transport = ctn::quic::firefox_153_transport(),
                                              .server_name = "127.0.0.1"});
  const auto flights = opened_flights(f);
  ASSERT_EQ(flights.size(), 4u);
  for (const auto& [flight, hello] : flights) {
    ASSERT_FALSE(hello.empty());
    EXPECT_TRUE(hello_extension(hello, 0).empty());  // no SNI
    ASSERT_EQ(flight.packets.size(), 2u);
    expect_covers_hello_once(flight, hello);
    EXPECT_EQ(describe(flight.frames[0]), "CRYPTO(0," + std::to_string(hello.size() / 2) + ") ");
    EXPECT_EQ(describe(flight.frames[1]), "CRYPTO(" + std::to_string(hello.size() / 2) + "," +
                                              std::to_string(hello.size() - hello.size() / 2) + ") ");
  }
}

// The rule behind Firefox's layout reproduces every captured full-handshake Firefox first flight
// (test/fixtures/fingerprints/quic: 12 connections) from its ClientHello, fragment for fragment.
TEST(QuicFirstFlightLayout, FirefoxRuleReproducesTheCapturedLayouts) {
  const fs::path captures = fs::path(__FILE__).parent_path() / ".." / "fixtures" / "fingerprints" / "quic";
  const auto unhex = [](const std::string& hex) {
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2)
      out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    return out;
  };
  const auto lines = [](const fs::path& file) {
    std::vector<std::string> out;
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);)
      if (!line.empty() && line[0] != '#') out.push_back(line);
    return out;
  };
  size_t compared = 0;
  for (const auto& run : fs::directory_iterator(captures)) {
    if (!run.is_directory()) continue;
    for (const auto& file : fs::directory_iterator(run.path())) {
      const std::string name = file.path().filename().string();
      const std::string suffix = ".clienthello.hex";
      if (!name.ends_with(suffix)) continue;
      const std::string stem = name.substr(0, name.size() - suffix.size());
      const std::string hello = unhex(lines(file.path()).at(0));
      const std::vector<std::string> payloads = lines(run.path() / (stem + ".initial-plaintext.hex"));
      std::vector<std::string> captured;  // "packet:offset+length" of every CRYPTO frame, in wire order
      bool firefox = payloads.size() == 2;
      for (size_t i = 0; i < payloads.size(); ++i) {
        for (const WireFrame& w : initial_frames(unhex(payloads[i]))) {
          if (w.type != 'C') firefox = false;  // Chrome's carry PINGs and PADDING
          captured.push_back(std::to_string(i) + ":" + std::to_string(w.offset) + "+" +
                             std::to_string(w.length));
        }
      }
      if (!firefox) continue;
      const size_t capacity[2] = {1200, 1200};  // what matters: the hello takes two packets
      std::vector<std::string> planned;
      for (const auto& f :
           ctn::quic::plan_first_flight(ctn::quic::CryptoLayout::kFirefoxSniSlice, hello, capacity,
                                        [](uint8_t*out, size_t n) { RAND_bytes(out, n); }))
        planned.push_back(std::to_string(f.packet) + ":" + std::to_string(f.offset) + "+" +
                          std::to_string(f.length));
      EXPECT_EQ(planned, captured) << run.path().filename() << "/" << stem;
      ++compared;
    }
  }
  EXPECT_EQ(compared, 12u);
}

// The randomised parts over many encodings: every GREASE length 1..15 appears, ids stay 31*N+27,
// Chrome's GREASE version takes both places, Firefox's only the first.
TEST(QuicTransportShape, RandomisedPartsFollowTheBrowsersDistributions) {
  const auto random = [](uint8_t* out, size_t n) { RAND_bytes(out, n); };
  std::set<size_t> grease_lengths;
  std::set<bool> grease_version_first;
  std::set<uint64_t> grease_ids;
  for (int i = 0; i < 600; ++i) {
    const std::string tp =
        ctn::quic::encode_transport_parameters(ctn::quic::chrome_156_transport(), "", random);
    for (size_t at = 0; at < tp.size();) {
      size_t w = 0, lw = 0;
      const uint64_t id = read_varint(tp, at, &w);
      const uint64_t len = read_varint(tp, at, &lw);
      if (id % 31 == 27 && w == 8) {
        grease_ids.insert(id);
        grease_lengths.insert(len);
      }
      if (id == 0x11) grease_version_first.insert(tp.substr(at + 4, 4) != std::string("\0\0\0\1", 4));
      at += len;
    }
    const std::string ff =
        ctn::quic::encode_transport_parameters(ctn::quic::firefox_153_transport(), "abc", random);
    const size_t vi = ff.find(std::string("\x11\x0c\0\0\0\1", 6));
    ASSERT_NE(vi, std::string::npos);
    EXPECT_NE(ff.substr(vi + 6, 4), std::string("\0\0\0\1", 4));  // GREASE first
    EXPECT_EQ(ff.substr(vi + 10, 4), std::string("\0\0\0\1", 4));
  }
  EXPECT_EQ(grease_lengths.size(), 15u);
  EXPECT_EQ(*grease_lengths.begin(), 1u);
  EXPECT_EQ(*grease_lengths.rbegin(), 15u);
  EXPECT_EQ(grease_version_first.size(), 2u);
  EXPECT_GT(grease_ids.size(), 590u);
}

// The shaped stacks still talk to real servers, caddy (quic-go) and ngtcp2's own server, through a UDP
// relay: as it is, and losing the client's first datagram once (the shaped first Initial: ngtcp2 sends
// its CRYPTO fragments again, each its own frame, and the GET completes).
TEST(QuicTransportShape, BrowserShapesGetFromCaddyAndNgtcp2Server) {
  Caddy caddy("  respond /hello \"hello over HTTP/3\" 200\n");
  ASSERT_TRUE(caddy.ready()) << caddy.server->log();
  Ngtcp2Server server;
  std::ofstream(server.dir.path / "htdocs" / "shaped.txt") << "shaped";
  ASSERT_TRUE(server.ready()) << server.server->log();
  for (const auto& [name, shape] : {std::pair{"chrome", ctn::quic::chrome_156_transport()},
                                    std::pair{"firefox", ctn::quic::firefox_153_transport()}}) {
    for (const auto& [port, path, body] : {std::tuple{caddy.port, "/hello", "hello over HTTP/3"},
                                           std::tuple{server.port, "/shaped.txt", "shaped"}}) {
      for (const size_t lost : {0, 1}) {
        asio::io_context io;
        SilencingRelay relay(io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), port), SIZE_MAX,
                             lost);
        ctn::quic::Options o = options_for(relay.port());
        o.transport = shape;
        ctn::quic::Request req;
        req.authority = "localhost:" + std::to_string(port);
        req.path = path;
        Outcome out;
        auto conn = ctn::quic::ClientConnection::create(io, o);
        conn->fetch(req, [&](const ctn::Error* e, ctn::quic::Response&& r) {
          if (e) out.error = *e;
          out.response = std::move(r);
          conn->close();
          relay.close();
        });
        conn->start();
        io.run();
        const std::string what = std::string(name) + " " + path + (lost ? ", first datagram lost" : "");
        ASSERT_FALSE(out.error) << what << ": " << error_text(out);
        EXPECT_EQ(out.response.body, body) << what;
        EXPECT_EQ(relay.dropped(), lost) << what;
      }
    }
  }
}

// Each preset's HTTP/3 layer (Profile::http3: SETTINGS with GREASE and unknown ids, GREASE frame,
// PRIORITY_UPDATE, lazy or early QPACK streams, its insertion policy, pseudo-header order and h3
// header list) against caddy (no dynamic table) and ngtcp2's server (4096, blocking allowed): three
// requests one after another on one connection, so later HEADERS refer to entries the first ones
// inserted, and the server's nghttp3 decodes every block.
TEST(QuicHttp3, PresetHttp3ShapesGetFromCaddyAndNgtcp2Server) {
  Caddy caddy("  respond /shaped \"shaped over HTTP/3\" 200\n");
  ASSERT_TRUE(caddy.ready()) << caddy.server->log();
  Ngtcp2Server server;
  std::ofstream(server.dir.path / "htdocs" / "shaped") << "shaped over HTTP/3";
  ASSERT_TRUE(server.ready()) << server.server->log();
  const std::pair<const char*, ctn::quic::TransportShape> presets[] = {
      {"chrome_156", ctn::quic::chrome_156_transport()},
      {"edge_156", ctn::quic::chrome_156_transport()},
      {"firefox_153", ctn::quic::firefox_153_transport()}};
  for (const auto& [preset, transport] : presets) {
    const ctn::Profile& profile = *ctn::find_profile(preset);
    for (const uint16_t port : {caddy.port, server.port}) {
      ctn::quic::Options o = options_for(port);
      o.transport = transport;
      o.http3 = profile.http3;
      asio::io_context io;
      auto conn = ctn::quic::ClientConnection::create(io, o);
      std::vector<Outcome> outcomes;
      std::function<void()> next = [&] {
        ctn::quic::Request req;
        req.authority = "localhost:" + std::to_string(port);
        req.path = "/shaped";
        req.headers = ctn::profile_headers(profile, ctn::HeaderSet::kHttp3);
        conn->fetch(req, [&](const ctn::Error* e, ctn::quic::Response&& r) {
          outcomes.emplace_back();
          if (e) outcomes.back().error = *e;
          outcomes.back().response = std::move(r);
          if (outcomes.size() < 3 && !e) return next();
          conn->close();
        });
      };
      next();
      conn->start();
      io.run();
      const std::string where = std::string(preset) + (port == caddy.port ? " caddy" : " ngtcp2");
      ASSERT_EQ(outcomes.size(), 3u) << where << ": " << error_text(outcomes.back());
      for (const Outcome& out : outcomes) {
        ASSERT_FALSE(out.error) << where << ": " << error_text(out) << "\n" << server.server->log();
        EXPECT_EQ(out.response.head.status, 200) << where;
        EXPECT_EQ(out.response.body, "shaped over HTTP/3") << where;
      }
    }
  }
}

// A shape no browser could send is refused before anything goes out, with a code.
TEST(QuicTransportShape, ImpossibleShapesFailWithInvalidOption) {
  std::vector<ctn::quic::TransportShape> bad(4, ctn::quic::firefox_153_transport());
  bad[0].dcid_min = 4;                       // an Initial DCID needs 8 bytes
  bad[1].scid_length = 21;                   // connection IDs end at 20
  bad[2].first_packet_number = {{1, 9, 3}};  // min > max
  bad[3].packet_number_length_after_first = 5;
  for (size_t i = 0; i < bad.size(); ++i) {
    ctn::quic::Options o = options_for(9);  // nothing is sent: the port does not matter
    o.transport = bad[i];
    const Outcome out = fetch_once(o, ctn::quic::Request{});
    ASSERT_TRUE(out.error) << i;
    EXPECT_EQ(out.error->code, ctn::ErrorCode::kInvalidOption) << i << ": " << out.error->message;
  }
}

// ---- quicFingerprint: a captured ClientHello sent again (quic/hello_fingerprint.h) ----

namespace {

fs::path quic_captures() {
  return fs::path(__FILE__).parent_path() / ".." / "fixtures" / "fingerprints" / "quic";
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string from_hex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  return out;
}

bool is_grease16(uint16_t v) { return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff); }

// Every captured hello (both runs), sorted by path.
std::vector<fs::path> captured_hellos() {
  std::vector<fs::path> out;
  for (const auto& run : fs::directory_iterator(quic_captures()))
    if (run.is_directory())
      for (const auto& file : fs::directory_iterator(run.path()))
        if (file.path().filename().string().ends_with(".clienthello.hex")) out.push_back(file.path());
  std::sort(out.begin(), out.end());
  return out;
}

// A ClientHello handshake message from its parts (the random all zero).
std::string assemble_hello(const std::vector<uint16_t>& ciphers,
                           const std::vector<std::pair<uint16_t, std::string>>& extensions,
                           std::string_view session_id = {}) {
  const auto u16 = [](std::string& s, size_t v) {
    s += static_cast<char>(v >> 8);
    s += static_cast<char>(v & 0xff);
  };
  std::string body("\x03\x03", 2);
  body += std::string(32, '\0');
  body += static_cast<char>(session_id.size());
  body += session_id;
  u16(body, 2 * ciphers.size());
  for (uint16_t c : ciphers) u16(body, c);
  body += std::string("\x01\x00", 2);
  std::string exts;
  for (const auto& [id, b] : extensions) {
    u16(exts, id);
    u16(exts, b.size());
    exts += b;
  }
  u16(body, exts.size());
  body += exts;
  std::string msg("\x01", 1);
  msg += static_cast<char>(body.size() >> 16);
  u16(msg, body.size() & 0xffff);
  return hex_of(msg + body);
}

ctn::Error refusal_of(const std::string& text) {
  ctn::quic::QuicFingerprint fp;
  ctn::Error error;
  EXPECT_FALSE(ctn::quic::quic_fingerprint_from_hello(text, &fp, &error)) << text.substr(0, 60);
  return error;
}

// The captured Chrome hello with `edit` applied to its extensions, as hex.
std::string edited_chrome_hello(
    const std::function<void(std::vector<std::pair<uint16_t, std::string>>&)>& edit,
    std::string_view session_id = {}) {
  const ClientHello h(
      from_hex(read_text(quic_captures() / "run-caddy-chromium156-firefox153" / "conn-1.clienthello.hex")));
  auto extensions = h.extensions;
  edit(extensions);
  return assemble_hello(h.ciphers, extensions, session_id);
}

}  // namespace

// Every captured browser hello becomes a fingerprint whose first flight (through a silent peer, under
// the captured server name) carries that hello field by field and those transport parameters in order
// and value, except what is drawn per connection. The resumed Firefox hello is refused by name.
TEST(QuicFingerprint, EveryCapturedHelloIsSentAgainFieldByField) {
  size_t sent = 0, refused = 0;
  for (const fs::path& file : captured_hellos()) {
    SCOPED_TRACE(file.parent_path().filename().string() + "/" + file.filename().string());
    const std::string text = read_text(file);
    const std::string want = from_hex(text.substr(0, text.find_first_of("\r\n")));
    const ClientHello w(want);
    ctn::quic::QuicFingerprint fp;
    ctn::Error error;
    const bool ok = ctn::quic::quic_fingerprint_from_hello(text, &fp, &error);
    if (w.body(41)) {  // Firefox's resumed connection
      ASSERT_FALSE(ok);
      EXPECT_EQ(error.code, ctn::ErrorCode::kUnsupportedFingerprint);
      EXPECT_NE(error.message.find("resumption not from a fingerprint"), std::string::npos) << error.message;
      ++refused;
      continue;
    }
    ASSERT_TRUE(ok) << error.message;
    EXPECT_TRUE(fp.server_name_sent);
    const FirstFlights c = send_to_silent_peer(
        {.preset = "", .tls = &fp.tls, .transport = fp.transport, .server_name = fp.server_name});
    ASSERT_TRUE(c.error);
    ASSERT_EQ(c.error->code, ctn::ErrorCode::kTimeout) << c.error->message;
    ASSERT_FALSE(c.hello().empty());
    const ClientHello g(c.hello());
    EXPECT_EQ(c.hello().substr(4, 2), want.substr(4, 2));  // legacy_version
    EXPECT_EQ(c.hello()[4 + 2 + 32], want[4 + 2 + 32]);    // session id length
    EXPECT_EQ(ClientHello::hex_list(g.ciphers), ClientHello::hex_list(w.ciphers));
    // The extensions in the same order, GREASE where the hello has it.
    const auto shape = [](std::vector<uint16_t> ids) {
      for (uint16_t& id : ids) id = is_grease16(id) ? 0x0a0a : id;
      return ClientHello::hex_list(ids);
    };
    EXPECT_EQ(shape(g.ids()), shape(w.ids()));
    for (const auto& [id, body] : w.extensions) {
      const std::string* ours = g.body(id);
      if (is_grease16(id) || id == 57) continue;
      ASSERT_NE(ours, nullptr) << "extension " << id;
      if (id == 51) {  // key shares: the same groups with shares of the same sizes
        EXPECT_EQ(g.key_share_groups(), w.key_share_groups());
        EXPECT_EQ(ours->size(), body.size());
      } else if (id == 65037) {  // ECH GREASE: outer, HKDF-SHA256; payload and AEAD fresh
        EXPECT_EQ(ours->substr(0, 3), body.substr(0, 3));
        if (fp.tls.ech_grease_nss) {
          EXPECT_EQ(ours->size(), body.size());  // NSS's sizing
        } else {
          const size_t n = ours->size();
          EXPECT_TRUE(n == 186 || n == 218 || n == 250 || n == 282) << n;  // Chrome's draw
        }
      } else {
        EXPECT_EQ(hex_of(*ours), hex_of(body)) << "extension " << id;
      }
    }
    // Transport parameters: the same ids in order with the same values, except the fresh parts.
    const std::vector<WireParameter> tw = hello_transport_parameters(want);
    const std::vector<WireParameter> tg = hello_transport_parameters(c.hello());
    ASSERT_EQ(tg.size(), tw.size()) << id_list(tg) << " vs " << id_list(tw);
    for (size_t i = 0; i < tw.size(); ++i) {
      const bool grease = tw[i].id >= 27 && (tw[i].id - 27) % 31 == 0;
      if (grease) {
        EXPECT_EQ((tg[i].id - 27) % 31, 0u) << i;
        EXPECT_EQ(tg[i].id_width, 8u);
        EXPECT_GE(tg[i].value_hex.size(), 2u);
        EXPECT_LE(tg[i].value_hex.size(), 30u);
        continue;
      }
      EXPECT_EQ(tg[i].id, tw[i].id) << i;
      EXPECT_EQ(tg[i].id_width, tw[i].id_width) << i;
      if (tw[i].id == 0x0f) {
        EXPECT_EQ(tg[i].value_hex.size(), tw[i].value_hex.size());
        // The SCID of the first Initial is that connection ID.
        EXPECT_EQ(hex_of(long_header_ids(c.datagrams.at(0)).scid), tg[i].value_hex);
      } else if (tw[i].id == 0x11) {  // chosen v1, then v1 and a GREASE version
        ASSERT_EQ(tg[i].value_hex.size(), 24u);
        EXPECT_EQ(tg[i].value_hex.substr(0, 8), "00000001");
        if (is_grease_version(tw[i].value_hex.substr(8, 8))) {
          EXPECT_TRUE(is_grease_version(tg[i].value_hex.substr(8, 8))) << tg[i].value_hex;
        }
      } else {
        EXPECT_EQ(tg[i].value_hex, tw[i].value_hex) << "parameter 0x" << std::hex << tw[i].id;
      }
    }
    ++sent;
  }
  EXPECT_EQ(sent, 18u);  // 6 Chromium, 12 fresh Firefox
  EXPECT_EQ(refused, 1u);
}

// The forms cycletls accepts: a TLS record, the handshake message, the bare body; whitespace and
// colons tolerated; everything from "@@" on ignored.
TEST(QuicFingerprint, AcceptsRecordMessageAndBodyWithSeparatorsAndSuffix) {
  const std::string text =
      read_text(quic_captures() / "run-caddy-chromium156-firefox153" / "conn-1.clienthello.hex");
  const std::string message = text.substr(0, text.find_first_of("\r\n"));
  const size_t length = message.size() / 2;
  char header[32];
  std::snprintf(header, sizeof header, "160301%04x", static_cast<unsigned>(length));
  std::string colons;
  for (size_t i = 0; i < message.size(); i += 2) colons += (i ? ":" : "") + message.substr(i, 2);
  for (const std::string& form :
       {std::string(header) + message, message.substr(8), colons,
        " " + message.substr(0, 100) + "\n" + message.substr(100) + " @@h3,ORIG zz"}) {
    ctn::quic::QuicFingerprint fp;
    ctn::Error error;
    ASSERT_TRUE(ctn::quic::quic_fingerprint_from_hello(form, &fp, &error)) << error.message;
    EXPECT_EQ(fp.tls.extension_order.size(), 12u);
    EXPECT_EQ(fp.transport.parameters.size(), 13u);
    EXPECT_EQ(fp.transport.scid_length, 0u);
  }
}

// What cannot be sent, or is not a ClientHello, is refused by name.
TEST(QuicFingerprint, RefusesWhatCannotBeSentByName) {
  const auto expect = [](const std::string& text, ctn::ErrorCode code, const char* named) {
    const ctn::Error e = refusal_of(text);
    EXPECT_EQ(e.code, code) << e.message;
    EXPECT_NE(e.message.find(named), std::string::npos) << e.message;
    EXPECT_EQ(e.message.rfind("quicFingerprint: ", 0), 0u) << e.message;
  };
  using ctn::ErrorCode;
  expect("", ErrorCode::kInvalidOption, "no hex digits");
  expect("01zz", ErrorCode::kInvalidOption, "not hex");
  expect("010", ErrorCode::kInvalidOption, "odd number");
  expect("0100000503", ErrorCode::kInvalidOption, "handshake length");
  expect("160303000501000000", ErrorCode::kInvalidOption, "record length");
  expect("160303000401000000", ErrorCode::kInvalidOption, "fields do not add up");
  expect(edited_chrome_hello([](auto& e) { e[0].second += "x"; }), ErrorCode::kInvalidOption, "body");
  const auto add = [](uint16_t id, std::string body) {
    return edited_chrome_hello([=](auto& e) { e.emplace_back(id, body); });
  };
  expect(add(41, std::string("\0\0", 2)), ErrorCode::kUnsupportedFingerprint,
         "pre_shared_key (41): resumption not from a fingerprint");
  expect(add(42, ""), ErrorCode::kUnsupportedFingerprint,
         "early_data (42): resumption not from a fingerprint");
  expect(add(44, std::string("\0\1x", 3)), ErrorCode::kUnsupportedFingerprint, "cookie (44)");
  expect(add(0x1234, "x"), ErrorCode::kUnsupportedFingerprint, "extension 4660 with a body");
  expect(add(0x2a2a, ""), ErrorCode::kUnsupportedFingerprint, "GREASE in some of cipher_suites");
  expect(add(11, std::string("\1\0", 2)), ErrorCode::kUnsupportedFingerprint,
         "extension 11 in a TLS 1.3-only");
  expect(edited_chrome_hello([](auto&) {}, "0123456789abcdef0123456789abcdef"),
         ErrorCode::kUnsupportedFingerprint, "legacy_session_id of 32 bytes");
  const auto replace = [](uint16_t id, std::string body) {
    return edited_chrome_hello([=](auto& e) {
      for (auto& [ext, b] : e)
        if (ext == id) b = body;
    });
  };
  expect(replace(10, std::string("\0\4\0\x1e\0\x1d", 6)), ErrorCode::kUnsupportedFingerprint, "group 0x001e");
  expect(replace(16, std::string("\0\6\5h3-29", 8)), ErrorCode::kUnsupportedFingerprint,
         "ALPN other than [h3]");
  expect(replace(45, std::string("\1\0", 2)), ErrorCode::kUnsupportedFingerprint,
         "psk_key_exchange_modes (45)");
  expect(replace(57, std::string("\x01\x02\x40\x64", 4)), ErrorCode::kUnsupportedFingerprint,
         "initial_source_connection_id (0x0f) is missing");
  expect(replace(57, std::string("\x0f\x00\x02\x01\x00", 5)), ErrorCode::kUnsupportedFingerprint,
         "transport parameter 0x2 is sent by servers only");
  expect(replace(57, std::string("\x0f\x00\x01\x02\x80\x00", 6)), ErrorCode::kUnsupportedFingerprint,
         "transport parameter 0x1's value is not one minimal varint");
  expect(replace(57, std::string("\x0f\x05\x00", 3)), ErrorCode::kInvalidOption,
         "quic_transport_parameters (57)");
  expect(edited_chrome_hello([](auto& e) { std::erase_if(e, [](auto& x) { return x.first == 57; }); }),
         ErrorCode::kUnsupportedFingerprint, "not a QUIC ClientHello");
}

// A fingerprint from a captured hello (each browser's, from the caddy run) is not only the right bytes:
// the handshake completes with a real server and a GET comes back, under our own server name.
TEST(QuicFingerprint, CapturedHellosCompleteAGetFromCaddy) {
  Caddy caddy("  respond /hello \"hello over HTTP/3\" 200\n");
  ASSERT_TRUE(caddy.ready()) << caddy.server->log();
  for (const char* conn : {"conn-1", "conn-4"}) {  // Chromium, Firefox
    SCOPED_TRACE(conn);
    ctn::quic::QuicFingerprint fp;
    ctn::Error error;
    ASSERT_TRUE(ctn::quic::quic_fingerprint_from_hello(
        read_text(quic_captures() / "run-caddy-chromium156-firefox153" /
                  (std::string(conn) + ".clienthello.hex")),
        &fp, &error))
        << error.message;
    ctn::quic::Request req;
    req.authority = "localhost:" + std::to_string(caddy.port);
    req.path = "/hello";
    ctn::quic::Options o = options_for(caddy.port);
    o.transport = fp.transport;
    std::string hello;
    shape_as(o, fp.tls, &hello);
    const Outcome out = fetch_once(o, req);
    EXPECT_EQ(ClientHello(hello).ids().size(), fp.tls.extension_order.size());
    ASSERT_FALSE(out.error) << error_text(out) << "\n" << caddy.server->log();
    EXPECT_EQ(out.response.head.status, 200);
    EXPECT_EQ(out.response.body, "hello over HTTP/3");
  }
}
