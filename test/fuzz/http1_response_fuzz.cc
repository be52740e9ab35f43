// HTTP/1.x response parser (native/http1/response_parser) fed a server's bytes: status lines,
// headers, content-length / chunked (extensions, trailers) / close-delimited bodies, 1xx interim
// responses, and several responses back to back on one keep-alive connection.
//
// Input: one control byte, then the server's bytes.
//   bits 0-3  read size: 0 = everything at once, else pieces of that many bytes
//   bit 4     the request was HEAD (every response bodiless)
//   bit 5     tight limits (1 KiB head, 8 headers) so the limit paths are reached quickly
//   bit 6     the caller places framed body bytes itself (skip_body), as the HTTP/1.1 channel's
//             reads straight into the body do
#include <algorithm>
#include <cstdint>
#include <string_view>

#include "fuzz_input.h"
#include "http1/response_parser.h"

namespace {

// Checks the listener contract the connection relies on; a breach is a bug, so it traps.
class CheckingListener : public ctn::http1::ResponseListener {
 public:
  void on_head(ctn::ResponseHead&& head) override {
    if (has_head_ || complete_) __builtin_trap();
    has_head_ = true;
  }
  void on_body(std::string_view bytes) override {
    if (!has_head_ || complete_ || bytes.empty()) __builtin_trap();
    body_bytes_ += bytes.size();
  }
  void on_trailers(ctn::HeaderList&& trailers) override {
    if (!has_head_ || complete_) __builtin_trap();
  }
  // Body bytes the caller placed without feeding them (skip_body).
  void placed(size_t n) {
    if (!has_head_ || complete_ || n == 0) __builtin_trap();
    body_bytes_ += n;
  }
  void on_complete() override {
    if (complete_) __builtin_trap();
    complete_ = true;
  }
  void next_message() { has_head_ = complete_ = false, body_bytes_ = 0; }
  bool complete() const { return complete_; }
  uint64_t body_bytes() const { return body_bytes_; }

 private:
  bool has_head_ = false;
  bool complete_ = false;
  uint64_t body_bytes_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ctn::fuzz::FuzzInput input(data, size);
  const uint8_t control = input.control();
  const bool head_request = control & 0x10;
  const bool place_body = control & 0x40;
  ctn::http1::ParserLimits limits;
  if (control & 0x20) limits = ctn::http1::ParserLimits{1024, 8};

  CheckingListener listener;
  ctn::http1::ResponseParser parser(listener, limits);
  parser.reset(head_request);
  bool failed = false;
  ctn::fuzz::in_pieces(input.rest(), control & 0x0f, [&](std::string_view piece) {
    // A keep-alive connection: what one response leaves over starts the next one.
    while (!piece.empty()) {
      const uint64_t framed = place_body ? parser.framed_body_left() : 0;
      size_t used;
      if (framed > 0) {
        used = static_cast<size_t>(std::min<uint64_t>(framed, piece.size()));
        listener.placed(used);
        parser.skip_body(used);
      } else {
        used = parser.feed(piece);
      }
      if (used > piece.size()) __builtin_trap();
      if (parser.status() == ctn::http1::ResponseParser::Status::kError) return !(failed = true);
      if (!parser.complete()) {
        if (used == piece.size()) return true;
        if (framed == 0) __builtin_trap();  // an incomplete message takes everything fed
        piece.remove_prefix(used);          // framing follows the placed bytes
        continue;
      }
      if (parser.content_length() >= 0 && listener.body_bytes() > uint64_t(parser.content_length())) {
        __builtin_trap();
      }
      if (!parser.keep_alive()) return false;
      piece.remove_prefix(used);
      parser.reset(head_request);
      listener.next_message();
    }
    return true;
  });
  if (!failed) parser.finish_eof();
  return 0;
}
