#include "pool/alt_svc_header.h"

#include <optional>

namespace ctn {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// RFC 9110 §5.6.2.
bool is_tchar(char c) {
  static constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  return is_digit(c) || is_alpha(c) || (c != '\0' && kSpecials.find(c) != std::string_view::npos);
}

int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// A cursor over the field value; every reader either consumes what it recognises and returns it, or
// returns nothing (the caller then gives up on the whole value).
class Reader {
 public:
  explicit Reader(std::string_view text) : rest_(text) {}

  bool done() const { return rest_.empty(); }
  bool peek(char c) const { return !rest_.empty() && rest_.front() == c; }
  bool take(char c) {
    if (!peek(c)) return false;
    rest_.remove_prefix(1);
    return true;
  }
  // OWS: spaces and tabs.
  void skip_ows() {
    while (!rest_.empty() && (rest_.front() == ' ' || rest_.front() == '\t')) rest_.remove_prefix(1);
  }
  std::optional<std::string_view> token() {
    size_t n = 0;
    while (n < rest_.size() && is_tchar(rest_[n])) ++n;
    if (n == 0) return std::nullopt;
    const std::string_view t = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return t;
  }
  // quoted-string (RFC 9110 §5.6.4), unescaped. Control characters (but HTAB) are refused.
  std::optional<std::string> quoted_string() {
    if (!take('"')) return std::nullopt;
    std::string out;
    while (!rest_.empty()) {
      const auto c = static_cast<unsigned char>(rest_.front());
      rest_.remove_prefix(1);
      if (c == '"') return out;
      if (c == '\\') {
        if (rest_.empty()) return std::nullopt;
        const auto escaped = static_cast<unsigned char>(rest_.front());
        rest_.remove_prefix(1);
        if (escaped != '\t' && (escaped < 0x20 || escaped == 0x7f)) return std::nullopt;
        out.push_back(static_cast<char>(escaped));
        continue;
      }
      if (c != '\t' && (c < 0x20 || c == 0x7f)) return std::nullopt;
      out.push_back(static_cast<char>(c));
    }
    return std::nullopt;  // no closing quote
  }

 private:
  std::string_view rest_;
};

// A protocol-id: a token with %XX escapes (RFC 7838 §3), decoded.
std::optional<std::string> decode_protocol_id(std::string_view token) {
  std::string out;
  for (size_t i = 0; i < token.size(); ++i) {
    if (token[i] != '%') {
      out.push_back(token[i]);
      continue;
    }
    if (i + 2 >= token.size()) return std::nullopt;  // a truncated escape
    const int hi = hex_value(token[i + 1]);
    const int lo = hex_value(token[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  if (out.empty() || out.size() > kMaxAltSvcAlpnBytes) return std::nullopt;
  return out;
}

// 1..65535, digits only.
std::optional<uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  uint32_t port = 0;
  for (char c : text) {
    if (!is_digit(c)) return std::nullopt;
    port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  if (port == 0 || port > 65535) return std::nullopt;
  return static_cast<uint16_t>(port);
}

bool valid_reg_name(std::string_view host) {
  if (host.size() > kMaxAltSvcHostBytes) return false;
  for (char c : host) {
    if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '.' && c != '_') return false;
  }
  return true;
}

bool valid_ipv6_literal(std::string_view host) {
  if (host.empty() || host.size() > 45) return false;  // INET6_ADDRSTRLEN - 1
  bool colon = false;
  for (char c : host) {
    if (c == ':')
      colon = true;
    else if (hex_value(c) < 0 && c != '.')
      return false;
  }
  return colon;
}

// alt-authority, unquoted: [uri-host] ":" port. Host names are case-insensitive: kept lower case.
bool parse_authority(std::string_view text, AltSvcAlternative* alt) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return false;
    host = text.substr(1, close - 1);
    if (!valid_ipv6_literal(host)) return false;
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.find(':');
    if (colon == std::string_view::npos) return false;
    host = text.substr(0, colon);
    if (!valid_reg_name(host)) return false;
    port = text.substr(colon + 1);
  }
  const auto number = parse_port(port);
  if (!number) return false;
  alt->host.clear();
  for (char c : host) alt->host.push_back(lower(c));
  alt->port = *number;
  return true;
}

// delta-seconds; a value beyond 32 bits saturates (a hostile `ma` cannot overflow anything).
std::optional<uint32_t> parse_max_age(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (!is_digit(c)) return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
    if (value > UINT32_MAX) value = UINT32_MAX;
  }
  return static_cast<uint32_t>(value);
}

// One alt-value: alternative *( OWS ";" OWS parameter ). Unknown parameters are skipped (RFC 7838
// §3); a malformed `ma` spoils the value.
bool parse_alt_value(Reader& in, AltSvcAlternative* alt) {
  const auto id = in.token();
  if (!id) return false;
  auto alpn = decode_protocol_id(*id);
  if (!alpn || !in.take('=')) return false;
  alt->alpn = std::move(*alpn);
  const auto authority = in.quoted_string();
  if (!authority || !parse_authority(*authority, alt)) return false;
  for (;;) {
    in.skip_ows();
    if (!in.take(';')) return true;
    in.skip_ows();
    const auto name = in.token();
    if (!name || !in.take('=')) return false;
    std::string value;
    if (in.peek('"')) {
      auto quoted = in.quoted_string();
      if (!quoted) return false;
      value = std::move(*quoted);
    } else {
      const auto token = in.token();
      if (!token) return false;
      value = *token;
    }
    if (iequals_ascii(*name, "ma")) {
      const auto max_age = parse_max_age(value);
      if (!max_age) return false;
      alt->max_age_s = *max_age;
    } else if (iequals_ascii(*name, "persist")) {
      alt->persist = value == "1";  // RFC 7838 §3.1: any other value is ignored
    }
  }
}

}  // namespace

AltSvcHeader alt_svc_parse(std::string_view value) {
  AltSvcHeader result;
  if (value.size() > kMaxAltSvcValueBytes) return result;
  Reader in(value);
  in.skip_ows();
  {
    Reader probe = in;
    const auto word = probe.token();
    probe.skip_ows();
    if (word && *word == "clear" && probe.done()) {
      result.kind = AltSvcHeader::Kind::kClear;
      return result;
    }
  }
  std::vector<AltSvcAlternative> alternatives;
  bool any = false;
  // 1#alt-value, with the empty list elements RFC 9110 §5.6.1 asks a recipient to accept.
  for (;;) {
    in.skip_ows();
    if (in.done()) break;
    if (in.take(',')) continue;
    AltSvcAlternative alt;
    if (!parse_alt_value(in, &alt)) return result;
    any = true;
    if (alternatives.size() < kMaxAltSvcAlternatives) alternatives.push_back(std::move(alt));
    in.skip_ows();
    if (in.done()) break;
    if (!in.take(',')) return result;
  }
  if (!any) return result;
  result.kind = AltSvcHeader::Kind::kAlternatives;
  result.alternatives = std::move(alternatives);
  return result;
}

AltSvcHeader alt_svc_parse_fields(const std::vector<std::string_view>& lines) {
  std::string joined;
  for (std::string_view line : lines) {
    if (joined.size() + line.size() + 2 > kMaxAltSvcValueBytes) return {};
    if (!joined.empty()) joined.append(", ");
    joined.append(line);
  }
  return alt_svc_parse(joined);
}

}  // namespace ctn
