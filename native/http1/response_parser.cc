#include "http1/response_parser.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

namespace ctn::http1 {

namespace {

// RFC 9110 §5.6.2 tchar.
bool is_tchar(unsigned char c) noexcept {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// Reason phrases and field values: VCHAR, obs-text, SP, HTAB. Other control bytes (a lone CR or a
// NUL in particular) are what response-splitting tricks are made of, so they are refused.
bool is_field_text(std::string_view s) noexcept {
  for (unsigned char c : s) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return true;
}

// Calls fn(element) for each element of a comma-separated field value, OWS-trimmed. Empty
// elements are passed through so callers can decide whether they are acceptable.
template <typename Fn>
void for_each_element(std::string_view list, Fn&& fn) {
  while (true) {
    const size_t comma = list.find(',');
    fn(trim_ows(list.substr(0, comma)));
    if (comma == std::string_view::npos) return;
    list.remove_prefix(comma + 1);
  }
}

bool has_connection_token(const HeaderList& headers, std::string_view token) {
  bool found = false;
  for (const auto& h : headers) {
    if (!iequals(h.name, "connection")) continue;
    for_each_element(h.value, [&](std::string_view e) { found = found || iequals(e, token); });
  }
  return found;
}

std::string limit_message(const char* what, size_t limit) {
  return std::string(what) + " exceeds " + std::to_string(limit) + " bytes";
}

}  // namespace

ResponseParser::ResponseParser(ResponseListener& listener, ParserLimits limits)
    : listener_(listener), limits_(limits) {
  reset(false);
}

void ResponseParser::reset(bool head_request) {
  state_ = State::kStatusLine;
  status_ = Status::kOk;
  error_.clear();
  head_request_ = head_request;
  started_ = false;
  keep_alive_ = false;
  content_length_ = -1;
  remaining_ = 0;
  head_bytes_ = 0;
  interim_ = 0;
  line_.clear();  // keeps its capacity, so a reused parser does not reallocate per message
  line_taken_ = false;
  chunk_cr_seen_ = false;
  head_ = ResponseHead{};
  trailers_.clear();
}

size_t ResponseParser::fail(std::string message) {
  state_ = State::kError;
  status_ = Status::kError;
  error_ = std::move(message);
  return 0;
}

// Extracts one LF-terminated line starting at `pos`. A line that spans feed() calls is gathered in
// line_; a line wholly inside `bytes` is returned as a view of it without copying. Returns false
// when the line is not finished yet (everything is consumed) or a size limit was hit (kError).
bool ResponseParser::take_line(std::string_view bytes, size_t& pos, std::string_view& line) {
  if (line_taken_) {
    line_.clear();
    line_taken_ = false;
  }
  // Head and trailer lines share one budget per section; a chunk-size line (whose extensions could
  // otherwise be endless) gets a budget of its own.
  const char* what = "chunk size line";
  size_t used = 0;
  if (state_ == State::kStatusLine || state_ == State::kHeaderLine) {
    what = "header section";
    used = head_bytes_;
  } else if (state_ == State::kTrailerLine) {
    what = "trailer section";
    used = head_bytes_;
  }
  const size_t budget = limits_.max_head_bytes - std::min(used, limits_.max_head_bytes);

  const size_t avail = bytes.size() - pos;
  const char* start = bytes.data() + pos;
  const void* lf = std::memchr(start, '\n', avail);
  const size_t take = lf ? static_cast<size_t>(static_cast<const char*>(lf) - start) + 1 : avail;
  const size_t raw = line_.size() + take;
  if (raw > budget) {
    fail(limit_message(what, limits_.max_head_bytes));
    return false;
  }
  if (lf == nullptr) {
    line_.append(start, take);
    pos += take;
    return false;
  }
  std::string_view out;
  if (line_.empty()) {
    out = std::string_view(start, take - 1);
  } else {
    line_.append(start, take - 1);
    out = line_;
    line_taken_ = true;
  }
  pos += take;
  if (!out.empty() && out.back() == '\r') out.remove_suffix(1);
  if (state_ != State::kChunkSize) head_bytes_ += raw;
  line = out;
  return true;
}

bool ResponseParser::parse_status_line(std::string_view line) {
  // HTTP-version SP 3DIGIT [ SP reason-phrase ]; the space before an empty reason is optional in
  // practice even though RFC 9112 requires it.
  if (line.size() < 12 || line.substr(0, 5) != "HTTP/" || !is_digit(line[5]) || line[6] != '.' ||
      !is_digit(line[7]) || line[8] != ' ') {
    fail("invalid status line");
    return false;
  }
  const int major = line[5] - '0';
  const int minor = line[7] - '0';
  if (major != 1 || minor > 1) {
    fail("unsupported HTTP version");
    return false;
  }
  if (!is_digit(line[9]) || !is_digit(line[10]) || !is_digit(line[11]) ||
      (line.size() > 12 && line[12] != ' ')) {
    fail("invalid status code");
    return false;
  }
  const int status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  if (status < 100) {
    fail("invalid status code");
    return false;
  }
  const std::string_view reason = line.size() > 12 ? line.substr(13) : std::string_view();
  if (!is_field_text(reason)) {
    fail("invalid character in reason phrase");
    return false;
  }
  head_.version_major = major;
  head_.version_minor = minor;
  head_.status = status;
  head_.reason.assign(reason);
  return true;
}

bool ResponseParser::parse_header_line(std::string_view line, HeaderList& into) {
  if (is_ows(line.front())) {
    fail("obsolete header line folding is not supported");
    return false;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    fail("header line without a colon");
    return false;
  }
  const std::string_view name = line.substr(0, colon);
  if (name.empty()) {
    fail("empty header name");
    return false;
  }
  for (char c : name) {
    if (is_tchar(static_cast<unsigned char>(c))) continue;
    // Whitespace between name and colon is a classic smuggling vector (RFC 9112 §5.1).
    fail(is_ows(c) ? "whitespace before colon in header line" : "invalid character in header name");
    return false;
  }
  const std::string_view value = trim_ows(line.substr(colon + 1));
  if (!is_field_text(value)) {
    fail("invalid character in header value");
    return false;
  }
  if (into.size() >= limits_.max_headers) {
    fail("too many header fields (max " + std::to_string(limits_.max_headers) + ")");
    return false;
  }
  into.push_back(Header{std::string(name), std::string(value)});
  return true;
}

// Picks the body framing for a final response with a body, per RFC 9112 §6.3 (items 3-7; the
// bodiless cases are handled by the caller).
bool ResponseParser::choose_body_framing() {
  const HeaderList& headers = head_.headers;
  bool has_te = false;
  std::string_view last_coding;
  for (const auto& h : headers) {
    if (!iequals(h.name, "transfer-encoding")) continue;
    has_te = true;
    for_each_element(h.value, [&](std::string_view e) {
      if (!e.empty()) last_coding = e;
    });
  }
  const bool has_cl = find_header(headers, "content-length") != nullptr;

  if (has_te) {
    if (last_coding.empty()) {
      fail("invalid transfer-encoding");
      return false;
    }
    const std::string_view coding = trim_ows(last_coding.substr(0, last_coding.find(';')));
    // Both framings present, or transfer-coding on HTTP/1.0, means an intermediary may have seen
    // different message boundaries than we do; use the message, but never reuse the connection.
    if (has_cl || head_.version_minor == 0) keep_alive_ = false;
    if (iequals(coding, "chunked")) {
      state_ = State::kChunkSize;
    } else {
      // A response whose final coding is not chunked runs until the connection closes.
      state_ = State::kBodyClose;
      keep_alive_ = false;
    }
    return true;
  }

  if (has_cl) {
    bool have = false;
    uint64_t length = 0;
    for (const auto& h : headers) {
      if (!iequals(h.name, "content-length")) continue;
      bool ok = true;
      for_each_element(h.value, [&](std::string_view e) {
        if (!ok) return;
        if (e.empty()) {
          ok = false;
          return;
        }
        uint64_t v = 0;
        for (char c : e) {
          if (!is_digit(c) ||
              v > (static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) - (c - '0')) / 10) {
            ok = false;
            return;
          }
          v = v * 10 + static_cast<uint64_t>(c - '0');
        }
        if (have && v != length) {
          ok = false;
          return;
        }
        have = true;
        length = v;
      });
      if (!ok) {
        fail("invalid content-length");
        return false;
      }
    }
    content_length_ = static_cast<int64_t>(length);
    remaining_ = length;
    state_ = length == 0 ? State::kDone : State::kBodyLength;
    return true;
  }

