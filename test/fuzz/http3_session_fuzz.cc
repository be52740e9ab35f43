// The HTTP/3 client session (native/http3/session) fed a server's streams, set up as the QUIC
// connection sets it up: a preset's Http3Profile (SETTINGS, GREASE, lazy or early QPACK streams,
// its QPACK insertion policy), one to four requests submitted before the server speaks. Output
// (control, QPACK and request streams) is taken, counted as sent and acknowledged after every
// read. At the end QUIC "closes" every request stream still open, and every request must have been
// reported closed exactly once, with no head or data after that: the contract the connection
// object relies on. A session that fails (a connection error) is left as the connection leaves it.
//
// Input: one control byte, then records of [selector][length][length bytes]:
//   control bits 0-3  the preset (index into profile_ids(), modulo their count)
//           bits 4-5  extra requests (0-3)
//   selector bits 0-2 the stream: server control 3, QPACK encoder 7, decoder 11, requests 0, 4, 8,
//                     12, an unknown server unidirectional stream 15
//            bit 3    FIN after the bytes
//            bit 4    QUIC closes the stream after the bytes (bit 5: with H3_REQUEST_CANCELLED)
//            bit 6    the server resets the stream's receiving side before the bytes
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_input.h"
#include "http3/session.h"
#include "profiles/profile.h"

namespace {

class Listener : public ctn::http3::SessionListener {
 public:
  int64_t next_uni = 2;
  std::map<int64_t, int> closes;  // request stream -> times reported closed
  std::map<int64_t, bool> heads;

  int64_t open_uni_stream() override {
    const int64_t id = next_uni;
    next_uni += 4;
    return id;
  }
  void on_head(int64_t stream, ctn::ResponseHead&& head) override {
    if (closes.count(stream) == 0 || closes[stream] != 0 || heads[stream]) __builtin_trap();
    if (head.status < 200) __builtin_trap();  // 1xx heads are skipped
    heads[stream] = true;
  }
  void on_data(int64_t stream, std::string_view) override {
    if (!heads[stream] || closes[stream] != 0) __builtin_trap();
  }
  void on_stream_closed(int64_t stream, const ctn::http3::StreamClose& close) override {
    if (closes.count(stream) == 0) __builtin_trap();  // never submitted
    if (++closes[stream] != 1) __builtin_trap();      // reported twice
    if (close.response_complete && (!heads[stream] || close.error_code != 0)) __builtin_trap();
  }
  void on_consumed(int64_t, size_t) override {}
};

constexpr int64_t kStreams[8] = {3, 7, 11, 0, 4, 8, 12, 15};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<std::string> presets = ctn::profile_ids();
  ctn::fuzz::FuzzInput input(data, size);
  const uint8_t control = input.control();
  const ctn::Profile& profile = *ctn::find_profile(presets[(control & 0x0f) % presets.size()]);

  Listener listener;
  ctn::http3::ClientSession session(listener, profile.http3, [n = uint64_t{0x9e3779b97f4a7c15}]() mutable {
    return n = n * 6364136223846793005u + 1442695040888963407u;  // GREASE, reproducibly
  });
  const int64_t control_stream = listener.open_uni_stream();
  int64_t encoder = -1, decoder = -1;
  if (session.qpack_streams_at_start()) {
    encoder = listener.open_uni_stream();
    decoder = listener.open_uni_stream();
  }
  std::string why;
  if (!session.start(control_stream, encoder, decoder, &why)) __builtin_trap();  // every preset starts

  const ctn::HeaderList& headers = ctn::profile_headers(profile, ctn::HeaderSet::kHttp3);
  const int requests = 1 + ((control >> 4) & 3);
  for (int i = 0; i < requests; ++i) {
    if (!session.submit_request(4 * i, "GET", "https", "example.com", "/", headers, &why)) __builtin_trap();
    listener.closes[4 * i] = 0;
  }
  const auto drain = [&] {
    for (int rounds = 0; rounds < 64; ++rounds) {
      const std::optional<ctn::http3::Output> out = session.next_output();
      if (!out) return;
      const size_t n = out->size();
      if (!session.sent(out->stream, n) || !session.acked(out->stream, n)) return;
      if (n == 0) return;  // a bare FIN
    }
  };
  drain();

  ctn::fuzz::FuzzInput records(reinterpret_cast<const uint8_t*>(input.rest().data()), input.rest().size());
  while (!records.rest().empty() && !session.failed()) {
    const uint8_t selector = records.control();
    const size_t length = records.control();
    const std::string_view bytes = records.rest().substr(0, length);
    records = ctn::fuzz::FuzzInput(reinterpret_cast<const uint8_t*>(records.rest().data() + bytes.size()),
                                   records.rest().size() - bytes.size());
    const int64_t stream = kStreams[selector & 7];
    if (selector & 0x40) session.stream_reset(stream);
    if (!session.receive(stream, bytes, selector & 0x08, &why)) break;
    if ((selector & 0x10) &&
        !session.stream_closed(stream, (selector & 0x20) ? ctn::http3::kRequestCancelled : 0, &why)) {
      break;
    }
    drain();
  }
  if (session.failed()) return 0;  // the connection closes: nothing more is reported
  for (const auto& [stream, count] : listener.closes) {
    if (count == 0 && !session.stream_closed(stream, ctn::http3::kNoError, &why)) return 0;
  }
  for (const auto& [stream, count] : listener.closes) {
    if (count != 1) __builtin_trap();
  }
  return 0;
}
