#include "fingerprint/fingerprint.h"

#include <openssl/sha.h>

#include <algorithm>
#include <charconv>
#include <unordered_map>

#include "common/tls_grease.h"

namespace ctn::fingerprint {

namespace {

constexpr uint16_t kServerName = 0x0000;
constexpr uint16_t kSupportedGroups = 0x000a;
constexpr uint16_t kPointFormats = 0x000b;
constexpr uint16_t kSignatureAlgorithms = 0x000d;
constexpr uint16_t kAlpn = 0x0010;
constexpr uint16_t kSupportedVersions = 0x002b;
constexpr uint16_t kEncryptedClientHello = 0xfe0d;

// A bounds-checked reader over one span; every read fails once anything ran short.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  bool u8(uint8_t* v) {
    if (bytes_.size() < 1) return false;
    *v = static_cast<uint8_t>(bytes_[0]);
    bytes_.remove_prefix(1);
    return true;
  }
  bool u16(uint16_t* v) {
    if (bytes_.size() < 2) return false;
    *v = static_cast<uint16_t>(static_cast<uint8_t>(bytes_[0]) << 8 | static_cast<uint8_t>(bytes_[1]));
    bytes_.remove_prefix(2);
    return true;
  }
  bool take(size_t n, std::string_view* out) {
    if (bytes_.size() < n) return false;
    *out = bytes_.substr(0, n);
    bytes_.remove_prefix(n);
    return true;
  }
  // A vector with an 8- or 16-bit length prefix.
  bool vec8(std::string_view* out) {
    uint8_t n = 0;
    return u8(&n) && take(n, out);
  }
  bool vec16(std::string_view* out) {
    uint16_t n = 0;
    return u16(&n) && take(n, out);
  }
  bool empty() const { return bytes_.empty(); }

 private:
  std::string_view bytes_;
};

// What the fingerprints read from a ClientHello; lists as written, GREASE included.
// Its lists keep their capacity across clear(): one Hello per io thread parses every connection's
// hello without allocating once it has grown to a browser's.
struct Hello {
  uint16_t legacy_version = 0;
  std::vector<uint16_t> ciphers, extensions, groups, signature_algorithms, versions;
  std::vector<uint8_t> point_formats;
  std::string_view first_alpn;
  bool has_versions_extension = false;

  void clear() {
    legacy_version = 0;
    for (auto* list : {&ciphers, &extensions, &groups, &signature_algorithms, &versions}) list->clear();
    point_formats.clear();
    first_alpn = {};
    has_versions_extension = false;
  }
};

void read_u16_list(std::string_view bytes, std::vector<uint16_t>* out) {
  out->clear();
  Reader r(bytes);
  for (uint16_t v = 0; r.u16(&v);) out->push_back(v);
}

// An extension's body that does not parse leaves its list empty, as the echo server's parser does
// with a list it cannot read; only the hello's own framing decides whether it is a hello.
void read_extension(uint16_t id, std::string_view body, Hello* h) {
  Reader r(body);
  std::string_view list;
  switch (id) {
    case kSupportedGroups:
      if (r.vec16(&list)) read_u16_list(list, &h->groups);
      break;
    case kSignatureAlgorithms:
      if (r.vec16(&list)) read_u16_list(list, &h->signature_algorithms);
      break;
    case kPointFormats:
      if (r.vec8(&list)) h->point_formats.assign(list.begin(), list.end());
      break;
    case kSupportedVersions:
      h->has_versions_extension = true;
      if (r.vec8(&list)) read_u16_list(list, &h->versions);
      break;
    case kAlpn:
      if (std::string_view name; r.vec16(&list) && Reader(list).vec8(&name)) h->first_alpn = name;
      break;
    default:
      break;
  }
}

bool parse_hello(std::string_view message, Hello* h) {
  Reader m(message);
  uint8_t type = 0;
  std::string_view length_bytes, body;
  if (!m.u8(&type) || type != 1 || !m.take(3, &length_bytes)) return false;
  const size_t length = static_cast<size_t>(static_cast<uint8_t>(length_bytes[0])) << 16 |
                        static_cast<size_t>(static_cast<uint8_t>(length_bytes[1])) << 8 |
                        static_cast<uint8_t>(length_bytes[2]);
  if (!m.take(length, &body) || !m.empty()) return false;
  Reader r(body);
  std::string_view random, session_id, ciphers, compression, extensions;
  if (!r.u16(&h->legacy_version) || !r.take(32, &random) || !r.vec8(&session_id) || !r.vec16(&ciphers) ||
      !r.vec8(&compression)) {
    return false;
  }
  read_u16_list(ciphers, &h->ciphers);
  if (r.empty()) return true;  // no extensions at all
  if (!r.vec16(&extensions) || !r.empty()) return false;
  Reader e(extensions);
  while (!e.empty()) {
    uint16_t id = 0;
    std::string_view ext;
    if (!e.u16(&id) || !e.vec16(&ext)) return false;
    h->extensions.push_back(id);
    read_extension(id, ext, h);
  }
  return true;
}

