// A browser's first flight as data. Each field names the wire field it drives. This issue covers the
// TLS ClientHello knobs that stock BoringSSL exposes; exact per-browser presets build on it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ctn {

struct TlsProfile {
  uint16_t min_version = 0x0303;  // supported_versions (43): lowest offered (TLS 1.2)
  uint16_t max_version = 0x0304;  // supported_versions (43): highest offered (TLS 1.3)
  std::string cipher_list;        // cipher_suites, TLS 1.2 part, in order (BoringSSL syntax)
  std::vector<uint16_t> groups;   // supported_groups (10); key_share (51) takes the first PQ + classical
  std::vector<uint16_t> verify_sigalgs;  // signature_algorithms (13)
  std::vector<std::string> alpn;         // application_layer_protocol_negotiation (16)
  bool alps = true;                      // application_settings (17613 new / 17513 old) for h2
  bool alps_new_codepoint = true;
  std::vector<uint16_t> cert_compression;  // compress_certificate (27): 1 zlib, 2 brotli, 3 zstd
  bool grease = true;                      // GREASE in ciphers, groups, extensions, versions
  bool permute_extensions = true;          // Chrome ≥110 shuffles extension order per connection
  bool ech_grease = true;                  // encrypted_client_hello (65037) GREASE
  bool ocsp_stapling = true;               // status_request (5)
  bool signed_cert_timestamps = true;      // signed_certificate_timestamp (18)
  bool session_tickets = true;             // session_ticket (35)
};

struct Profile {
  std::string id;
  TlsProfile tls;
};

// The default: Chrome-like, from BoringSSL's stock knobs.
const Profile& default_profile();
// nullptr when unknown.
const Profile* find_profile(const std::string& id);

}  // namespace ctn
