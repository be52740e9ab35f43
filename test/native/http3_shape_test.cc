// The bytes each preset's HTTP/3 layer writes (http3 and profiles alone, no QUIC): the control
// stream (SETTINGS order, values and varint widths, the GREASE setting and frame over many
// sessions), PRIORITY_UPDATE, the QPACK encoder and decoder streams and the request HEADERS,
// against a peer whose SETTINGS allow no dynamic table (caddy) and one that allows 4096 (ngtcp2's
// server). The expected bytes are those of ../shared/fingerprints/quic (the connection each test
// names); HEADERS are decoded back with nghttp3's QPACK decoder and by their representations.
#include <gtest/gtest.h>

#include <nghttp3/nghttp3.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "http3/frames.h"
#include "http3/session.h"
#include "profiles/profile.h"

namespace {

using namespace ctn;

constexpr char kChromeHeadlessUa[] =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 "
    "Safari/537.36";

std::string hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) out += {digits[c >> 4], digits[c & 15]};
  return out;
}

std::string unhex(std::string_view h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  return out;
}

// A QUIC varint at `pos`; its width in *width.
uint64_t read_varint(std::string_view b, size_t& pos, size_t* width = nullptr) {
  const auto first = static_cast<uint8_t>(b.at(pos));
  const size_t n = size_t{1} << (first >> 6);
  uint64_t v = first & 0x3f;
  for (size_t i = 1; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(b.at(pos + i));
  pos += n;
  if (width) *width = n;
  return v;
}

// A QPACK prefixed integer (RFC 9204 §4.1.1) whose prefix is the low `bits` of b[pos].
uint64_t read_prefixed(std::string_view b, size_t& pos, int bits) {
  const uint64_t mask = (uint64_t{1} << bits) - 1;
  uint64_t v = static_cast<uint8_t>(b.at(pos++)) & mask;
  if (v < mask) return v;
  for (int shift = 0;; shift += 7) {
    const auto c = static_cast<uint8_t>(b.at(pos++));
    v += uint64_t{c & 0x7fu} << shift;
    if (!(c & 0x80)) return v;
  }
}

// Skips a string literal whose H bit is bit `bits` of b[pos]; "h" or "r" for Huffman or raw.
std::string skip_string(std::string_view b, size_t& pos, int bits) {
  const bool huffman = static_cast<uint8_t>(b.at(pos)) & (1u << bits);
  pos += read_prefixed(b, pos, bits);
  return huffman ? "h" : "r";
}

struct HeaderBlock {
  uint64_t frame_length = 0;
  uint64_t encoded_required_insert_count = 0;
  std::string base_byte;  // hex of the sign bit and delta base
  std::vector<std::string> representations;
};

// The representations of a request stream's HEADERS frame: S<i> indexed static, D<i> indexed
// dynamic (relative), P<i> post-base; NS<i>:<h|r> literal with a static name reference, ND<i>,
// NP<i> the same with dynamic / post-base names; L:<name h|r><value h|r> literal name. A set N bit
// (never index) adds "!".
HeaderBlock parse_headers_frame(std::string_view stream) {
  HeaderBlock block;
  size_t pos = 0;
  EXPECT_EQ(read_varint(stream, pos), 0x01u) << "HEADERS";
  block.frame_length = read_varint(stream, pos);
  EXPECT_EQ(pos + block.frame_length, stream.size()) << "one HEADERS frame and nothing else";
  block.encoded_required_insert_count = read_prefixed(stream, pos, 8);
  const size_t base_start = pos;
  read_prefixed(stream, pos, 7);
  block.base_byte = hex(stream.substr(base_start, pos - base_start));
  while (pos < stream.size()) {
    const auto b = static_cast<uint8_t>(stream[pos]);
    std::string r;
    if (b & 0x80) {
      r = ((b & 0x40) ? "S" : "D") + std::to_string(read_prefixed(stream, pos, 6));
    } else if ((b & 0xc0) == 0x40) {
      const bool never = b & 0x20;
      r = ((b & 0x10) ? "NS" : "ND") + std::to_string(read_prefixed(stream, pos, 4));
      r += ":" + skip_string(stream, pos, 7) + (never ? "!" : "");
    } else if ((b & 0xe0) == 0x20) {
      const bool never = b & 0x10;
      r = "L:" + skip_string(stream, pos, 3);
      r += skip_string(stream, pos, 7) + (never ? "!" : "");
    } else if ((b & 0xf0) == 0x10) {
      r = "P" + std::to_string(read_prefixed(stream, pos, 4));
    } else {
      const bool never = b & 0x08;
      r = "NP" + std::to_string(read_prefixed(stream, pos, 3));
      r += ":" + skip_string(stream, pos, 7) + (never ? "!" : "");
    }
    block.representations.push_back(r);
  }
  return block;
}

// A QPACK encoder stream's instructions after its type: C<capacity>, IS<i>:<h|r> / ID<i>:<h|r>
// insert with a static / dynamic name reference, IL:<name h|r><value h|r> insert with a literal
// name, DUP<i>.
std::vector<std::string> encoder_instructions(std::string_view stream) {
  std::vector<std::string> out;
  size_t pos = 1;
  EXPECT_EQ(stream.at(0), '\x02');
  while (pos < stream.size()) {
    const auto b = static_cast<uint8_t>(stream[pos]);
    if (b & 0x80) {
      std::string r = ((b & 0x40) ? "IS" : "ID") + std::to_string(read_prefixed(stream, pos, 6));
      out.push_back(r + ":" + skip_string(stream, pos, 7));
    } else if (b & 0x40) {
      std::string r = "IL:" + skip_string(stream, pos, 5);
      out.push_back(r + skip_string(stream, pos, 7));
    } else if (b & 0x20) {
      out.push_back("C" + std::to_string(read_prefixed(stream, pos, 5)));
    } else {
      out.push_back("DUP" + std::to_string(read_prefixed(stream, pos, 5)));
    }
  }
  return out;
}

// Decodes a request stream's HEADERS with nghttp3's QPACK decoder (a server's), after the client's
// encoder stream (its type byte first). Fails the test on any decoding error.
HeaderList decode_headers(std::string_view encoder_stream, std::string_view request_stream) {
  const nghttp3_mem* mem = nghttp3_mem_default();
  nghttp3_qpack_decoder* decoder = nullptr;
  EXPECT_EQ(nghttp3_qpack_decoder_new(&decoder, 4096, 100, mem), 0);
  if (!encoder_stream.empty()) {
    EXPECT_EQ(encoder_stream[0], '\x02');
    const std::string_view instructions = encoder_stream.substr(1);
    EXPECT_EQ(nghttp3_qpack_decoder_read_encoder(
                  decoder, reinterpret_cast<const uint8_t*>(instructions.data()), instructions.size()),
              static_cast<nghttp3_ssize>(instructions.size()));
  }
  size_t pos = 0;
  read_varint(request_stream, pos);
  read_varint(request_stream, pos);
  const std::string_view block = request_stream.substr(pos);
  nghttp3_qpack_stream_context* context = nullptr;
  EXPECT_EQ(nghttp3_qpack_stream_context_new(&context, 0, mem), 0);
  HeaderList fields;
  const auto* p = reinterpret_cast<const uint8_t*>(block.data());
  size_t left = block.size();
  for (;;) {
    nghttp3_qpack_nv nv;
    uint8_t flags = 0;
    const nghttp3_ssize n = nghttp3_qpack_decoder_read_request(decoder, context, &nv, &flags, p, left, 1);
    if (n < 0) {
      ADD_FAILURE() << "QPACK decoding failed: " << nghttp3_strerror(static_cast<int>(n));
      break;
    }
    p += n;
    left -= static_cast<size_t>(n);
    if (flags & NGHTTP3_QPACK_DECODE_FLAG_EMIT) {
      const nghttp3_vec name = nghttp3_rcbuf_get_buf(nv.name), value = nghttp3_rcbuf_get_buf(nv.value);
      fields.push_back({std::string(reinterpret_cast<const char*>(name.base), name.len),
                        std::string(reinterpret_cast<const char*>(value.base), value.len)});
      nghttp3_rcbuf_decref(nv.name);
      nghttp3_rcbuf_decref(nv.value);
    }
    if (flags & (NGHTTP3_QPACK_DECODE_FLAG_FINAL | NGHTTP3_QPACK_DECODE_FLAG_BLOCKED)) {
      EXPECT_TRUE(flags & NGHTTP3_QPACK_DECODE_FLAG_FINAL) << "the block is not blocked";
      break;
    }
    if (n == 0 && left == 0) break;
  }
  nghttp3_qpack_stream_context_del(context);
  nghttp3_qpack_decoder_del(decoder);
  return fields;
}

// The QUIC side: local unidirectional stream ids as a client's connection hands them out, and
// what the session reports.
struct FakeQuic : http3::SessionListener {
  int64_t next_uni = 2;
  std::vector<int64_t> lazily_opened;
  std::vector<ResponseHead> heads;
  std::vector<http3::StreamClose> closes;
  int64_t take_uni() {
    const int64_t id = next_uni;
    next_uni += 4;
    return id;
  }
  int64_t open_uni_stream() override {
    lazily_opened.push_back(take_uni());
    return lazily_opened.back();
  }
  void on_head(int64_t, ResponseHead&& head) override { heads.push_back(std::move(head)); }
  void on_data(int64_t, std::string_view) override {}
  void on_stream_closed(int64_t, const http3::StreamClose& close) override { closes.push_back(close); }
  void on_consumed(int64_t, size_t) override {}
};

struct Client {
  FakeQuic quic;
  http3::ClientSession session;
  std::map<int64_t, std::string> streams;  // every byte written so far, per stream
  explicit Client(const Http3Profile& shape) : session(quic, shape) {
    const int64_t control = quic.take_uni();
    int64_t encoder = -1, decoder = -1;
    if (session.qpack_streams_at_start()) {
      encoder = quic.take_uni();
      decoder = quic.take_uni();
    }
    std::string error;
    EXPECT_TRUE(session.start(control, encoder, decoder, &error)) << error;
  }
  // Takes everything the session has to write now: the streams in the order written.
  std::vector<int64_t> drain() {
    std::vector<int64_t> order;
    for (int guard = 0; guard < 1000; ++guard) {
      std::optional<http3::Output> out = session.next_output();
      if (!out) break;
      std::string bytes;
      for (std::string_view d : out->data) bytes += d;
      streams[out->stream] += bytes;
      if (!bytes.empty() && (order.empty() || order.back() != out->stream)) order.push_back(out->stream);
      EXPECT_TRUE(session.sent(out->stream, bytes.size()));
      if (bytes.empty()) break;  // a bare FIN
    }
    return order;
  }
  void receive(int64_t stream, std::string_view bytes) {
    std::string error;
    EXPECT_TRUE(session.receive(stream, bytes, false, &error)) << error;
  }
  // The server's control stream with its SETTINGS, and its QPACK streams (their types).
  void peer_settings(std::initializer_list<std::pair<uint64_t, uint64_t>> settings) {
    std::string payload;
    for (const auto& [id, value] : settings) {
      http3::put_varint(payload, id);
      http3::put_varint(payload, value);
    }
    std::string control("\x00\x04", 2);
    http3::put_varint(control, payload.size());
    receive(3, control + payload);
    receive(7, "\x02");
    receive(11, "\x03");
  }
  void request(int64_t stream, std::string_view authority, std::string_view path, const HeaderList& headers) {
    std::string error;
    EXPECT_TRUE(session.submit_request(stream, "GET", "https", authority, path, headers, &error)) << error;
  }
};

// caddy (quic-go): an empty SETTINGS frame. ngtcp2's server: 0x6 = 2^62-1, 0x1 = 4096, 0x7 = 100.
void caddy_settings(Client& c) { c.peer_settings({}); }
void ngtcp2_settings(Client& c) {
  c.peer_settings({{0x6, (uint64_t{1} << 62) - 1}, {0x1, 4096}, {0x7, 100}});
}

const Profile& chrome() { return *find_profile("chrome_156"); }
const Profile& firefox() { return *find_profile("firefox_153"); }

HeaderList with_value(HeaderList headers, std::string_view name, std::string_view value) {
  for (Header& h : headers)
    if (h.name == name) h.value = value;
  return headers;
}

HeaderList without(HeaderList headers, std::string_view name) {
  std::erase_if(headers, [&](const Header& h) { return h.name == name; });
  return headers;
}

// The request as a server decodes it: pseudo-headers in the preset's order, then the headers.
HeaderList expected_fields(std::string_view order, std::string_view authority, std::string_view path,
                           const HeaderList& headers) {
  HeaderList out;
  for (char c : order) {
    if (c == 'm') out.push_back({":method", "GET"});
    if (c == 's') out.push_back({":scheme", "https"});
    if (c == 'a') out.push_back({":authority", std::string(authority)});
    if (c == 'p') out.push_back({":path", std::string(path)});
  }
  for (const Header& h : headers)
    out.push_back({h.name, h.name == "alt-used" && h.value.empty() ? std::string(authority) : h.value});
  return out;
}

void expect_same_fields(const HeaderList& got, const HeaderList& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].name, want[i].name) << i;
    EXPECT_EQ(got[i].value, want[i].value) << i;
  }
}

