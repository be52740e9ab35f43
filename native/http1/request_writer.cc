#include "http1/request_writer.h"

#include <string>
#include <utility>
#include <vector>

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

const Header* find_in(const HeaderList& list, std::string_view name) noexcept {
  for (const Header& h : list) {
    if (iequals(h.name, name)) return &h;
  }
  return nullptr;
}

}  // namespace

HeaderList respell_preset_headers(const HeaderList& headers, const HeaderList& preset_http2,
                                  const HeaderList& preset_http1) {
  // Which of `headers` fill a slot of the HTTP/2 preset list (the first of each name does), and
  // whether they still carry the preset's spelling and value.
  struct Slot {
    const Header* preset = nullptr;  // the HTTP/2 preset entry; nullptr: not a slot
    bool spelled = false;            // name byte-identical to the preset's
    bool untouched = false;          // and the value too
  };
  std::vector<Slot> slots(headers.size());
  std::vector<bool> used(headers.size(), false);
  size_t first_slot = headers.size();
  for (size_t i = 0; i < headers.size(); ++i) {
    const Header* q = find_in(preset_http2, headers[i].name);
    if (q == nullptr) continue;
    bool taken = false;
    for (size_t j = 0; j < i && !taken; ++j) taken = slots[j].preset == q;
    if (taken) continue;  // a repeated header: the caller's extra, not the preset's
    slots[i].preset = q;
    slots[i].spelled = headers[i].name == q->name;
    slots[i].untouched = slots[i].spelled && headers[i].value == q->value;
    if (first_slot == headers.size()) first_slot = i;
  }

  HeaderList out;
  out.reserve(headers.size() + preset_http1.size());
  for (size_t i = 0; i < first_slot; ++i) {  // Host, as the engine put it first
    out.push_back(headers[i]);
    used[i] = true;
  }
  for (const Header& p : preset_http1) {
    size_t hit = headers.size();
    for (size_t i = first_slot; i < headers.size() && hit == headers.size(); ++i) {
      if (!used[i] && slots[i].preset != nullptr && iequals(headers[i].name, p.name)) hit = i;
    }
    // A header only HTTP/1.1 has (Connection) that the caller sent anyway takes the preset's place.
    for (size_t i = first_slot; i < headers.size() && hit == headers.size(); ++i) {
      if (!used[i] && slots[i].preset == nullptr && iequals(headers[i].name, p.name)) hit = i;
    }
    if (hit == headers.size()) {
      // Absent: an HTTP/1.1-only preset header is added; one the HTTP/2 list has was removed.
      if (find_in(preset_http2, p.name) == nullptr) out.push_back(p);
      continue;
    }
    used[hit] = true;
    const Header& h = headers[hit];
    const Slot& s = slots[hit];
    out.push_back(Header{s.spelled ? p.name : h.name, s.untouched ? p.value : h.value});
  }
  for (size_t i = first_slot; i < headers.size(); ++i) {
    if (used[i]) continue;
    // An HTTP/2-only preset header (no HTTP/1.1 counterpart) goes; a caller's stays.
    if (slots[i].untouched && find_in(preset_http1, headers[i].name) == nullptr) continue;
    out.push_back(headers[i]);
  }
  return out;
}

bool write_request_head(const RequestHeadSpec& spec, std::string& out, std::string* why) {
  HeaderList respelled;
  const HeaderList* headers = spec.headers;
  if (headers != nullptr && spec.preset_http2 != nullptr && spec.preset_http1 != nullptr) {
    respelled = respell_preset_headers(*headers, *spec.preset_http2, *spec.preset_http1);
    headers = &respelled;
  }
  // Validate everything before touching `out` so a refusal leaves it exactly as it was.
  if (!is_token(spec.method)) return reject(why, "invalid request method");
  if (!is_valid_target(spec.target)) return reject(why, "invalid request target");
  size_t size = spec.method.size() + 1 + spec.target.size() + 11 + 2;
  if (headers != nullptr) {
    for (size_t i = 0; i < headers->size(); ++i) {
      const Header& h = (*headers)[i];
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
  if (headers != nullptr) {
    for (const Header& h : *headers) {
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
