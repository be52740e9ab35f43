// Plain data that crosses the rooms: what a request asks for and what comes back.
// Nothing here knows about sockets, TLS or Node.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ctn {

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
