// Every payload decoder of the link (native/share/messages) fed a peer's bytes. Strict decoders make
// a promise the fuzzer checks: a payload that decodes re-encodes to exactly the same bytes (for the
// messages whose encoding is canonical), and decodes again after re-encoding (all of them).
//
// Input: one byte selecting the message (modulo the count below), then its payload.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_input.h"
#include "share/messages.h"

namespace {

using namespace ctn::mux;

// Decode, re-encode, and check the encoding is the input again.
template <typename Message, typename Decode, typename Encode>
void round_trip(std::string_view payload, Decode decode, Encode encode) {
  Message m{};
  if (!decode(payload, &m)) return;
  if (encode(m) != payload) __builtin_trap();
}

void request(std::string_view payload) {
  ctn::RequestSpec spec;
  uint64_t body_size = 0;
  std::string why;
  if (!decode_request(payload, &spec, &body_size, &why)) {
    if (why.empty()) __builtin_trap();
    return;
  }
  // Not canonical: the body size travels as the body's own size, which the REQUEST never holds.
  ctn::RequestSpec again;
  if (!decode_request(encode_request(spec), &again, &body_size, &why)) __builtin_trap();
  if (again.method != spec.method || again.host != spec.host || again.headers.size() != spec.headers.size()) {
    __builtin_trap();
  }
}

void head(std::string_view payload) {
  ctn::ResponseHead head;
  ctn::ConnectionInfo connection;
  if (!decode_head(payload, &head, &connection)) return;
  if (encode_head(head, connection) != payload) __builtin_trap();
}

void error(std::string_view payload) {
  ctn::Error e;
  if (!decode_error(payload, &e)) return;
  // Not canonical: unknown code and stage names settle as ERR_INTERNAL in the engine stage.
  ctn::Error again;
  if (!decode_error(encode_error(e), &again) || again.code != e.code || again.message != e.message) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ctn::fuzz::FuzzInput input(data, size);
  const uint8_t selector = input.control();
  const std::string_view payload = input.rest();
  switch (selector % 10) {
    case 0:
      return round_trip<Hello>(payload, decode_hello, encode_hello), 0;
    case 3:
      return round_trip<Ready>(payload, decode_ready, encode_ready), 0;
    case 4:
      return request(payload), 0;
    case 5:
      return head(payload), 0;
    case 6:
      return error(payload), 0;
    case 7:
      return round_trip<ClientLimitsMessage>(payload, decode_client_limits, encode_client_limits), 0;
    case 8:
      return round_trip<uint32_t>(payload, decode_u32, encode_u32), 0;
    default:
      return round_trip<uint64_t>(payload, decode_u64, encode_u64), 0;
  }
}
