// Plain data that crosses the rooms: what a request asks for and what comes back.
// Nothing here knows about sockets, TLS or Node.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ctn {

// What one response may make us hold, whatever the protocol (a hostile server must get a clean
// error, never the process's memory):
// - one header section (a head, an interim head, a trailer section): at most this many bytes and
//   fields. HTTP/1.1 counts the raw lines, status line included; HTTP/2 counts every decoded field
//   as name + value + 32, the entry size of RFC 7541 §4.1 that SETTINGS_MAX_HEADER_LIST_SIZE
//   measures (HPACK references make the decoded list far larger than the bytes on the wire).
inline constexpr size_t kMaxHeaderSectionBytes = 256 * 1024;
inline constexpr size_t kMaxHeaderFields = 512;
// - interim (1xx, other than 101) responses before the final one.
inline constexpr int kMaxInterimResponses = 16;

// Header names keep the caller's exact casing and order: both are part of a fingerprint.
struct Header {
  std::string name;
  std::string value;
};
using HeaderList = std::vector<Header>;

// Case-insensitive ASCII comparison, for header names.
bool iequals(std::string_view a, std::string_view b) noexcept;

// Returns the first header called `name` (case-insensitive), or nullptr.
const Header* find_header(const HeaderList& headers, std::string_view name) noexcept;

struct ResponseHead {
  int status = 0;
  std::string reason;
  int version_major = 1;
  int version_minor = 1;
  HeaderList headers;
};

}  // namespace ctn