// ---- the control stream ----

struct ControlStream {
  std::string fixed_settings;  // hex of SETTINGS' payload before any GREASE setting
  uint64_t grease_setting_id = 0, grease_setting_value = 0;
  uint64_t grease_frame_type = 0;
  size_t grease_payload = 0;
};

// Parses type, SETTINGS (with `grease_setting`: its last entry on 8-byte varints) and one GREASE
// frame on 8-byte type; nothing may follow.
ControlStream parse_control(std::string_view b, bool grease_setting) {
  ControlStream c;
  size_t pos = 0;
  EXPECT_EQ(read_varint(b, pos), 0x00u) << "control stream type";
  EXPECT_EQ(read_varint(b, pos), 0x04u) << "SETTINGS first";
  const size_t length = read_varint(b, pos);
  const size_t end = pos + length;
  const size_t fixed = grease_setting ? length - 16 : length;
  c.fixed_settings = hex(b.substr(pos, fixed));
  pos += fixed;
  if (grease_setting) {
    size_t w1 = 0, w2 = 0;
    c.grease_setting_id = read_varint(b, pos, &w1);
    c.grease_setting_value = read_varint(b, pos, &w2);
    EXPECT_EQ(w1, 8u);
    EXPECT_EQ(w2, 8u);
  }
  EXPECT_EQ(pos, end);
  size_t width = 0;
  c.grease_frame_type = read_varint(b, pos, &width);
  EXPECT_EQ(width, 8u) << "GREASE frame type on 8 bytes";
  c.grease_payload = read_varint(b, pos);
  pos += c.grease_payload;
  EXPECT_EQ(pos, b.size()) << "nothing after the GREASE frame";
  return c;
}

