// The HTTP/2 client session (native/http2/session) fed a server's bytes, set up as the engine sets
// it up: a preset's Http2Profile, manual flow control (windows reopen as the caller consumes), one
// to four requests (GET, POST with a body, a streamed upload) submitted before the server speaks.
// Output (preface, SETTINGS, ACKs, WINDOW_UPDATEs, RST_STREAMs) is produced and dropped after
// every read. At the end the connection "closes" and every request must have been reported closed
// exactly once: the contract the engine's connection object relies on.
//
// Input: two control bytes, then the server's byte stream (its SETTINGS first).
//   byte 0, bits 0-3  the preset (index into profile_ids(), modulo their count)
//           bit 4     automatic flow control instead of the engine's manual one
//           bit 5     reset each stream as soon as its head arrives (as a cancelled request)
//           bits 6-7  extra requests: 1 POST with a body, 2 + a streamed upload, 3 + another GET
//   byte 1            read size: 0 = everything at once, else pieces of that many bytes
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_input.h"
#include "http2/session.h"
#include "profiles/profile.h"

namespace {

using ctn::http2::ClientSession;
using ctn::http2::StreamClose;

class Listener : public ctn::http2::SessionListener {
 public:
  ClientSession* session = nullptr;
  bool manual_flow_control = true;
  bool reset_on_head = false;
  std::map<int32_t, int> closes;  // stream -> times reported closed
  std::map<int32_t, bool> heads;

  void on_head(int32_t stream, ctn::ResponseHead&& head) override {
    if (closes.count(stream) == 0 || closes[stream] != 0 || heads[stream]) __builtin_trap();
    heads[stream] = true;
    if (reset_on_head) session->reset_stream(stream);
  }
  void on_data(int32_t stream, std::string_view bytes) override {
    if (!heads[stream] || closes[stream] != 0) __builtin_trap();
    if (manual_flow_control) session->consume(stream, bytes.size());
  }
  void on_trailers(int32_t stream, ctn::HeaderList&& trailers) override {
    if (!heads[stream] || closes[stream] != 0) __builtin_trap();
  }
  void on_stream_closed(int32_t stream, const StreamClose& close) override {
    if (closes.count(stream) == 0) __builtin_trap();  // never submitted
    if (++closes[stream] != 1) __builtin_trap();      // reported twice
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<std::string> presets = ctn::profile_ids();
  ctn::fuzz::FuzzInput input(data, size);
  const uint8_t control = input.control();
  const size_t piece = input.control();
  const ctn::Profile& profile = *ctn::find_profile(presets[(control & 0x0f) % presets.size()]);

  Listener listener;
  listener.manual_flow_control = !(control & 0x10);
  listener.reset_on_head = control & 0x20;
  ClientSession::Options options;
  options.manual_flow_control = listener.manual_flow_control;
  ClientSession session(profile.http2, listener, options);
  listener.session = &session;
  std::string why;
  if (!session.start(&why)) __builtin_trap();  // every preset starts

  const ctn::HeaderList headers = profile.headers;
  const auto submit = [&](std::string_view method, std::string body, bool body_follows) {
    const int32_t id = session.submit_request(method, "https", "example.com", "/", headers, std::move(body),
                                              &why, body_follows);
    if (id < 0) __builtin_trap();
    listener.closes[id] = 0;
    return id;
  };
  submit("GET", {}, false);
  const int extra = control >> 6;
  if (extra >= 1) submit("POST", std::string(100, 'x'), false);
  const int32_t upload = extra >= 2 ? submit("POST", {}, true) : -1;
  if (extra >= 3) submit("GET", {}, false);

  std::string out;
  const auto drain = [&] {
    for (int rounds = 0; rounds < 64 && session.produce(out); ++rounds) out.clear();
    out.clear();
  };
  drain();
  bool upload_ended = false;
  ctn::fuzz::in_pieces(input.rest(), piece, [&](std::string_view bytes) {
    if (!session.receive(bytes, &why)) return false;
    if (upload > 0 && !upload_ended) {
      session.append_request_body(upload, std::string(5000, 'u'), true);
      upload_ended = true;
    }
    drain();
    return session.want_read() || session.want_write();
  });
  session.close_all_streams(ctn::http2::kInternalError);
  drain();
  for (const auto& [stream, count] : listener.closes) {
    if (count != 1) __builtin_trap();
  }
  return 0;
}
