// Compiled as a source of the http1 room (linked to ctn_http1 alone): the includes its arrows allow
// build (ctest rooms_allow_http1_includes_common), so the refusals beside it are the arrows' doing.
#include "common/http_types.h"
#include "http1/response_parser.h"

namespace ctn {
size_t rooms_probe_header_limit() { return kMaxHeaderSectionBytes; }
}  // namespace ctn
