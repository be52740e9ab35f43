// The ECH echo's ClientHello reader (native/ech_server hello_facts) fed any bytes as the ClientHello
// a client sent. Traps unless: bytes that are no ClientHello give false and empty facts; a server
// name it reports lies within the input; and the facts of the same bytes are the same twice.
//
// Input: the handshake message as the TLS stack hands it over (type, 24-bit length, body).
#include <cstdint>
#include <string_view>

#include "ech_server/ech_server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  ctn::ech_server::HelloFacts facts, again;
  const bool ok = ctn::ech_server::hello_facts(bytes, &facts);
  if (!ok && (!facts.server_name.empty() || facts.ech)) __builtin_trap();
  if (facts.server_name.size() > size) __builtin_trap();
  if (!facts.server_name.empty() && bytes.find(facts.server_name) == std::string_view::npos) __builtin_trap();
  if (ctn::ech_server::hello_facts(bytes, &again) != ok || again.server_name != facts.server_name ||
      again.ech != facts.ech) {
    __builtin_trap();
  }
  return 0;
}