bool reserved(uint64_t id) { return id >= 0x21 && (id - 0x21) % 0x1f == 0; }

TEST(Http3Shape, ChromeControlStreamSettingsInOrderThenGreaseSettingAndFrame) {
  std::set<uint64_t> ids, frame_types;
  std::set<size_t> payloads;
  for (int i = 0; i < 300; ++i) {
    Client c(chrome().http3);
    EXPECT_EQ(c.drain(), std::vector<int64_t>{2}) << "the control stream only: QPACK streams wait";
    const ControlStream s = parse_control(c.streams[2], true);
    // 0x1=65536 (4-byte varint), 0x6=262144 (4), 0x7=100 (2), 0x33=1: conn-1 of both runs.
    EXPECT_EQ(s.fixed_settings, "018001000006800400000740643301");
    EXPECT_TRUE(reserved(s.grease_setting_id));
    EXPECT_LT((s.grease_setting_id - 0x21) / 0x1f, uint64_t{1} << 32);
    EXPECT_LT(s.grease_setting_value, uint64_t{1} << 32);
    EXPECT_TRUE(reserved(s.grease_frame_type));
    EXPECT_LT((s.grease_frame_type - 0x21) / 0x1f, uint64_t{1} << 32);
    EXPECT_LE(s.grease_payload, 3u);
    ids.insert(s.grease_setting_id);
    frame_types.insert(s.grease_frame_type);
    payloads.insert(s.grease_payload);
  }
  EXPECT_GT(ids.size(), 290u) << "drawn per session";
  EXPECT_GT(frame_types.size(), 290u);
  EXPECT_EQ(payloads, (std::set<size_t>{0, 1, 2, 3}));
}

