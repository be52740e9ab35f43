#include "profiles/client_hello.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <vector>

#include "common/tls_grease.h"
#include "profiles/fingerprint_strings.h"

namespace ctn {

namespace {

std::string hex16(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%04x", v);
  return buf;
}

// Bounds-checked big-endian reads over one length-delimited part of the hello. A read past the end
// sets `failed` and returns zeros, so a parse checks once at the end of each part.
struct Reader {
  std::string_view data;
  size_t at = 0;
  bool failed = false;

  bool done() const { return at == data.size(); }
  uint32_t u8() { return static_cast<uint32_t>(take(1)[0] & 0xff); }
  uint32_t u16() {
    const std::string_view b = take(2);
    return static_cast<uint32_t>(static_cast<uint8_t>(b[0]) << 8 | static_cast<uint8_t>(b[1]));
  }
  uint32_t u24() { return u8() << 16 | u16(); }
  std::string_view take(size_t n) {
    static constexpr char kZeros[4] = {};
    if (failed || data.size() - at < n) {
      failed = true;
      return std::string_view(kZeros, std::min<size_t>(n, sizeof kZeros));
    }
    std::string_view out = data.substr(at, n);
    at += n;
    return out;
  }
  // A vector behind a length of `width` bytes (1 or 2).
  Reader vec(int width) {
    const size_t n = width == 1 ? u8() : u16();
    std::string_view body = take(n);
    return Reader{failed ? std::string_view() : body};
  }
};

// A u16 list (cipher suites, groups, signature algorithms...): fails on an odd length.
bool u16_list(Reader r, std::vector<uint32_t>* out) {
  out->clear();
  if (r.failed || r.data.size() % 2) return false;
  while (!r.done()) out->push_back(r.u16());
  return true;
}

// A list of u8-length strings (ALPN and ALPS protocol names).
bool protocol_list(Reader r, std::vector<std::string>* out) {
  out->clear();
  if (r.failed) return false;
  while (!r.done()) {
    Reader name = r.vec(1);
    if (r.failed || name.data.empty()) return false;
    out->emplace_back(name.data);
  }
  return true;
}

// What this stack writes for a key share of `group` (the bytes are fresh per connection).
size_t key_share_length(uint32_t group) {
  switch (group) {
    case 23:
      return 65;
    case 24:
      return 97;
    case 25:
      return 133;
    case 29:
      return 32;
    case 0x11ec:  // X25519MLKEM768
    case 0x6399:  // X25519Kyber768Draft00
      return 1216;
    case 0x0202:  // MLKEM1024
      return 1568;
    case 0x0100:  // ffdhe2048
      return 256;
    case 0x0101:  // ffdhe3072
      return 384;
    default:
      return 0;
  }
}

// BoringSSL's own GREASE ECH payload lengths (AES-128-GCM); any other is NSS's sizing.
bool boringssl_ech_payload(uint32_t aead, size_t payload) {
  return aead == 0x0001 && (payload == 144 || payload == 176 || payload == 208 || payload == 240);
}

// GREASE is one switch in this stack: it goes first in each list and into the extensions. A hello
// with GREASE somewhere else, or in some lists and not others, cannot be sent as given.
bool grease_only_first(const std::vector<uint32_t>& list, const char* what, bool* seen, std::string* why) {
  for (size_t i = 0; i < list.size(); ++i) {
    if (!is_tls_grease(list[i])) continue;
    if (i != 0) {
      *why = std::string("GREASE in ") + what + " at position " + std::to_string(i + 1) +
             " (this stack sends GREASE first only)";
      return false;
    }
    *seen = true;
  }
  return true;
}

std::vector<uint32_t> without_grease(const std::vector<uint32_t>& v) {
  std::vector<uint32_t> out;
  for (uint32_t x : v)
    if (!is_tls_grease(x)) out.push_back(x);
  return out;
}

template <typename T>
std::vector<T> narrow(const std::vector<uint32_t>& v) {
  return std::vector<T>(v.begin(), v.end());
}

struct Refuser {
  std::string* why;
  HelloRefusal* refusal;
  bool malformed(const std::string& what) {
    *why = "malformed ClientHello: " + what;
    *refusal = HelloRefusal::kMalformed;
    return false;
  }
  bool unsupported(const std::string& what) {
    *why = what;
    *refusal = HelloRefusal::kUnsupported;
    return false;
  }
};

// Strips the record and handshake headers when present, checking their lengths.
bool hello_body(std::string_view bytes, std::string_view* body, Refuser& refuse) {
  if (bytes.empty()) return refuse.malformed("empty");
  if (static_cast<uint8_t>(bytes[0]) == 0x16) {  // TLS record: type, version, length
    Reader r{bytes};
    r.u8();
    const uint32_t version = r.u16();
    const uint32_t length = r.u16();
    if (r.failed || (version >> 8) != 0x03) return refuse.malformed("TLS record header");
    if (length != bytes.size() - 5)
      return refuse.malformed("record length " + std::to_string(length) + " but " +
                              std::to_string(bytes.size() - 5) + " bytes follow (one record only)");
    bytes.remove_prefix(5);
  }
  if (!bytes.empty() && static_cast<uint8_t>(bytes[0]) == 0x01) {  // handshake: type, u24 length
    Reader r{bytes};
    r.u8();
    const uint32_t length = r.u24();
    if (r.failed || length != bytes.size() - 4)
      return refuse.malformed("handshake length does not match the bytes given");
    bytes.remove_prefix(4);
  } else if (bytes.size() < 2 || static_cast<uint8_t>(bytes[0]) != 0x03) {
    return refuse.malformed(
        "neither a TLS record (16...), a ClientHello message (01...) nor its body (03 03...)");
  }
  *body = bytes;
  return true;
}

}  // namespace

bool decode_hello_hex(std::string_view text, std::string* bytes, std::string* why) {
  if (const size_t at = text.find("@@"); at != std::string_view::npos) text = text.substr(0, at);
  bytes->clear();
  int high = -1;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ':') continue;
    if (c == '0' && high < 0 && i + 1 < text.size() && (text[i + 1] == 'x' || text[i + 1] == 'X')) {
      ++i;  // a "0x" prefix
      continue;
    }
    int v = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (v < 0) {
      *why = "malformed ClientHello: '" + std::string(1, c) + "' at " + std::to_string(i) + " is not hex";
      return false;
    }
    if (high < 0) {
      high = v;
    } else {
      bytes->push_back(static_cast<char>(high << 4 | v));
      high = -1;
      if (bytes->size() > kMaxClientHelloBytes) {
        *why = "malformed ClientHello: longer than " + std::to_string(kMaxClientHelloBytes) + " bytes";
        return false;
      }
    }
  }
  if (high >= 0) {
    *why = "malformed ClientHello: an odd number of hex digits";
    return false;
  }
  if (bytes->empty()) {
    *why = "malformed ClientHello: no hex digits";
    return false;
  }
  return true;
}