void keep_non_grease(const std::vector<uint16_t>& values, std::vector<uint16_t>* out) {
  out->clear();
  for (uint16_t v : values) {
    if (!is_tls_grease(v)) out->push_back(v);
  }
}

std::vector<uint16_t> without_grease(const std::vector<uint16_t>& values) {
  std::vector<uint16_t> out;
  out.reserve(values.size());
  keep_non_grease(values, &out);
  return out;
}

// Numbers are written straight into the string being built (no temporary per number): a
// connection's fingerprint is computed on the io thread before its first response.
void append_decimal(std::string& out, unsigned value) {
  char digits[10];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out.append(digits, end);
}

template <typename T>
void append_dashed(std::string& out, const std::vector<T>& values, bool skip_grease = false) {
  bool first = true;
  for (const T v : values) {
    if constexpr (sizeof(T) == 2) {
      if (skip_grease && is_tls_grease(v)) continue;
    }
    if (!first) out.push_back('-');
    append_decimal(out, v);
    first = false;
  }
}

// JA3's parts around the extensions: "version,ciphers," and ",groups,point_formats".
std::string ja3_head(const Hello& h, const std::vector<uint16_t>& ciphers) {
  std::string out;
  out.reserve(6 * ciphers.size() + 8);
  append_decimal(out, h.legacy_version);
  out.push_back(',');
  append_dashed(out, ciphers);
  out.push_back(',');
  return out;
}

std::string ja3_tail(const Hello& h) {
  std::string out;
  out.reserve(6 * h.groups.size() + 4 * h.point_formats.size() + 2);
  out.push_back(',');
  append_dashed(out, h.groups, true);
  out.push_back(',');
  append_dashed(out, h.point_formats);
  return out;
}

// JA3 with the extensions in the order given (JA3N: sorted). The numbers are written straight into
// the string's own buffer: this runs for every connection.
std::string ja3_of(std::string_view head, const std::vector<uint16_t>& extensions, std::string_view tail) {
  std::string out;
  out.resize(head.size() + 6 * extensions.size() + tail.size());
  char* at = std::copy(head.begin(), head.end(), out.data());
  char* const end = out.data() + out.size();
  for (size_t i = 0; i < extensions.size(); ++i) {
    if (i > 0) *at++ = '-';
    at = std::to_chars(at, end, extensions[i]).ptr;
  }
  at = std::copy(tail.begin(), tail.end(), at);
  out.resize(static_cast<size_t>(at - out.data()));
  return out;
}

// Four-digit hex values joined by commas; sorted as numbers, which for fixed-width hex is the
// order JA4's sorted text lists have.
std::string hex_list(std::vector<uint16_t> values, bool sorted) {
  static constexpr char kHex[] = "0123456789abcdef";
  if (sorted) std::sort(values.begin(), values.end());
  std::string out;
  out.reserve(values.size() * 5);
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    const uint16_t v = values[i];
    const char text[4] = {kHex[v >> 12], kHex[(v >> 8) & 0x0f], kHex[(v >> 4) & 0x0f], kHex[v & 0x0f]};
    out.append(text, sizeof text);
  }
  return out;
}

std::string_view ja4_version(const Hello& h) {
  const std::vector<uint16_t> offered = without_grease(h.versions);
  const uint16_t v = h.has_versions_extension && !offered.empty()
                         ? *std::max_element(offered.begin(), offered.end())
                         : h.legacy_version;
  switch (v) {
    case 0x0304:
      return "13";
    case 0x0303:
      return "12";
    case 0x0302:
      return "11";
    case 0x0301:
      return "10";
    case 0x0300:
      return "s3";
    case 0x0002:
      return "s2";
    case 0xfeff:
      return "d1";
    case 0xfefd:
      return "d2";
    case 0xfefc:
      return "d3";
    default:
      return "00";
  }
}