TEST(Http3Shape, FirefoxControlStreamSettingsWithUnknownIdsThenGreaseFrame) {
  std::set<uint64_t> frame_types;
  std::set<size_t> payloads;
  bool beyond_32_bits = false;
  for (int i = 0; i < 400; ++i) {
    Client c(firefox().http3);
    c.drain();
    const ControlStream s = parse_control(c.streams[2], false);
    // 0x1=65536, 0x7=20, 0x2b603742=0, 0xffd277=1, 0x33=1, 0x8=1, no GREASE setting.
    EXPECT_EQ(s.fixed_settings, "01800100000714ab6037420080ffd2770133010801");
    EXPECT_TRUE(reserved(s.grease_frame_type));
    EXPECT_LE(s.grease_payload, 7u);
    beyond_32_bits |= (s.grease_frame_type - 0x21) / 0x1f >= (uint64_t{1} << 32);
    frame_types.insert(s.grease_frame_type);
    payloads.insert(s.grease_payload);
  }
  EXPECT_GT(frame_types.size(), 390u);
  EXPECT_TRUE(beyond_32_bits) << "Firefox's GREASE types span 62 bits";
  EXPECT_EQ(payloads, (std::set<size_t>{0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST(Http3Shape, FirefoxOpensBothQpackStreamsWithTheControlStream) {
  Client c(firefox().http3);
  EXPECT_EQ(c.drain(), (std::vector<int64_t>{2, 6, 10})) << "conn 4's first 1-RTT packet";
  EXPECT_EQ(c.streams[6], "\x02") << "encoder, type only";
  EXPECT_EQ(c.streams[10], "\x03") << "decoder, type only";
  caddy_settings(c);
  EXPECT_TRUE(c.drain().empty()) << "capacity 0: nothing more";
}

// ---- Chrome: caddy (caddy run, conn 10, headed) and ngtcp2 (ngtcp2 run, conn 1, headless) ----

TEST(Http3Shape, ChromeAgainstCaddyNoQpackStreamsLiteralsAndPriorityUpdate) {
  Client c(chrome().http3);
  c.drain();
  caddy_settings(c);
  const HeaderList& headers = profile_headers(chrome(), HeaderSet::kHttp3);
  c.request(0, "fp.test:8443", "/chromium-quic-headed", headers);
  const size_t control_before = c.streams[2].size();
  EXPECT_EQ(c.drain(), (std::vector<int64_t>{2, 0})) << "PRIORITY_UPDATE with the HEADERS";
  EXPECT_TRUE(c.quic.lazily_opened.empty()) << "no QPACK streams against capacity 0";
  EXPECT_EQ(hex(c.streams[2].substr(control_before)), "800f07000700753d302c2069");  // u=0, i for 0
  const HeaderBlock block = parse_headers_frame(c.streams[0]);
  EXPECT_EQ(block.frame_length, 426u);
  EXPECT_EQ(c.streams[0].size(), 429u);
  EXPECT_EQ(block.encoded_required_insert_count, 0u);
  EXPECT_EQ(block.representations,
            (std::vector<std::string>{"S17", "NS0:h", "S23", "NS1:h", "L:hh", "L:hr", "L:hr", "S94", "NS95:h",
                                      "NS29:h", "L:hh", "L:hh", "L:hr", "L:hh", "NS31:h", "NS72:h", "L:hh"}));
  expect_same_fields(decode_headers({}, c.streams[0]),
                     expected_fields("masp", "fp.test:8443", "/chromium-quic-headed", headers));
}

TEST(Http3Shape, ChromeAgainstNgtcp2LazyQpackStreamsInsertEverythingPreBase) {
  Client c(chrome().http3);
  c.drain();
  ngtcp2_settings(c);
  EXPECT_EQ(c.quic.lazily_opened, (std::vector<int64_t>{6, 10})) << "decoder 6, encoder 10";
  EXPECT_TRUE(c.drain().empty()) << "their types go out with their first instruction";
  const HeaderList headers =
      with_value(profile_headers(chrome(), HeaderSet::kHttp3), "user-agent", kChromeHeadlessUa);
  c.request(0, "fp.test:8444", "/chromium-quic-1", headers);
  EXPECT_EQ(c.drain(), (std::vector<int64_t>{2, 10, 0}));
  // Conn 1's encoder stream: its first 200 bytes as recorded, 417 bytes for this request, and the
  // instructions the capture decodes (the ground truth's list up to the favicon's).
  EXPECT_EQ(
      hex(c.streams[10].substr(0, 200)),
      "023fe11fc08996b5d25426e3cd34d7c18c6093d87a4d6d2b76b4c4583f674148b1275ad1ffa2fe749d37215aed83aa4fe7efbc"
      "1fcbdfcfd29fcde9ec3d26b69fe7efbc1fc85b73f96b4148b1275ad1ad49e33505023f306d4148b1275ad1ad5d034ca7b29f07"
      "224c696e757822ff20d3d07f66a281b0dae053fafc087ed4ce6aadf2a7979c89c6bfb521aeba0bc8b1e632586d975765c53fac"
      "d8f7e8cff4a506ea5531149d4ffda98ca39282a117a7b0f49580b6e2e05c0b814dc394761986d975765cddec497ca5");
  EXPECT_EQ(c.streams[10].size(), 417u);
  EXPECT_EQ(
      encoder_instructions(c.streams[10]),
      (std::vector<std::string>{"C4096", "IS0:h", "IS1:h", "IL:hh", "IL:hr", "IL:hr", "IS95:h", "IS29:h",
                                "IL:hh", "IL:hh", "IL:hr", "IL:hh", "IS31:h", "IS72:h", "IL:hh"}));
  EXPECT_FALSE(c.streams.count(6)) << "the decoder stream has said nothing yet";
  const HeaderBlock block = parse_headers_frame(c.streams[0]);
  EXPECT_EQ(block.frame_length, 20u);
  EXPECT_EQ(block.encoded_required_insert_count, 15u) << "RIC 14";
  EXPECT_EQ(block.base_byte, "00") << "Base = RIC";
  EXPECT_EQ(block.representations,
            (std::vector<std::string>{"S17", "D13", "S23", "D12", "D11", "D10", "D9", "S94", "D8", "D7", "D6",
                                      "D5", "D4", "D3", "D2", "D1", "D0"}));
  expect_same_fields(decode_headers(c.streams[10], c.streams[0]),
                     expected_fields("masp", "fp.test:8444", "/chromium-quic-1", headers));
}

// Conn 1's second request (the favicon, stream 4) on the same connection: new values of known names
// are inserted with dynamic name references, and HEADERS refers to old and new entries, all
// pre-base (ground truth: 128 more encoder bytes, HEADERS 20 bytes with FIN).
TEST(Http3Shape, ChromeSecondRequestReusesAndExtendsTheTable) {
  Client c(chrome().http3);
  c.drain();
  ngtcp2_settings(c);
  const HeaderList navigation =
      with_value(profile_headers(chrome(), HeaderSet::kHttp3), "user-agent", kChromeHeadlessUa);
  c.request(0, "fp.test:8444", "/chromium-quic-1", navigation);
  c.drain();
  const size_t encoder_before = c.streams[10].size(), control_before = c.streams[2].size();
  const auto value = [&](std::string_view name) {
    for (const Header& h : navigation)
      if (h.name == name) return h.value;
    return std::string();
  };
  const HeaderList favicon = {
      {"sec-ch-ua-platform", value("sec-ch-ua-platform")},
      {"user-agent", kChromeHeadlessUa},
      {"sec-ch-ua", value("sec-ch-ua")},
      {"sec-ch-ua-mobile", "?0"},
      {"accept", "image/jxl,image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"},
      {"sec-fetch-site", "same-origin"},
      {"sec-fetch-mode", "no-cors"},
      {"sec-fetch-dest", "image"},
      {"referer", "https://fp.test:8444/chromium-quic-1"},
      {"accept-encoding", "gzip, deflate, br, zstd"},
      {"accept-language", "en-US,en;q=0.9"},
      {"priority", "u=1, i"}};
  c.request(4, "fp.test:8444", "/favicon.ico", favicon);
  EXPECT_EQ(c.drain(), (std::vector<int64_t>{2, 10, 4}));
  EXPECT_EQ(hex(c.streams[2].substr(control_before)), "800f07000704753d312c2069");  // u=1, i for 4
  const std::string inserts = c.streams[10].substr(encoder_before);
  EXPECT_EQ(inserts.size(), 128u);
  EXPECT_EQ(encoder_instructions("\x02" + inserts),
            (std::vector<std::string>{"IS1:h", "IS29:h", "ID8:h", "ID8:h", "ID7:h", "IS13:h", "ID6:h"}));
  EXPECT_EQ(c.streams[4].size(), 20u);
  const HeaderBlock block = parse_headers_frame(c.streams[4]);
  EXPECT_EQ(block.encoded_required_insert_count, 22u) << "RIC 21";
  EXPECT_EQ(block.base_byte, "00");
  EXPECT_EQ(block.representations,
            (std::vector<std::string>{"S17", "D20", "S23", "D6", "D16", "D15", "D18", "D17", "D5", "D4", "D3",
                                      "D2", "D1", "D9", "D8", "D0"}));
}

// ---- Firefox: caddy (caddy run, conn 12, headed) and ngtcp2 (ngtcp2 run, conn 4, headless) ----

TEST(Http3Shape, FirefoxAgainstCaddyLiteralsHuffmanOnTiesNoPriorityUpdate) {
  Client c(firefox().http3);
  c.drain();
  caddy_settings(c);
  const HeaderList& headers = profile_headers(firefox(), HeaderSet::kHttp3);
  c.request(0, "fp.test:8443", "/firefox-quic-headed", headers);
  const std::string control = c.streams[2];
  EXPECT_EQ(c.drain(), std::vector<int64_t>{0});
  EXPECT_EQ(c.streams[2], control) << "no PRIORITY_UPDATE";
  const HeaderBlock block = parse_headers_frame(c.streams[0]);
  EXPECT_EQ(block.frame_length, 275u);
  EXPECT_EQ(block.representations,
            (std::vector<std::string>{"S17", "S23", "NS0:h", "NS1:h", "NS95:h", "NS29:h", "NS72:h", "NS31:h",
                                      "L:hh", "S94", "L:hh", "L:hh", "L:hh", "L:hh", "L:hh"}));
  expect_same_fields(decode_headers({}, c.streams[0]),
                     expected_fields("msap", "fp.test:8443", "/firefox-quic-headed", headers));
}

TEST(Http3Shape, FirefoxAgainstNgtcp2CapacityAtOnceFiveInsertsPostBase) {
  Client c(firefox().http3);
  c.drain();
  ngtcp2_settings(c);
  EXPECT_EQ(c.drain(), std::vector<int64_t>{6});
  EXPECT_EQ(hex(c.streams[6]), "023fe11f") << "Set Dynamic Table Capacity 4096 as the SETTINGS arrive";
  const HeaderList headers = without(profile_headers(firefox(), HeaderSet::kHttp3), "sec-fetch-user");
  c.request(0, "fp.test:8444", "/firefox-quic-1", headers);
  EXPECT_EQ(c.drain(), (std::vector<int64_t>{0, 6})) << "conn 4: the request, then its inserts";
  EXPECT_EQ(
      hex(c.streams[6]),
      "023fe11f661d095ad4164f8996b5d25426e3cd34d76a4148b4a549275a42a13f8690e4b692d49f6a4148b4a549275a93c85f86"
      "a87dcd30d25f6a4148b4a549275906497f83a8f51766aec31ec327d785b6007d286f");
  EXPECT_EQ(c.streams[10], "\x03");
  const HeaderBlock block = parse_headers_frame(c.streams[0]);
  EXPECT_EQ(block.frame_length, 177u);
  EXPECT_EQ(block.encoded_required_insert_count, 6u) << "RIC 5";
  EXPECT_EQ(block.base_byte, "84") << "Base 0: sign 1, delta 4";
  EXPECT_EQ(block.representations,
            (std::vector<std::string>{"S17", "S23", "NS0:h", "NS1:h", "NS95:h", "NS29:h", "NS72:h", "NS31:h",
                                      "P0", "S94", "P1", "P2", "P3", "P4"}));
  expect_same_fields(decode_headers(c.streams[6], c.streams[0]),
                     expected_fields("msap", "fp.test:8444", "/firefox-quic-1", headers));
}

// ---- what SETTINGS announce about our decoder is what it accepts ----

// A server encoder stream that sets the capacity to `capacity` and inserts `count` entries of
// about 1 KiB (literal names), and a response HEADERS (":status 200" then every entry, pre-base).
struct ServerResponse {
  std::string encoder_stream;
  std::string headers_frame;
};

ServerResponse big_dynamic_response(uint64_t capacity, int count) {
  auto prefixed = [](std::string& out, uint8_t first, int bits, uint64_t v) {
    const uint64_t mask = (uint64_t{1} << bits) - 1;
    if (v < mask) return out.push_back(static_cast<char>(first | v));
    out.push_back(static_cast<char>(first | mask));
    for (v -= mask; v >= 128; v >>= 7) out.push_back(static_cast<char>(0x80 | (v & 0x7f)));
    out.push_back(static_cast<char>(v));
  };
  ServerResponse r;
  r.encoder_stream = "\x02";
  prefixed(r.encoder_stream, 0x20, 5, capacity);
  for (int i = 0; i < count; ++i) {
    const std::string name = "x-fill-" + std::to_string(100 + i),
                      value(1000, static_cast<char>('a' + i % 26));
    prefixed(r.encoder_stream, 0x40, 5, name.size());
    r.encoder_stream += name;
    prefixed(r.encoder_stream, 0x00, 7, value.size());
    r.encoder_stream += value;
  }
  std::string block;
  const uint64_t max_entries = capacity / 32;
  prefixed(block, 0x00, 8, count % (2 * max_entries) + 1);  // Required Insert Count
  block.push_back('\x00');                                  // Base = RIC
  prefixed(block, 0xc0, 6, 25);                             // :status 200
  for (int i = count - 1; i >= 0; --i) prefixed(block, 0x80, 6, static_cast<uint64_t>(i));
  r.headers_frame = "\x01";
  http3::put_varint(r.headers_frame, block.size());
  r.headers_frame += block;
  return r;
}

TEST(Http3Shape, ChromeDecoderTakesTheAnnouncedTableCapacityAndBlocking) {
  Client c(chrome().http3);
  c.drain();
  ngtcp2_settings(c);
  c.request(0, "example.test", "/", profile_headers(chrome(), HeaderSet::kHttp3));
  c.drain();
  // 60 entries of ~1 KiB: beyond nghttp3's default (0) and its encoder's 4096, within 65536.
  const ServerResponse r = big_dynamic_response(65536, 60);
  c.receive(0, r.headers_frame);  // before the inserts: the stream is blocked (announced 100)
  EXPECT_TRUE(c.quic.heads.empty());
  c.receive(7, r.encoder_stream.substr(1));
  ASSERT_EQ(c.quic.heads.size(), 1u);
  EXPECT_EQ(c.quic.heads[0].status, 200);
  ASSERT_EQ(c.quic.heads[0].headers.size(), 60u);
  EXPECT_EQ(c.quic.heads[0].headers[59].name, "x-fill-159");
  c.drain();
  // The lazily opened decoder stream's first bytes: its type, then Section Acknowledgement for
  // stream 0 (conn 1's decoder stream starts 03 80).
  EXPECT_EQ(hex(c.streams[6]).substr(0, 4), "0380");
}

// A server that allows no table (Chrome keeps its QPACK streams closed) but fills ours anyway: the
// streams open when our decoder has an acknowledgement to send, instead of it piling up unsent.
TEST(Http3Shape, ChromeOpensItsQpackStreamsWhenAPeerWithoutATableUsesOurs) {
  Client c(chrome().http3);
  c.drain();
  caddy_settings(c);
  c.request(0, "example.test", "/", profile_headers(chrome(), HeaderSet::kHttp3));
  c.drain();
  EXPECT_TRUE(c.quic.lazily_opened.empty());
  const ServerResponse r = big_dynamic_response(65536, 2);
  c.receive(7, r.encoder_stream.substr(1));
  c.receive(0, r.headers_frame);
  ASSERT_EQ(c.quic.heads.size(), 1u);
  c.drain();
  EXPECT_EQ(c.quic.lazily_opened, (std::vector<int64_t>{6, 10}));
  EXPECT_EQ(hex(c.streams[6]), "0380") << "type, Section Acknowledgement for stream 0";
  EXPECT_FALSE(c.streams.count(10)) << "the encoder has nothing to say";
}

TEST(Http3Shape, FirefoxDecoderTakesTheAnnouncedTableCapacity) {
  Client c(firefox().http3);
  c.drain();
  ngtcp2_settings(c);
  c.request(0, "example.test", "/", profile_headers(firefox(), HeaderSet::kHttp3));
  c.drain();
  const ServerResponse r = big_dynamic_response(65536, 60);
  c.receive(7, r.encoder_stream.substr(1));
  c.receive(0, r.headers_frame);
  ASSERT_EQ(c.quic.heads.size(), 1u);
  EXPECT_EQ(c.quic.heads[0].headers.size(), 60u);
}

// With a table announced, a response's HEADERS can wait for inserts that never come. QUIC closing
// that stream must still report the request closed (nghttp3 holds a QPACK-blocked stream's close
// until it is unblocked). Found by the http3_session fuzz target.
TEST(Http3Shape, RequestClosedWhileItsHeadersWaitForInsertsIsReportedClosed) {
  Client c(chrome().http3);
  c.drain();
  caddy_settings(c);
  c.request(0, "example.test", "/", profile_headers(chrome(), HeaderSet::kHttp3));
  c.drain();
  const ServerResponse r = big_dynamic_response(65536, 3);
  c.receive(0, r.headers_frame);  // refers to three entries the server never inserts
  EXPECT_TRUE(c.quic.heads.empty());
  std::string error;
  ASSERT_TRUE(c.session.stream_closed(0, http3::kRequestCancelled, &error)) << error;
  ASSERT_EQ(c.quic.closes.size(), 1u);
  EXPECT_EQ(c.quic.closes[0].error_code, http3::kRequestCancelled);
  EXPECT_FALSE(c.quic.closes[0].response_complete);
  c.receive(7, r.encoder_stream.substr(1));  // the inserts after all: nothing more is reported
  EXPECT_TRUE(c.quic.heads.empty());
  EXPECT_EQ(c.quic.closes.size(), 1u);
}

// ---- frames ----

TEST(Http3Frames, VarintsShortestOrEightBytes) {
  std::string s;
  http3::put_varint(s, 63);
  http3::put_varint(s, 64);
  http3::put_varint(s, 16384);
  http3::put_varint(s, uint64_t{1} << 30);
  http3::put_varint8(s, 1);
  EXPECT_EQ(hex(s), "3f404080004000c000000040000000c000000000000001");
  EXPECT_EQ(hex(http3::encode_priority_update(4, "u=1, i")), "800f07000704753d312c2069");
  EXPECT_EQ(unhex("0a0b"), "\x0a\x0b");
}

}  // namespace
