// The fingerprint room alone: JA3 / JA3N / JA4 / JA4_r of the captured hellos of real browsers
// (test/fixtures/fingerprints: Chromium 156, Firefox ESR 153, curl, Node over TCP; both browsers'
// QUIC hellos), equal to what the echo server's TypeScript (lib/echo/ja.ts) recorded for the same
// bytes; the Akamai string; and refusals of what is not one whole ClientHello.
#include "fingerprint/fingerprint.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace ctn::fingerprint {
namespace {

namespace fs = std::filesystem;

fs::path fixtures() { return fs::path(__FILE__).parent_path() / ".." / "fixtures" / "fingerprints"; }

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string from_hex(std::string_view hex) {
  std::string out;
  auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  return out;
}

// The first `"key": "value"` string value after `from` in a JSON text (the records are flat enough;
// compact or pretty-printed).
std::string json_string(const std::string& json, const std::string& key, size_t from = 0) {
  const std::string marker = "\"" + key + "\":";
  for (size_t at = json.find(marker, from); at != std::string::npos; at = json.find(marker, at + 1)) {
    size_t start = at + marker.size();
    while (start < json.size() && json[start] == ' ') ++start;
    if (start >= json.size() || json[start] != '"') continue;
    ++start;
    return json.substr(start, json.find('"', start) - start);
  }
  return {};
}

// A hello as TLS records (the TCP captures): the handshake bytes of the records, concatenated.
std::string handshake_of_records(const std::string& records) {
  std::string out;
  for (size_t at = 0; at + 5 <= records.size();) {
    const size_t length = static_cast<uint8_t>(records[at + 3]) << 8 | static_cast<uint8_t>(records[at + 4]);
    out += records.substr(at + 5, length);
    at += 5 + length;
  }
  return out;
}

struct Capture {
  std::string name, hello, ja3, ja3n, ja4, ja4r;
};

std::vector<Capture> tcp_captures() {
  std::vector<Capture> out;
  std::istringstream lines(read_file(fixtures() / "requests.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    const std::string hex = json_string(line, "client_hello_hex");
    const size_t tls = line.find("\"tls\":{");
    if (hex.empty() || tls == std::string::npos) continue;
    out.push_back({"requests.jsonl connection " + json_string(line, "ip"),
                   handshake_of_records(from_hex(hex)), json_string(line, "ja3", tls),
                   json_string(line, "ja3n", tls), json_string(line, "ja4", tls),
                   json_string(line, "ja4_r", tls)});
  }
  return out;
}

std::vector<Capture> quic_captures() {
  std::vector<Capture> out;
  for (const auto& run : fs::directory_iterator(fixtures() / "quic")) {
    if (!run.is_directory()) continue;
    for (const auto& file : fs::directory_iterator(run.path())) {
      const std::string name = file.path().filename().string();
      if (name.size() < 16 || name.substr(name.size() - 16) != ".clienthello.hex") continue;
      const std::string json = read_file(run.path() / (name.substr(0, name.size() - 16) + ".json"));
      const size_t tls = json.find("\"tls\":");
      if (tls == std::string::npos) continue;
      std::string hex = read_file(file.path());
      while (!hex.empty() && (hex.back() == '\n' || hex.back() == ' ')) hex.pop_back();
      out.push_back({file.path().string(), from_hex(hex), json_string(json, "ja3", tls),
                     json_string(json, "ja3n", tls), json_string(json, "ja4", tls),
                     json_string(json, "ja4_r", tls)});
    }
  }
  return out;
}

void expect_equal(const std::vector<Capture>& captures, Transport transport) {
  for (const Capture& c : captures) {
    SCOPED_TRACE(c.name);
    TlsFingerprint f;
    ASSERT_TRUE(tls_fingerprint(c.hello, transport, &f));
    EXPECT_EQ(f.ja3, c.ja3);
    EXPECT_EQ(f.ja3n(), c.ja3n);
    EXPECT_EQ(f.ja4(), c.ja4);
    EXPECT_EQ(f.ja4r(), c.ja4r);
  }
}

TEST(TlsFingerprint, EqualsTheEchoServersOverTcpCaptures) {
  const std::vector<Capture> captures = tcp_captures();
  ASSERT_GE(captures.size(), 10u);
  expect_equal(captures, Transport::kTcp);
}

TEST(TlsFingerprint, EqualsTheEchoServersOverQuicCaptures) {
  const std::vector<Capture> captures = quic_captures();
  ASSERT_GE(captures.size(), 10u);
  for (const Capture& c : captures) EXPECT_EQ(c.ja4.substr(0, 1), "q") << c.name;
  expect_equal(captures, Transport::kQuic);
}

TEST(TlsFingerprint, RefusesWhatIsNotOneWholeClientHello) {
  const std::string hello = tcp_captures().at(0).hello;
  TlsFingerprint f;
  EXPECT_FALSE(tls_fingerprint("", Transport::kTcp, &f));
  EXPECT_FALSE(tls_fingerprint(hello.substr(0, hello.size() - 1), Transport::kTcp, &f));  // cut short
  EXPECT_FALSE(tls_fingerprint(hello + '\0', Transport::kTcp, &f));                       // trailing byte
  std::string server_hello = hello;
  server_hello[0] = 2;
  EXPECT_FALSE(tls_fingerprint(server_hello, Transport::kTcp, &f));
}

TEST(TlsFingerprint, OneHelloShapeOverTcpAndQuicKeepsItsTransport) {
  // The order-free part is kept per hello shape: the transport is part of the shape.
  const std::string hello = tcp_captures().at(0).hello;
  TlsFingerprint tcp, quic, tcp_again;
  ASSERT_TRUE(tls_fingerprint(hello, Transport::kTcp, &tcp));
  ASSERT_TRUE(tls_fingerprint(hello, Transport::kQuic, &quic));
  ASSERT_TRUE(tls_fingerprint(hello, Transport::kTcp, &tcp_again));
  EXPECT_EQ(tcp.ja4().front(), 't');
  EXPECT_EQ(quic.ja4().front(), 'q');
  EXPECT_EQ(tcp.ja4().substr(1), quic.ja4().substr(1));
  EXPECT_EQ(tcp.ja4r().substr(1), quic.ja4r().substr(1));
  EXPECT_EQ(tcp_again.ja4(), tcp.ja4());
  EXPECT_EQ(tcp_again.ja3n(), tcp.ja3n());
}

TEST(TlsFingerprint, OffersEchSeesEchGrease) {
  for (const Capture& c : tcp_captures()) {
    // Both browsers send encrypted_client_hello (GREASE) to every site; curl and Node do not.
    const bool offered = c.ja3.find("-65037") != std::string::npos;
    TlsFingerprint f;
    ASSERT_TRUE(tls_fingerprint(c.hello, Transport::kTcp, &f)) << c.name;
    EXPECT_EQ(f.offers_ech, offered) << c.name;  // what response.fingerprint.ech reads
  }
}

TEST(Akamai, ChromesFirstFlight) {
  H2FirstFlight f;
  f.settings = {{1, 65536}, {2, 0}, {4, 6291456}, {6, 262144}};
  f.connection_window_update = 15663105;
  f.pseudo_headers = {":method", ":authority", ":scheme", ":path"};
  EXPECT_EQ(akamai(f), "1:65536;2:0;4:6291456;6:262144|15663105|0|m,a,s,p");
}

TEST(Akamai, PriorityFramesNoWindowUpdateAndProtocol) {
  H2FirstFlight f;
  f.settings = {{1, 65536}};
  f.priority_frames = {{3, false, 0, 201}, {5, true, 3, 256}};
  f.pseudo_headers = {":method", ":path", ":authority", ":scheme", ":protocol"};
  EXPECT_EQ(akamai(f), "1:65536|00|3:0:0:201,5:1:3:256|m,p,a,s");
}

TEST(Ech, Names) {
  EXPECT_EQ(ech_name(EchSent::kNone), "none");
  EXPECT_EQ(ech_name(EchSent::kGrease), "grease");
  EXPECT_EQ(ech_name(EchSent::kReal), "real");
}

}  // namespace
}  // namespace ctn::fingerprint
