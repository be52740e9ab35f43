// The fingerprint room's ClientHello reader (native/fingerprint): any bytes, as a TCP or a QUIC
// hello. What it accepts gives well-formed strings (JA4's fixed-width prefix, JA3's five fields);
// what it refuses it refuses without reading past the input. Never a crash.
//
// Input: one control byte (bit 0: QUIC), then the handshake message.
#include <algorithm>
#include <cstdint>
#include <string>

#include "fingerprint/fingerprint.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ctn::fuzz::FuzzInput in(data, size);
  const bool quic = (in.control() & 1) != 0;
  // A copy of exactly the hello's size: ASan sees any read past it.
  const std::string hello(in.rest());
  ctn::fingerprint::TlsFingerprint f;
  const auto transport = quic ? ctn::fingerprint::Transport::kQuic : ctn::fingerprint::Transport::kTcp;
  if (ctn::fingerprint::tls_fingerprint(hello, transport, &f)) {
    if (f.ja4().size() != 36 || f.ja4()[0] != (quic ? 'q' : 't') ||
        f.ja4r().compare(0, 10, f.ja4(), 0, 10) != 0) {
      __builtin_trap();
    }
    if (std::count(f.ja3.begin(), f.ja3.end(), ',') != 4 ||
        std::count(f.ja3n().begin(), f.ja3n().end(), ',') != 4) {
      __builtin_trap();
    }
  }
  ctn::fingerprint::H2FirstFlight flight;
  for (size_t i = 0; i + 6 <= hello.size() && i < 60; i += 6) {
    flight.settings.emplace_back(static_cast<uint16_t>(hello[i]), static_cast<uint32_t>(hello[i + 1]));
  }
  flight.pseudo_headers = {":method", ":path",
                           std::string(hello.substr(0, std::min<size_t>(hello.size(), 8)))};
  if (ctn::fingerprint::akamai(flight).find('|') == std::string::npos) __builtin_trap();
  return 0;
}
