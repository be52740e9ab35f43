// JA3, JA4_r and Akamai HTTP/2 strings parsed into a Profile. What a string does not say (JA3 has no
// signature algorithms, JA4_r no groups, Akamai no HEADERS priority) comes from the base profile.
// Anything the stack cannot put on the wire exactly is refused, naming the element.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "profiles/profile.h"

namespace ctn {

struct FingerprintInputs {
  std::string ja3;                // "771,4865-4866-...,0-23-65281-...,29-23-24,0"
  std::string ja4r;               // "t13d1517h2_002f,0035,..._0005,000a,..._0403,0804,..."
  std::string http2_fingerprint;  // Akamai: "1:65536;2:0;4:6291456;6:262144|15663105|0|m,a,s,p"
  bool disable_grease = false;
  // cycletls's quicFingerprint: a captured QUIC ClientHello as hex (Profile::quic_fingerprint).
  std::string quic_fingerprint;
};

// Applies `in` on top of `base` into `out` (out.id becomes a stable id for the combination).
// Returns false with `why` naming the offending element.
bool compose_profile(const Profile& base, const FingerprintInputs& in, Profile* out, std::string* why);

// The name a quicFingerprint gets in a composed profile's id: 16 hex digits of a 64-bit digest of
// the text before "@@".
std::string quic_fingerprint_digest(std::string_view text);

bool parse_ja3(std::string_view ja3, TlsProfile* tls, std::string* why);
bool parse_ja4r(std::string_view ja4r, TlsProfile* tls, std::string* why);
// Why an extension BoringSSL implements cannot be sent from a fingerprint (it needs a session, a
// key, a DTLS connection...), or nullptr. Every other id the stack lacks is sent opaque.
const char* unsendable_extension(uint32_t id);

// The extension ids of a hello (GREASE included, in wire order) applied to `t`: extension_order,
// the flags their presence drives, the extensions left out or sent opaque; an id the stack cannot
// send is refused. Shared by JA3, JA4_r and the ClientHello parser (client_hello.h).
bool apply_extensions(const std::vector<uint32_t>& exts, TlsProfile* t, std::string* why);

bool parse_akamai(std::string_view akamai, Http2Profile* h2, std::string* why);

}  // namespace ctn