bool is_alnum(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

// The first ALPN value's first and last characters; "00" without one; when either is not
// alphanumeric, the first hex digit of the first byte and the last hex digit of the last byte.
std::string ja4_alpn(std::string_view alpn) {
  if (alpn.empty()) return "00";
  const auto first = static_cast<unsigned char>(alpn.front());
  const auto last = static_cast<unsigned char>(alpn.back());
  if (is_alnum(first) && is_alnum(last)) return {static_cast<char>(first), static_cast<char>(last)};
  static constexpr char kHex[] = "0123456789abcdef";
  return {kHex[first >> 4], kHex[last & 0x0f]};
}

std::string count2(size_t n) {
  const size_t capped = std::min<size_t>(n, 99);
  return {static_cast<char>('0' + capped / 10), static_cast<char>('0' + capped % 10)};
}

// The first 12 hex digits of SHA-256; twelve zeros for an empty list (JA4's rule).
std::string sha256_12(std::string_view text, bool empty_list) {
  if (empty_list) return "000000000000";
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const uint8_t*>(text.data()), text.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 6; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0x0f]);
  }
  return out;
}

}  // namespace

namespace {

OrderFreeFingerprint order_free(const Hello& h, Transport transport, const std::vector<uint16_t>& ciphers,
                                const std::vector<uint16_t>& sorted_extensions) {
  OrderFreeFingerprint out;
  out.ja3n = ja3_of(ja3_head(h, ciphers), sorted_extensions, ja3_tail(h));
  std::vector<uint16_t> hashed_extensions;  // JA4 leaves SNI and ALPN out of the sorted list
  hashed_extensions.reserve(sorted_extensions.size());
  for (uint16_t id : sorted_extensions) {
    if (id != kServerName && id != kAlpn) hashed_extensions.push_back(id);
  }
  const bool has_sni =
      std::find(sorted_extensions.begin(), sorted_extensions.end(), kServerName) != sorted_extensions.end();
  const std::string a = std::string(1, static_cast<char>(transport)) + std::string(ja4_version(h)) +
                        (has_sni ? 'd' : 'i') + count2(ciphers.size()) + count2(sorted_extensions.size()) +
                        ja4_alpn(h.first_alpn);
  const std::string sorted_ciphers = hex_list(ciphers, true);
  std::string extensions_and_signatures = hex_list(hashed_extensions, false);
  const std::string signatures = hex_list(without_grease(h.signature_algorithms), false);
  if (!signatures.empty()) extensions_and_signatures += '_' + signatures;
  out.ja4 = a + '_' + sha256_12(sorted_ciphers, ciphers.empty()) + '_' +
            sha256_12(extensions_and_signatures, hashed_extensions.empty());
  out.ja4r = a + '_' + sorted_ciphers + '_' + extensions_and_signatures;
  return out;
}

// What order_free reads, as bytes: each list (GREASE left out) behind its length. Written into
// `key`, which keeps its capacity from one hello to the next.
void order_free_key(const Hello& h, Transport transport, const std::vector<uint16_t>& ciphers,
                    const std::vector<uint16_t>& sorted_extensions, std::string& key) {
  key.clear();
  key.reserve(2 * (ciphers.size() + sorted_extensions.size() + h.groups.size() +
                   h.signature_algorithms.size() + h.versions.size()) +
              h.point_formats.size() + h.first_alpn.size() + 24);
  const auto u16 = [&key](size_t v) {
    key.push_back(static_cast<char>(v >> 8));
    key.push_back(static_cast<char>(v));
  };
  const auto list = [&](const std::vector<uint16_t>& values, bool skip_grease) {
    const auto kept = [skip_grease](uint16_t v) { return !skip_grease || !is_tls_grease(v); };
    u16(static_cast<size_t>(std::count_if(values.begin(), values.end(), kept)));  // what follows
    for (uint16_t v : values) {
      if (kept(v)) u16(v);
    }
  };
  key.push_back(static_cast<char>(transport));
  key.push_back(h.has_versions_extension ? 1 : 0);
  u16(h.legacy_version);
  list(ciphers, false);
  list(sorted_extensions, false);
  list(h.groups, true);
  list(h.signature_algorithms, true);
  list(h.versions, true);
  u16(h.point_formats.size());
  key.append(h.point_formats.begin(), h.point_formats.end());
  u16(h.first_alpn.size());
  key.append(h.first_alpn);
}

}  // namespace

