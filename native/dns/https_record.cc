#include "dns/https_record.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

namespace ctn::dns {
namespace {

// A bounded reader over bytes: every take checks what is left first.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  size_t left() const { return bytes_.size() - at_; }
  size_t offset() const { return at_; }
  bool u8(uint8_t* v) {
    if (left() < 1) return false;
    *v = static_cast<uint8_t>(bytes_[at_++]);
    return true;
  }
  bool u16(uint16_t* v) {
    if (left() < 2) return false;
    *v = static_cast<uint16_t>((static_cast<uint8_t>(bytes_[at_]) << 8) |
                               static_cast<uint8_t>(bytes_[at_ + 1]));
    at_ += 2;
    return true;
  }
  bool u32(uint32_t* v) {
    uint16_t hi = 0, lo = 0;
    if (!u16(&hi) || !u16(&lo)) return false;
    *v = (uint32_t{hi} << 16) | lo;
    return true;
  }
  bool take(size_t n, std::string_view* out) {
    if (left() < n) return false;
    *out = bytes_.substr(at_, n);
    at_ += n;
    return true;
  }
  bool seek(size_t offset) {
    if (offset > bytes_.size()) return false;
    at_ = offset;
    return true;
  }

 private:
  std::string_view bytes_;
  size_t at_ = 0;
};

// An uncompressed wire-format name (RFC 9460 §2.2: TargetName is never compressed) into text.
bool read_plain_name(Reader& r, std::string* out) {
  out->clear();
  size_t wire = 0;
  for (;;) {
    uint8_t len = 0;
    if (!r.u8(&len)) return false;
    ++wire;
    if (len == 0) break;
    if (len > 63) return false;  // a compression pointer or a reserved label type: not allowed here
    std::string_view label;
    if (!r.take(len, &label)) return false;
    wire += len;
    if (wire > kMaxNameLength) return false;
    if (!out->empty()) out->push_back('.');
    out->append(label);
  }
  if (out->empty()) out->push_back('.');  // the root (push_back: GCC 12 warns falsely on = ".")
  return true;
}

// Steps over a possibly compressed name in a message (RFC 1035 §4.1.4): labels end at a zero
// byte or at a pointer (two bytes), whose target is not needed here.
bool skip_name(Reader& r) {
  for (size_t labels = 0; labels <= 128; ++labels) {
    uint8_t len = 0;
    if (!r.u8(&len)) return false;
    if (len == 0) return true;
    if ((len & 0xC0) == 0xC0) {
      uint8_t low = 0;
      return r.u8(&low);
    }
    if (len > 63) return false;
    std::string_view label;
    if (!r.take(len, &label)) return false;
  }
  return false;
}

bool fail(std::string* why, const char* what) {
  if (why) *why = what;
  return false;
}

bool parse_alpn(std::string_view value, HttpsRecord* out) {
  Reader r(value);
  if (r.left() == 0) return false;  // alpn-ids: at least one
  while (r.left() > 0) {
    uint8_t len = 0;
    std::string_view id;
    if (!r.u8(&len) || len == 0 || !r.take(len, &id)) return false;
    out->alpn.emplace_back(id);
  }
  return true;
}

bool parse_hints(std::string_view value, int family, size_t size, std::vector<std::string>* out) {
  if (value.empty() || value.size() % size != 0) return false;
  char text[INET6_ADDRSTRLEN] = {};
  for (size_t at = 0; at < value.size(); at += size) {
    if (!inet_ntop(family, value.data() + at, text, sizeof text)) return false;
    out->emplace_back(text);
  }
  return true;
}

enum Key : uint16_t { kMandatory = 0, kAlpn, kNoDefaultAlpn, kPort, kIpv4Hint, kEch, kIpv6Hint };

}  // namespace