bool parse_client_hello(std::string_view bytes, ParsedClientHello* out, std::string* why,
                        HelloRefusal* refusal) {
  Refuser refuse{why, refusal};
  std::string_view body;
  if (!hello_body(bytes, &body, refuse)) return false;
  *out = ParsedClientHello{};
  TlsProfile& t = out->tls;

  Reader r{body};
  const uint32_t legacy_version = r.u16();
  r.take(32);  // random: fresh per connection
  Reader session_id = r.vec(1);
  std::vector<uint32_t> ciphers;
  const bool ciphers_ok = u16_list(r.vec(2), &ciphers);
  Reader compression = r.vec(1);
  Reader extensions = r.done() ? Reader{} : r.vec(2);
  if (r.failed || !ciphers_ok || !r.done()) return refuse.malformed("the hello's fields do not add up");
  if (legacy_version != 0x0303)
    return refuse.unsupported("legacy_version " + hex16(legacy_version) + " (0x0303 only)");
  if (session_id.data.size() > 32) return refuse.malformed("legacy_session_id longer than 32 bytes");
  out->session_id_length = session_id.data.size();
  if (compression.data != std::string_view("\0", 1))
    return refuse.unsupported("compression methods other than [null]");
  if (ciphers.empty()) return refuse.malformed("no cipher suites");

  // Where GREASE is, per list: this stack GREASEs all of them or none.
  bool grease_ciphers = false, grease_groups = false, grease_versions = false, grease_shares = false;
  if (!grease_only_first(ciphers, "cipher_suites", &grease_ciphers, why)) return refuse.unsupported(*why);
  t.cipher_suites = narrow<uint16_t>(without_grease(ciphers));

  // The extensions in wire order; every body is read here, the flags they drive by apply_extensions.
  std::vector<uint32_t> ids;
  std::set<uint32_t> seen;
  std::vector<uint32_t> versions;
  std::vector<uint32_t> key_share_groups;
  bool ech_nss = false;
  while (!extensions.failed && !extensions.done()) {
    const uint32_t id = extensions.u16();
    Reader e = extensions.vec(2);
    if (extensions.failed) break;
    if (!seen.insert(id).second)
      return refuse.malformed("extension " + std::to_string(id) + " appears twice");
    ids.push_back(id);
    if (is_tls_grease(id)) continue;
    const std::string name = "extension " + std::to_string(id);
    bool ok = true;
    switch (id) {
      case 0: {  // server_name: one host_name
        Reader list = e.vec(2);
        const uint32_t type = list.u8();
        Reader host = list.vec(2);
        ok = !list.failed && list.done() && e.done() && type == 0;
        out->server_name_sent = true;
        out->server_name = std::string(host.data);
        break;
      }
      case 5:
        if (e.data != std::string_view("\x01\x00\x00\x00\x00", 5))
          return refuse.unsupported("status_request (5) other than OCSP without responder ids or extensions");
        break;
      case 10: {
        std::vector<uint32_t> groups;
        ok = u16_list(e.vec(2), &groups) && e.done();
        if (!grease_only_first(groups, "supported_groups", &grease_groups, why))
          return refuse.unsupported(*why);
        t.groups = narrow<uint16_t>(without_grease(groups));
        for (uint16_t g : t.groups)
          if (!key_share_length(g))
            return refuse.unsupported("group " + hex16(g) + " (supported_groups) is not in this TLS stack");
        break;
      }
      case 11: {
        Reader formats = e.vec(1);
        ok = !formats.failed && e.done();
        t.point_formats.assign(formats.data.begin(), formats.data.end());
        break;
      }
      case 13: {
        std::vector<uint32_t> algs;
        ok = u16_list(e.vec(2), &algs) && e.done();
        bool first_is_grease = false;
        if (!grease_only_first(algs, "signature_algorithms", &first_is_grease, why))
          return refuse.unsupported(*why);
        t.grease_signature_algorithms = first_is_grease;
        t.signature_algorithms = narrow<uint16_t>(without_grease(algs));
        break;
      }
      case 16:
        ok = protocol_list(e.vec(2), &t.alpn) && e.done();
        break;
      case 17513:
      case 17613:
        ok = protocol_list(e.vec(2), &t.alps) && e.done();
        break;
      case 18:
      case 23:
        if (!e.data.empty()) return refuse.unsupported(name + " with a body (this stack sends it empty)");
        break;
      case 21:
        if (e.data.find_first_not_of('\0') != std::string_view::npos)
          return refuse.malformed("padding (21) with non-zero bytes");
        break;
      case 27: {
        std::vector<uint32_t> algs;
        ok = u16_list(e.vec(1), &algs) && e.done() && !algs.empty();
        t.cert_compression = narrow<uint16_t>(algs);
        for (uint16_t a : t.cert_compression)
          if (a < 1 || a > 3)
            return refuse.unsupported("certificate compression algorithm " + std::to_string(a) +
                                      " (1 zlib, 2 brotli, 3 zstd)");
        break;
      }
      case 28:
        t.record_size_limit = static_cast<uint16_t>(e.u16());
        ok = !e.failed && e.done();
        if (ok && t.record_size_limit < 64) return refuse.unsupported("record_size_limit below 64");
        break;
      case 34: {
        std::vector<uint32_t> algs;
        ok = u16_list(e.vec(2), &algs) && e.done() && !algs.empty();
        t.delegated_credentials = narrow<uint16_t>(algs);
        break;
      }
      case 35:
        if (!e.data.empty())
          return refuse.unsupported(
              "session_ticket (35) carries a ticket: resumption not from a fingerprint");
        break;
      case 41:
        return refuse.unsupported("pre_shared_key (41): resumption not from a fingerprint");
      case 42:
        return refuse.unsupported("early_data (42): resumption not from a fingerprint");
      case 43:
        ok = u16_list(e.vec(1), &versions) && e.done() && !versions.empty();
        break;
      case 45:
        if (e.data != std::string_view("\x01\x01", 2))
          return refuse.unsupported("psk_key_exchange_modes (45) other than [psk_dhe_ke]");
        break;
      case 51: {
        Reader shares = e.vec(2);
        ok = e.done();
        while (ok && !shares.failed && !shares.done()) {
          const uint32_t group = shares.u16();
          const size_t length = shares.vec(2).data.size();
          if (shares.failed) break;
          key_share_groups.push_back(group);
          if (is_tls_grease(group)) continue;
          if (key_share_length(group) != length)
            return refuse.unsupported("key share for group " + hex16(group) + " of " +
                                      std::to_string(length) + " bytes (this stack sends " +
                                      std::to_string(key_share_length(group)) + ")");
        }
        ok = ok && !shares.failed;
        break;
      }
      case 57:
        out->quic_transport_parameters_sent = true;
        out->quic_transport_parameters = std::string(e.data);
        break;
      case 65037: {  // encrypted_client_hello: only an outer GREASE one can be sent
        const uint32_t type = e.u8();
        const uint32_t kdf = e.u16();
        const uint32_t aead = e.u16();
        e.u8();  // config_id
        const size_t enc = e.vec(2).data.size();
        const size_t payload = e.vec(2).data.size();
        ok = !e.failed && e.done();
        if (ok && (type != 0 || kdf != 0x0001 || (aead != 0x0001 && aead != 0x0003) || enc != 32))
          return refuse.unsupported(
              "encrypted_client_hello (65037) other than GREASE with HKDF-SHA256, X25519 and AES-128-GCM or "
              "ChaCha20-Poly1305");
        ech_nss = !boringssl_ech_payload(aead, payload);
        break;
      }
      case 65281:
        if (e.data != std::string_view("\0", 1))
          return refuse.unsupported("renegotiation_info (65281) other than empty");
        break;
      case 0xca34: {  // trust_anchors: the id list as given
        Reader list = e.vec(2);
        ok = !list.failed && e.done() && !list.data.empty();
        t.trust_anchors = std::string(list.data);
        break;
      }
      default:
        // Sent opaque by the stack: 22, 49 and 17 empty, 50 with signature_algorithms, others empty.
        if (const char* reason = id == 57 ? nullptr : unsendable_extension(id))
          return refuse.unsupported(reason);
        if (id != 50 && !e.data.empty())
          return refuse.unsupported(name + " with a body (this stack sends it empty)");
        break;
    }
    if (!ok) return refuse.malformed(name + "'s body");
  }
  if (extensions.failed) return refuse.malformed("the extensions' lengths do not add up");

  // supported_versions: GREASE first, then consecutive versions from the highest down.
  if (!grease_only_first(versions, "supported_versions", &grease_versions, why))
    return refuse.unsupported(*why);
  const std::vector<uint32_t> real_versions = without_grease(versions);
  for (size_t i = 0; i < real_versions.size(); ++i) {
    const uint32_t v = real_versions[i];
    if (v < 0x0301 || v > 0x0304 || (i > 0 && v != real_versions[i - 1] - 1))
      return refuse.unsupported(
          "supported_versions other than consecutive TLS versions from the highest down");
  }
  if (!grease_only_first(key_share_groups, "key_share", &grease_shares, why)) return refuse.unsupported(*why);
  const std::vector<uint32_t> shared = without_grease(key_share_groups);
  if (shared.size() > t.groups.size() || !std::equal(shared.begin(), shared.end(), t.groups.begin()))
    return refuse.unsupported("key_share groups other than the first supported_groups in their order");
  t.key_shares = shared.size();

  // The extension flags, omitted and opaque extensions; 57 (QUIC's) goes back in at its place.
  std::vector<uint32_t> tls_ids;
  for (uint32_t id : ids)
    if (id != 57) tls_ids.push_back(id);
  const bool grease = std::any_of(ids.begin(), ids.end(), is_tls_grease);
  if (grease_ciphers != grease || (seen.count(10) && grease_groups != grease) ||
      (seen.count(43) && grease_versions != grease) || (seen.count(51) && grease_shares != grease))
    return refuse.unsupported(
        "GREASE in some of cipher_suites, extensions, supported_groups, key_share and "
        "supported_versions but not all (this stack GREASEs all or none)");
  if (t.grease_signature_algorithms && !grease)
    return refuse.unsupported("GREASE in signature_algorithms only");
  const bool grease_sigalgs = t.grease_signature_algorithms;
  if (!apply_extensions(tls_ids, &t, why)) return refuse.unsupported(*why);
  t.grease_signature_algorithms = grease_sigalgs;
  t.ech_grease_nss = t.ech_grease && ech_nss;
  if (out->quic_transport_parameters_sent) {
    t.extension_order.clear();
    for (uint32_t id : ids)
      if (!is_tls_grease(id)) t.extension_order.push_back(static_cast<uint16_t>(id));
  }
  if (!real_versions.empty()) {
    t.max_version = static_cast<uint16_t>(real_versions.front());
    t.min_version = static_cast<uint16_t>(real_versions.back());
  } else {
    t.max_version = t.min_version = std::min<uint16_t>(static_cast<uint16_t>(legacy_version), 0x0303);
  }
  if (t.min_version == 0x0304) {
    // TLS 1.3 only: BoringSSL sends supported_groups and signature_algorithms, and
    // extended_master_secret and renegotiation_info only when told to (as NSS does).
    for (uint32_t tls12_only : {11u, 35u})
      if (seen.count(tls12_only))
        return refuse.unsupported("extension " + std::to_string(tls12_only) + " in a TLS 1.3-only hello");
    t.tls12_extensions_in_tls13_hello = seen.count(23) || seen.count(65281);
    t.omitted_extensions.clear();
    std::vector<uint16_t> sent_anyway = {10, 13};
    if (t.tls12_extensions_in_tls13_hello) sent_anyway.insert(sent_anyway.end(), {23, 65281});
    for (uint16_t e : sent_anyway)
      if (!seen.count(e)) t.omitted_extensions.push_back(e);
  }
  return true;
}

}  // namespace ctn