  state_ = State::kBodyClose;
  keep_alive_ = false;
  return true;
}

// Called at the blank line ending a head. Leaves state_ at the next state; kDone means the caller
// must report on_complete.
bool ResponseParser::on_headers_done() {
  const int status = head_.status;
  if (status >= 100 && status < 200 && status != 101) {
    // Interim responses are invisible to the listener; the final head follows on the wire. Each
    // has a budget of its own, so their number is what bounds a server that never ends them.
    if (++interim_ > limits_.max_interim) {
      fail("more than " + std::to_string(limits_.max_interim) + " interim (1xx) responses");
      return false;
    }
    head_ = ResponseHead{};
    head_bytes_ = 0;
    state_ = State::kStatusLine;
    return true;
  }

  if (head_.version_minor >= 1) {
    keep_alive_ = !has_connection_token(head_.headers, "close");
  } else {
    keep_alive_ =
        has_connection_token(head_.headers, "keep-alive") && !has_connection_token(head_.headers, "close");
  }

  if (status == 101) {
    // What follows is another protocol, not a body; the connection is no longer HTTP/1.
    keep_alive_ = false;
    state_ = State::kDone;
  } else if (head_request_ || status == 204 || status == 304) {
    content_length_ = 0;
    state_ = State::kDone;
  } else if (!choose_body_framing()) {
    return false;
  }
  listener_.on_head(std::move(head_));
  return true;
}

bool ResponseParser::parse_chunk_size(std::string_view line) {
  size_t i = 0;
  uint64_t size = 0;
  for (; i < line.size(); ++i) {
    const int d = hex_value(line[i]);
    if (d < 0) break;
    if (size > (std::numeric_limits<uint64_t>::max() >> 4)) {
      fail("chunk size too large");
      return false;
    }
    size = (size << 4) | static_cast<uint64_t>(d);
  }
  if (i == 0) {
    fail("invalid chunk size");
    return false;
  }
  // Some servers pad the size with spaces; anything after ';' is an extension we do not use.
  while (i < line.size() && is_ows(line[i])) ++i;
  if (i < line.size() && line[i] != ';') {
    fail("invalid chunk size");
    return false;
  }
  remaining_ = size;
  return true;
}

uint64_t ResponseParser::framed_body_left() const noexcept {
  return state_ == State::kBodyLength || state_ == State::kChunkData ? remaining_ : 0;
}

void ResponseParser::body_placed(size_t n) {
  remaining_ -= n;
  if (remaining_ != 0) return;
  if (state_ == State::kChunkData) {
    state_ = State::kChunkDataEnd;
    chunk_cr_seen_ = false;
  } else {
    state_ = State::kDone;
    listener_.on_complete();
  }
}

void ResponseParser::skip_body(size_t n) {
  const uint64_t left = framed_body_left();
  if (n == 0 || left == 0) return;
  body_placed(static_cast<size_t>(std::min<uint64_t>(n, left)));
}

size_t ResponseParser::feed(std::string_view bytes) {
  if (state_ == State::kDone || state_ == State::kError) return 0;
  if (!bytes.empty()) started_ = true;
  size_t pos = 0;
  std::string_view line;
  while (pos < bytes.size()) {
    switch (state_) {
      case State::kStatusLine:
        if (!take_line(bytes, pos, line)) return pos;
        // Tolerate stray blank lines before a status line (e.g. a spare CRLF after a body).
        if (line.empty()) break;
        if (!parse_status_line(line)) return pos;
        state_ = State::kHeaderLine;
        break;

      case State::kHeaderLine:
        if (!take_line(bytes, pos, line)) return pos;
        if (!line.empty()) {
          if (!parse_header_line(line, head_.headers)) return pos;
          break;
        }
        if (!on_headers_done()) return pos;
        if (state_ == State::kDone) {
          listener_.on_complete();
          return pos;
        }
        break;

      case State::kBodyLength:
      case State::kChunkData: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, bytes.size() - pos));
        listener_.on_body(bytes.substr(pos, n));
        pos += n;
        body_placed(n);
        if (state_ == State::kDone) return pos;
        break;
      }

