// The echo's HTTP/3 endpoint (native/quic_server) fed hostile datagrams: each input is a fresh server
// on 127.0.0.1 and a sequence of datagrams from one or two client addresses, taken as if they had
// arrived on its socket (Server::receive), with the io loop run between them (timers, answers).
// Traps unless: the server never holds more than max_connections, and every request it hands over
// carries a record within its bounds. The seeds are real Chromium and Firefox first flights (their
// Initials decrypt, so the handshake starts) and damaged copies of them.
//
// Input: one control byte, then datagrams, each a 2-byte big-endian length and that many bytes.
//   bit 0     the second half of the datagrams comes from another client port
//   bits 1-2  max_connections - 1
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <asio/io_context.hpp>

#include "fuzz_input.h"
#include "quic_server/server.h"

namespace {

// The test certificate (test/fixtures/certs/server.pem and its key), inlined: the target reads no files.
constexpr char kCertificate[] = R"(-----BEGIN CERTIFICATE-----
MIIBqzCCAVKgAwIBAgICEAAwCgYIKoZIzj0EAwIwIjEgMB4GA1UEAwwXY3ljbGV0
bHMtbmF0aXZlIHRlc3QgQ0EwIBcNMjYxMTIyMDAzMzQ3WhgPMjEyNjEwMjkwMDMz
NDdaMBExDzANBgNVBAMMBnNlcnZlcjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IA
BP0hI2ZCgOK/OaiCLzJUcwpOP0WHxBg3PKz7QUp7FgMymmnli2ud7HwNd12jI4rv
DIt4PM5oLS5dIFBGlsFjefijgYYwgYMwLAYDVR0RBCUwI4IJbG9jYWxob3N0hwR/
AAABhxAAAAAAAAAAAAAAAAAAAAABMBMGA1UdJQQMMAoGCCsGAQUFBwMBMB0GA1Ud
DgQWBBQofuXp/OJZS83g6rmRYJT3FL/qGDAfBgNVHSMEGDAWgBRedxCf0xBw2Xtq
YtQW7KoIgU/CMDAKBggqhkjOPQQDAgNHADBEAiAwNKlpsuJAaxoh9a7STnFJc5g2
R6HP8mt9T9j3eY84rgIgHX9Tgd8OdVFEJy+gRqegk2tOdoNEJm8kp6qmkyPjGbw=
-----END CERTIFICATE-----
)";
constexpr char kKey[] = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg7mMCbpBRdvXfv7x/
Ne0FGClEy/Yiwb9q0b7TBHZL5ZOhRANCAAT9ISNmQoDivzmogi8yVHMKTj9Fh8QY
Nzys+0FKexYDMppp5Ytrnex8DXddoyOK7wyLeDzOaC0uXSBQRpbBY3n4
-----END PRIVATE KEY-----
)";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ctn::fuzz::FuzzInput in(data, size);
  const uint8_t control = in.control();
  asio::io_context io;
  ctn::quic_server::Options options;
  options.certificate_pem = kCertificate;
  options.private_key_pem = kKey;
  options.max_connections = 1 + ((control >> 1) & 3);
  options.max_recorded_bytes = 64 * 1024;
  options.max_recorded_datagrams = 64;
  std::shared_ptr<ctn::quic_server::Server> server;
  options.on_request = [&](ctn::quic_server::RequestEvent&& e) {
    size_t bytes = 0;
    for (const auto& d : e.datagrams) bytes += d.bytes.size();
    if (bytes > 64 * 1024 || e.datagrams.size() > 64) std::abort();
    server->respond(e.connection, e.stream, ctn::quic_server::Reply{200, {}, "ok"});
  };
  ctn::Error error;
  server = ctn::quic_server::Server::create(io, options, &error);
  if (!server) std::abort();
  // Answers go to a port nobody reads: the discard port on the loopback.
  const asio::ip::address loopback = asio::ip::make_address("127.0.0.1");
  std::string_view rest = in.rest();
  const size_t half = rest.size() / 2;
  size_t consumed = 0;
  while (rest.size() >= 2) {
    const size_t n = (static_cast<uint8_t>(rest[0]) << 8) | static_cast<uint8_t>(rest[1]);
    const std::string_view d = rest.substr(2, n);
    rest.remove_prefix(2 + d.size());
    consumed += 2 + d.size();
    const uint16_t port = (control & 1) && consumed > half ? 10 : 9;
    server->receive(d, asio::ip::udp::endpoint(loopback, port));
    io.poll();
    if (server->stats().connections_open > options.max_connections) std::abort();
  }
  server->close();
  io.poll();
  return 0;
}