bool tls_fingerprint(std::string_view hello, Transport transport, TlsFingerprint* out) {
  // A connection's fingerprint is computed on the io thread before its first response: what it
  // parses into is kept per thread, so a hello costs no allocation but its JA3 string.
  struct Scratch {
    Hello hello;
    std::vector<uint16_t> ciphers, extensions, sorted_extensions;
    std::string key;
  };
  thread_local Scratch s;
  Hello& h = s.hello;
  h.clear();
  if (!parse_hello(hello, &h)) return false;
  keep_non_grease(h.ciphers, &s.ciphers);
  keep_non_grease(h.extensions, &s.extensions);
  out->offers_ech =
      std::find(s.extensions.begin(), s.extensions.end(), kEncryptedClientHello) != s.extensions.end();
  s.sorted_extensions.assign(s.extensions.begin(), s.extensions.end());
  std::sort(s.sorted_extensions.begin(), s.sorted_extensions.end());
  // What does not depend on the extensions' order (two SHA-256s, four sorted lists, JA3 around
  // the extensions) once per thread and shape, shared by the connections of that shape. Bounded:
  // past this many shapes it starts over.
  struct Shape {
    std::shared_ptr<const OrderFreeFingerprint> order_free;
    std::string ja3_head, ja3_tail;
  };
  constexpr size_t kShapesKept = 64;
  // Looked up by the scratch key itself, which is copied only for a new shape.
  thread_local std::unordered_map<std::string, Shape> shapes;
  order_free_key(h, transport, s.ciphers, s.sorted_extensions, s.key);
  auto it = shapes.find(s.key);
  if (it == shapes.end()) {
    if (shapes.size() >= kShapesKept) shapes.clear();
    Shape shape{std::make_shared<const OrderFreeFingerprint>(
                    order_free(h, transport, s.ciphers, s.sorted_extensions)),
                ja3_head(h, s.ciphers), ja3_tail(h)};
    it = shapes.emplace(s.key, std::move(shape)).first;
  }
  out->ja3 = ja3_of(it->second.ja3_head, s.extensions, it->second.ja3_tail);
  out->order_free = it->second.order_free;
  return true;
}

namespace {

std::string akamai_of(const H2FirstFlight& flight) {
  std::string out;
  for (size_t i = 0; i < flight.settings.size(); ++i) {
    if (i > 0) out.push_back(';');
    out += std::to_string(flight.settings[i].first) + ':' + std::to_string(flight.settings[i].second);
  }
  out += '|';
  out += flight.connection_window_update ? std::to_string(*flight.connection_window_update) : "00";
  out += '|';
  if (flight.priority_frames.empty()) out += '0';
  for (size_t i = 0; i < flight.priority_frames.size(); ++i) {
    const H2Priority& p = flight.priority_frames[i];
    if (i > 0) out.push_back(',');
    out += std::to_string(p.stream_id) + ':' + (p.exclusive ? '1' : '0') + ':' +
           std::to_string(p.depends_on) + ':' + std::to_string(p.weight);
  }
  out += '|';
  bool first = true;
  for (const std::string& name : flight.pseudo_headers) {
    char letter = 0;
    if (name == ":method") letter = 'm';
    if (name == ":authority") letter = 'a';
    if (name == ":scheme") letter = 's';
    if (name == ":path") letter = 'p';
    if (letter == 0) continue;  // :protocol and others have no letter
    if (!first) out.push_back(',');
    out.push_back(letter);
    first = false;
  }
  return out;
}

}  // namespace

std::string akamai(const H2FirstFlight& flight) {
  // Every connection of one preset sends the same first flight: its string is kept per io thread
  // and made again only when a flight differs from the one before.
  struct Last {
    bool set = false;
    H2FirstFlight flight;
    std::string text;
  };
  thread_local Last last;
  const bool same = last.set && last.flight.settings == flight.settings &&
                    last.flight.connection_window_update == flight.connection_window_update &&
                    last.flight.priority_frames == flight.priority_frames &&
                    last.flight.pseudo_headers == flight.pseudo_headers;
  if (!same) {
    last.text = akamai_of(flight);
    last.flight = flight;
    last.set = true;
  }
  return last.text;
}

std::string_view ech_name(EchSent ech) {
  switch (ech) {
    case EchSent::kGrease:
      return "grease";
    case EchSent::kReal:
      return "real";
    case EchSent::kNone:
      break;
  }
  return "none";
}

}  // namespace ctn::fingerprint
