// JA3, JA4_r and Akamai HTTP/2 strings (native/profiles/fingerprint_strings): each parser alone,
// and compose_profile over a preset with all three. A profile the composer accepts must also pass
// the TLS stack's own check (and configure a TLS context) or be refused by it with a reason, and an
// HTTP/2 session must start from it or refuse it with a reason: never crash on it.
//
// Input: one control byte, then the string(s).
//   bits 0-1  0 JA3, 1 JA4_r, 2 Akamai, 3 compose: "ja3\nja4r\nakamai" (missing parts empty)
//   bit 2     compose with disable_grease
//   bits 3-7  the base preset (index into profile_ids(), modulo their count)
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_input.h"
#include "http2/session.h"
#include "profiles/fingerprint_strings.h"
#include "tls/tls_context.h"

namespace {

class NoListener : public ctn::http2::SessionListener {
  void on_head(int32_t, ctn::ResponseHead&&) override {}
  void on_data(int32_t, std::string_view) override {}
  void on_stream_closed(int32_t, const ctn::http2::StreamClose&) override {}
};

std::string_view next_line(std::string_view& text) {
  const size_t end = text.find('\n');
  const std::string_view line = text.substr(0, end);
  text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
  return line;
}

void use(const ctn::Profile& profile) {
  std::string why;
  if (ctn::check_tls_profile(profile.tls, &why)) {
    // A profile the check accepts configures a context (advertised-only suites, opaque and omitted
    // extensions, point formats included), or fails with a message.
    ctn::TlsContextCache contexts;
    ctn::Error error;
    if (!contexts.get(profile, ctn::TlsOptions{.verify = false}, &error) && error.message.empty())
      __builtin_trap();
  } else if (why.empty()) {
    __builtin_trap();
  }
  NoListener listener;
  ctn::http2::ClientSession session(profile.http2, listener);
  why.clear();
  if (!session.start(&why) && why.empty()) __builtin_trap();
  std::string out;
  session.produce(out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<std::string> presets = ctn::profile_ids();
  ctn::fuzz::FuzzInput input(data, size);
  const uint8_t control = input.control();
  std::string_view text = input.rest();
  const ctn::Profile& base = *ctn::find_profile(presets[(control >> 3) % presets.size()]);

  ctn::Profile profile = base;
  std::string why;
  bool ok = false;
  switch (control & 3) {
    case 0:
      ok = ctn::parse_ja3(text, &profile.tls, &why);
      break;
    case 1:
      ok = ctn::parse_ja4r(text, &profile.tls, &why);
      break;
    case 2:
      ok = ctn::parse_akamai(text, &profile.http2, &why);
      break;
    default: {
      ctn::FingerprintInputs in;
      in.ja3 = next_line(text);
      in.ja4r = next_line(text);
      in.http2_fingerprint = next_line(text);
      in.disable_grease = control & 4;
      ok = ctn::compose_profile(base, in, &profile, &why);
    }
  }
  if (!ok) {
    if (why.empty()) __builtin_trap();  // a refusal names the offending element
    return 0;
  }
  use(profile);
  return 0;
}
