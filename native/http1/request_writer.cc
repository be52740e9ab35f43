#include "http1/request_writer.h"

#include <string>
#include <utility>

namespace ctn::http1 {

namespace {

// RFC 9110 §5.6.2 tchar.
bool is_tchar(unsigned char c) noexcept {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (!is_tchar(c)) return false;
  }
  return true;
}

// The target is delimited by single spaces on the request line, so any whitespace or control byte
// in it would let the peer see a different line than the caller meant.
bool is_valid_target(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (c <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

// Only bytes that end or corrupt the line are refused; everything else is sent byte-exact because
// the exact bytes are part of what the caller is reproducing.
bool is_valid_value(std::string_view s) noexcept {
  for (char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

bool reject(std::string* why, std::string message) {
  if (why != nullptr) *why = std::move(message);
  return false;
}

}  // namespace

bool write_request_head(const RequestHeadSpec& spec, std::string& out, std::string* why) {
  // Validate everything before touching `out` so a refusal leaves it exactly as it was.
  if (!is_token(spec.method)) return reject(why, "invalid request method");
  if (!is_valid_target(spec.target)) return reject(why, "invalid request target");
  size_t size = spec.method.size() + 1 + spec.target.size() + 11 + 2;
  if (spec.headers != nullptr) {
    for (size_t i = 0; i < spec.headers->size(); ++i) {
      const Header& h = (*spec.headers)[i];
      if (!is_token(h.name)) {
        return reject(why, "invalid header name (header #" + std::to_string(i) + ")");
      }
      if (!is_valid_value(h.value)) return reject(why, "invalid value for header " + h.name);
      size += h.name.size() + 2 + h.value.size() + 2;
    }
  }

  out.reserve(out.size() + size);
  out.append(spec.method);
  out.push_back(' ');
  out.append(spec.target);
  out.append(" HTTP/1.1\r\n");
  if (spec.headers != nullptr) {
    for (const Header& h : *spec.headers) {
      out.append(h.name);
      out.append(": ");
      out.append(h.value);
      out.append("\r\n");
    }
  }
  out.append("\r\n");
  return true;
}

void write_chunk(std::string_view data, std::string& out) {
  // A zero-length chunk would be read as the last chunk, ending the body early.
  if (data.empty()) return;
  static constexpr char kHex[] = "0123456789abcdef";
  char digits[2 * sizeof(size_t)];
  size_t n = 0;
  for (size_t v = data.size(); v != 0; v >>= 4) digits[n++] = kHex[v & 0xf];
  out.reserve(out.size() + n + 2 + data.size() + 2);
  while (n > 0) out.push_back(digits[--n]);
  out.append("\r\n");
  out.append(data);
  out.append("\r\n");
}

void write_last_chunk(std::string& out) { out.append("0\r\n\r\n"); }

}  // namespace ctn::http1
