// Proxy handshakes (native/proxy) fed a proxy's replies: the HTTP CONNECT response, SOCKS4/4a, and
// SOCKS5 (method choice, username/password verdict, CONNECT reply with IPv4/IPv6/name addresses),
// in pieces, the way the connection drives them. Also the proxy URL parser, whose canonical form
// must parse back to itself (the pool keys connections by it).
//
// Input: one control byte, one read-size byte (0 = all at once), then the proxy's bytes (or the
// URL).
//   bits 0-2  0 http, 1 http with credentials, 2 socks4, 3 socks4a (a name), 4 socks5 (an IPv4
//             target), 5 socks5 with credentials, 6 socks5h (a name), 7 the URL parser
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_input.h"
#include "proxy/proxy.h"

namespace {

using ctn::proxy::Handshake;
using ctn::proxy::ProxyConfig;
using ctn::proxy::Scheme;

void url(std::string_view text) {
  ProxyConfig config;
  std::string why;
  if (!ctn::proxy::parse_proxy_url(text, &config, &why)) {
    if (why.empty()) __builtin_trap();
    return;
  }
  const std::string canonical = ctn::proxy::canonical_url(config);
  ProxyConfig again;
  if (!ctn::proxy::parse_proxy_url(canonical, &again, &why) ||
      ctn::proxy::canonical_url(again) != canonical) {
    __builtin_trap();
  }
  (void)ctn::proxy::redacted_url(config);
}

ProxyConfig config_for(uint8_t mode) {
  static constexpr Scheme kSchemes[] = {Scheme::kHttp,   Scheme::kHttps,  Scheme::kSocks4, Scheme::kSocks4a,
                                        Scheme::kSocks5, Scheme::kSocks5, Scheme::kSocks5h};
  ProxyConfig config;
  config.scheme = kSchemes[mode];
  config.host = "127.0.0.1";
  config.port = 1080;
  if (mode == 1 || mode == 5) {
    config.has_credentials = true;
    config.username = "user";
    config.password = "secret";
  }
  return config;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ctn::fuzz::FuzzInput input(data, size);
  const uint8_t mode = input.control() & 7;
  const size_t piece = input.control();
  if (mode == 7) return url(input.rest()), 0;

  const bool by_name = mode == 3 || mode == 6;
  Handshake handshake(config_for(mode), by_name ? "example.com" : "93.184.216.34", 443);
  ctn::fuzz::in_pieces(input.rest(), piece, [&](std::string_view bytes) {
    // A reply may complete one step and carry the start of what follows (or the tunnel's bytes).
    for (;;) {
      if (handshake.status() == Handshake::Status::kSend) {
        if (handshake.output().empty()) __builtin_trap();
        handshake.sent();
      }
      if (handshake.status() != Handshake::Status::kReceive || bytes.empty()) break;
      const size_t used = handshake.feed(bytes);
      if (used > bytes.size()) __builtin_trap();
      bytes.remove_prefix(used);
    }
    if (handshake.status() == Handshake::Status::kFailed && handshake.error().empty()) __builtin_trap();
    return handshake.status() == Handshake::Status::kReceive;
  });
  return 0;
}
