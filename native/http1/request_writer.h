// Serialises an HTTP/1.1 request head exactly as given: header names keep their casing and order,
// nothing is canonicalised, and nothing is added except what the caller asks for. The one rewrite,
// asked for explicitly: a preset's HTTP/2 headers re-spelled as the browser writes them on HTTP/1.1.
#pragma once

#include <string>
#include <string_view>

#include "common/http_types.h"

namespace ctn::http1 {

struct RequestHeadSpec {
  std::string_view method;              // e.g. "GET"
  std::string_view target;              // origin-form "/path?q" (or absolute-form for plain-HTTP proxies)
  const HeaderList* headers = nullptr;  // written in order, byte-exact
  // Set when `headers` are a browser preset's HTTP/2 defaults merged with the caller's (an https
  // request whose protocol ALPN chose): the preset's HTTP/2 and HTTP/1.1 lists. The head is then
  // written as respell_preset_headers() gives it, the way the browser writes HTTP/1.1.
  const HeaderList* preset_http2 = nullptr;
  const HeaderList* preset_http1 = nullptr;
};

// `headers` were built from `preset_http2` (the preset's headers in its order, each replaced in place
// by a caller's header of the same name, the caller's other headers after them); returns what the same
// merge onto `preset_http1` gives, which is what the browser sends on HTTP/1.1:
//  - headers spelled exactly as the preset's HTTP/2 list spells them take the HTTP/1.1 spelling
//    ("user-agent" -> "User-Agent"), and its value too when the value is the preset's own; a name
//    the caller spelled differently keeps the caller's spelling (and value);
//  - they go in the HTTP/1.1 order; headers only HTTP/1.1 has (Connection: keep-alive) are inserted
//    there, unless the caller sent one of that name, which then takes that place;
//  - preset headers only HTTP/2 has (Chrome's priority, Firefox's te) go, unless the caller changed
//    their value;
//  - what came before the first preset header (Host, added by the engine) stays first, and the
//    caller's other headers follow in their order.
// A caller's header named like a preset one but spelled in the preset's HTTP/2 spelling cannot be
// told apart from the preset's and is re-spelled too.
HeaderList respell_preset_headers(const HeaderList& headers, const HeaderList& preset_http2,
                                  const HeaderList& preset_http1);

// Returns false (and writes nothing) when a method, target, header name or value contains bytes that
// would break framing (CR, LF, NUL; spaces in the method/target; separators in names).
bool write_request_head(const RequestHeadSpec& spec, std::string& out, std::string* why = nullptr);

// Chunked transfer-coding pieces, for streamed request bodies.
void write_chunk(std::string_view data, std::string& out);
void write_last_chunk(std::string& out);

}  // namespace ctn::http1