      case State::kBodyClose:
        listener_.on_body(bytes.substr(pos));
        pos = bytes.size();
        break;

      case State::kChunkSize:
        if (!take_line(bytes, pos, line)) return pos;
        if (!parse_chunk_size(line)) return pos;
        if (remaining_ == 0) {
          state_ = State::kTrailerLine;
          head_bytes_ = 0;
        } else {
          state_ = State::kChunkData;
        }
        break;

      case State::kChunkDataEnd: {
        // Checked byte by byte rather than via take_line so garbage is refused at once instead of
        // being buffered up to the line limit.
        const char c = bytes[pos];
        if (c == '\n') {
          ++pos;
          state_ = State::kChunkSize;
        } else if (c == '\r' && !chunk_cr_seen_) {
          ++pos;
          chunk_cr_seen_ = true;
        } else {
          fail("missing CRLF after chunk data");
          return pos;
        }
        break;
      }

      case State::kTrailerLine:
        if (!take_line(bytes, pos, line)) return pos;
        if (!line.empty()) {
          if (!parse_header_line(line, trailers_)) return pos;
          break;
        }
        if (!trailers_.empty()) {
          listener_.on_trailers(std::move(trailers_));
          trailers_.clear();  // a moved-from vector is valid but unspecified
        }
        state_ = State::kDone;
        listener_.on_complete();
        return pos;

      case State::kDone:
      case State::kError:
        return pos;
    }
  }
  return pos;
}

bool ResponseParser::finish_eof() {
  switch (state_) {
    case State::kDone:
      return true;
    case State::kError:
      return false;
    case State::kBodyClose:
      state_ = State::kDone;
      listener_.on_complete();
      return true;
    case State::kStatusLine:
      if (!started_) {
        fail("connection closed before any response bytes");
        return false;
      }
      fail("connection closed before the response head was complete");
      return false;
    case State::kHeaderLine:
      fail("connection closed before the response head was complete");
      return false;
    default:
      fail("connection closed before the response body was complete");
      return false;
  }
}

}  // namespace ctn::http1
