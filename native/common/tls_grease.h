// RFC 8701's GREASE values for TLS code points (cipher suites, extensions, groups, signature
// algorithms, versions): 0x?a?a with both bytes equal. Profiles read and write them; fingerprints
// leave them out.
#pragma once

#include <cstdint>

namespace ctn {

inline constexpr bool is_tls_grease(uint32_t v) { return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff); }

}  // namespace ctn