bool parse_https_rdata(std::string_view rdata, HttpsRecord* out, std::string* why) {
  *out = HttpsRecord{};
  Reader r(rdata);
  if (!r.u16(&out->priority)) return fail(why, "truncated SvcPriority");
  if (!read_plain_name(r, &out->target)) return fail(why, "malformed TargetName");
  std::vector<uint16_t> mandatory;
  int last_key = -1;
  while (r.left() > 0) {
    uint16_t key = 0, length = 0;
    std::string_view value;
    if (!r.u16(&key) || !r.u16(&length) || !r.take(length, &value)) return fail(why, "truncated SvcParam");
    // RFC 9460 §2.2: keys in strictly increasing order, else the RR is malformed.
    if (static_cast<int>(key) <= last_key) return fail(why, "SvcParamKeys out of order or repeated");
    last_key = key;
    switch (key) {
      case kMandatory: {
        if (value.empty() || value.size() % 2 != 0) return fail(why, "malformed mandatory");
        Reader m(value);
        uint16_t k = 0;
        while (m.u16(&k)) mandatory.push_back(k);
        break;
      }
      case kAlpn:
        if (!parse_alpn(value, out)) return fail(why, "malformed alpn");
        break;
      case kNoDefaultAlpn:
        if (!value.empty()) return fail(why, "no-default-alpn with a value");
        out->no_default_alpn = true;
        break;
      case kPort: {
        Reader p(value);
        uint16_t port = 0;
        if (value.size() != 2 || !p.u16(&port)) return fail(why, "malformed port");
        out->port = port;
        break;
      }
      case kIpv4Hint:
        if (!parse_hints(value, AF_INET, 4, &out->ipv4_hints)) return fail(why, "malformed ipv4hint");
        break;
      case kEch:
        out->ech_config_list.assign(value);
        break;
      case kIpv6Hint:
        if (!parse_hints(value, AF_INET6, 16, &out->ipv6_hints)) return fail(why, "malformed ipv6hint");
        break;
      default:
        break;  // unknown keys are ignored (unless mandatory, below)
    }
  }
  for (uint16_t k : mandatory) {
    if (k == kMandatory) return fail(why, "mandatory lists itself");
    if (k > kIpv6Hint) out->unknown_mandatory_key = true;
  }
  return true;
}

bool parse_https_response(std::string_view message, std::vector<HttpsRecord>* out, std::string* why) {
  out->clear();
  Reader r(message);
  uint16_t id = 0, flags = 0, questions = 0, answers = 0, authority = 0, additional = 0;
  if (!r.u16(&id) || !r.u16(&flags) || !r.u16(&questions) || !r.u16(&answers) || !r.u16(&authority) ||
      !r.u16(&additional)) {
    return fail(why, "truncated DNS header");
  }
  for (uint16_t i = 0; i < questions; ++i) {
    uint16_t type = 0, klass = 0;
    if (!skip_name(r) || !r.u16(&type) || !r.u16(&klass)) return fail(why, "truncated question");
  }
  for (uint16_t i = 0; i < answers; ++i) {
    uint16_t type = 0, klass = 0, length = 0;
    uint32_t ttl = 0;
    std::string_view rdata;
    if (!skip_name(r) || !r.u16(&type) || !r.u16(&klass) || !r.u32(&ttl) || !r.u16(&length) ||
        !r.take(length, &rdata)) {
      out->clear();
      return fail(why, "truncated answer");
    }
    if (type != kTypeHttps || klass != 1 /* IN */ || out->size() >= kMaxHttpsRecords) continue;
    HttpsRecord record;
    if (!parse_https_rdata(rdata, &record, nullptr)) continue;
    // RFC 2181 §8: a TTL with the top bit set is taken as zero.
    record.ttl_seconds = (ttl & 0x80000000u) ? 0 : ttl;
    out->push_back(std::move(record));
  }
  return true;
}

namespace {

bool same_name(std::string_view a, std::string_view b) {
  auto strip = [](std::string_view s) {
    return !s.empty() && s.back() == '.' ? s.substr(0, s.size() - 1) : s;
  };
  a = strip(a);
  b = strip(b);
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::optional<HttpsChoice> choose_https_record(const std::vector<HttpsRecord>& records, std::string_view host,
                                               uint16_t port) {
  const HttpsRecord* best = nullptr;
  for (const HttpsRecord& record : records) {
    if (record.alias_mode() || record.unknown_mandatory_key) continue;
    if (record.target != "." && !same_name(record.target, host)) continue;
    if (record.port && *record.port != port) continue;
    if (!best || record.priority < best->priority) best = &record;
  }
  if (!best) return std::nullopt;
  return HttpsChoice{best->ech_config_list, best->alpn, best->ttl_seconds};
}

std::string https_query_name(std::string_view host, uint16_t port) {
  std::string name;
  if (port != 443) {
    // Built piece by piece: GCC 12 warns falsely (-Wrestrict) on a chain of operator+.
    name.push_back('_');
    name.append(std::to_string(port));
    name.append("._https.");
  }
  name.append(host);
  return name;
}

}  // namespace ctn::dns
