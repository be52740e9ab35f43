// cycletls's quicFingerprint (native/quic/hello_fingerprint, native/profiles/client_hello): a
// captured ClientHello, as hex text or as bytes, turned into a TlsProfile and a TransportShape. A
// refusal must name what it refuses and carry ERR_INVALID_OPTION or ERR_UNSUPPORTED_FINGERPRINT; an
// accepted fingerprint must pass the TLS stack's check (or be refused by it with a reason), shape a
// QUIC SSL_CTX and SSL, and encode its transport parameters back to extension 57 of the same length
// (every parameter keeps its id and length but GREASE ones, which are redrawn). Never a crash.
//
// Input: one control byte, then the hello.
//   bit 0  0: the rest is bytes (the entry point gets their hex), 1: the rest is the text as given
#include <openssl/ssl.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_input.h"
#include "profiles/client_hello.h"
#include "quic/hello_fingerprint.h"
#include "tls/tls_context.h"

namespace {

std::string to_hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) out += {kHex[c >> 4], kHex[c & 0xf]};
  return out;
}

// Deterministic "random" bytes (a replay must repeat), distinct across draws so that GREASE
// parameter ids do not collide.
void counter_bytes(uint8_t* out, size_t n) {
  static uint8_t next = 0;
  for (size_t i = 0; i < n; ++i) out[i] = next += 37;
}

void use(const ctn::quic::QuicFingerprint& fp) {
  std::string why;
  if (!ctn::check_tls_profile(fp.tls, &why)) {
    if (why.empty()) __builtin_trap();
    return;
  }
  bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()));
  ctn::Error error;
  if (!ctn::shape_quic_context(ctx.get(), fp.tls, &error)) {
    if (error.message.empty()) __builtin_trap();
    return;
  }
  bssl::UniquePtr<SSL> ssl(SSL_new(ctx.get()));
  if (!ctn::prepare_quic_connection(ssl.get(), fp.tls, &error) && error.message.empty()) __builtin_trap();
  const std::string encoded = ctn::quic::encode_transport_parameters(
      fp.transport, std::string(fp.transport.scid_length, 'c'), &counter_bytes);
  ctn::quic::TransportShape again;
  if (!ctn::quic::transport_shape_from_parameters(encoded, &again, &why) ||
      again.parameters.size() != fp.transport.parameters.size() ||
      again.scid_length != fp.transport.scid_length)
    __builtin_trap();  // what we send must read back as the same shape
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ctn::fuzz::FuzzInput input(data, size);
  const uint8_t control = input.control();
  const std::string text = (control & 1) ? std::string(input.rest()) : to_hex(input.rest());
  ctn::quic::QuicFingerprint fp;
  ctn::Error error;
  if (!ctn::quic::quic_fingerprint_from_hello(text, &fp, &error)) {
    if (error.message.empty() || (error.code != ctn::ErrorCode::kInvalidOption &&
                                  error.code != ctn::ErrorCode::kUnsupportedFingerprint))
      __builtin_trap();
    return 0;
  }
  use(fp);
  return 0;
}
