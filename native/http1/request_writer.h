// Serialises an HTTP/1.1 request head exactly as given: header names keep their casing and order,
// nothing is canonicalised, and nothing is added except what the caller asks for.
#pragma once

#include <string>
#include <string_view>

#include "core/http_types.h"

namespace ctn::http1 {

struct RequestHeadSpec {
  std::string_view method;  // e.g. "GET"
  std::string_view target;  // origin-form "/path?q" (or absolute-form for plain-HTTP proxies)
  const HeaderList* headers = nullptr;  // written in order, byte-exact
};

// Returns false (and writes nothing) when a method, target, header name or value contains bytes that
// would break framing (CR, LF, NUL; spaces in the method/target; separators in names).
bool write_request_head(const RequestHeadSpec& spec, std::string& out, std::string* why = nullptr);

// Chunked transfer-coding pieces, for streamed request bodies.
void write_chunk(std::string_view data, std::string& out);
void write_last_chunk(std::string& out);

}  // namespace ctn::http1
