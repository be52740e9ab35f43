// Tests for the process link's framing (native/mux/frame, messages): byte-in/byte-out, split at
// every byte, fuzzed, and strict about everything a hostile or broken peer might send.
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "mux/frame.h"
#include "mux/link.h"
#include "share/messages.h"

namespace {

using namespace ctn;
using namespace ctn::mux;

std::string sample_stream() {
  std::string out;
  append_frame(out, FrameType::kHello, 0, 0, "hello");
  append_frame(out, FrameType::kRequest, kEndStream, 7, std::string(70000, 'u'));
  append_frame(out, FrameType::kBody, 0, 0xfedcba9876543210ull, "");
  append_frame(out, FrameType::kGoaway, 0, 0, "bye");
  return out;
}

void expect_sample(const std::vector<Frame>& frames) {
  ASSERT_EQ(frames.size(), 4u);
  EXPECT_EQ(frames[0].type, FrameType::kHello);
  EXPECT_EQ(frames[0].payload, "hello");
  EXPECT_EQ(frames[1].type, FrameType::kRequest);
  EXPECT_EQ(frames[1].flags, kEndStream);
  EXPECT_EQ(frames[1].stream, 7u);
  EXPECT_EQ(frames[1].payload, std::string(70000, 'u'));
  EXPECT_EQ(frames[2].stream, 0xfedcba9876543210ull);
  EXPECT_TRUE(frames[2].payload.empty());
  EXPECT_EQ(frames[3].payload, "bye");
}

TEST(MuxFrame, WholeStreamDecodes) {
  const std::string bytes = sample_stream();
  FrameDecoder d;
  std::vector<Frame> frames;
  ASSERT_TRUE(d.feed(bytes.data(), bytes.size(), frames));
  expect_sample(frames);
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(MuxFrame, SplitAtEveryByte) {
  const std::string bytes = sample_stream();
  for (size_t cut = 0; cut <= bytes.size(); cut += (cut < 200 || cut > bytes.size() - 200) ? 1 : 997) {
    FrameDecoder d;
    std::vector<Frame> frames;
    ASSERT_TRUE(d.feed(bytes.data(), cut, frames));
    ASSERT_TRUE(d.feed(bytes.data() + cut, bytes.size() - cut, frames));
    expect_sample(frames);
  }
}

TEST(MuxFrame, OneByteAtATime) {
  const std::string bytes = sample_stream();
  FrameDecoder d;
  std::vector<Frame> frames;
  for (char c : bytes) ASSERT_TRUE(d.feed(&c, 1, frames));
  expect_sample(frames);
}

TEST(MuxFrame, OversizedFrameIsRefusedFromItsHeader) {
  FrameDecoder d(1024);
  std::string bytes = encode_frame(FrameType::kHello, 0, 0, std::string(1025, 'x'));
  std::vector<Frame> frames;
  // Refused as soon as the length is known, without buffering the payload.
  EXPECT_FALSE(d.feed(bytes.data(), 4, frames));
  EXPECT_NE(d.error().find("exceeds"), std::string::npos) << d.error();
  // Dead from then on.
  const std::string ok = encode_frame(FrameType::kPing, 0, 0, "");
  EXPECT_FALSE(d.feed(ok.data(), ok.size(), frames));
  EXPECT_TRUE(frames.empty());
}

TEST(MuxFrame, GarbageIsRefused) {
  for (std::string garbage :
       {std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), std::string("\x16\x03\x01\x02\x00", 5),
        std::string("\0\0\0\x0a\x00", 5), std::string("\0\0\0\x0a\x63", 5), std::string("\0\0\0\x03", 4)}) {
    FrameDecoder d(1024);
    std::vector<Frame> frames;
    EXPECT_FALSE(d.feed(garbage.data(), garbage.size(), frames)) << garbage;
    EXPECT_FALSE(d.error().empty());
  }
}

TEST(MuxFrame, FramesBeforeAMalformedOneAreKept) {
  std::string bytes = encode_frame(FrameType::kPing, 0, 0, "12345678");
  bytes += std::string("\0\0\0\x0a\xff", 5);
  FrameDecoder d;
  std::vector<Frame> frames;
  EXPECT_FALSE(d.feed(bytes.data(), bytes.size(), frames));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].type, FrameType::kPing);
}

TEST(MuxFrame, FuzzNeverCrashesAndNeverOverreads) {
  std::mt19937 rng(12345);
  const std::string valid = sample_stream();
  for (int round = 0; round < 3000; ++round) {
    std::string bytes = valid.substr(0, rng() % 200);
    const int flips = 1 + rng() % 8;
    for (int i = 0; i < flips && !bytes.empty(); ++i) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    if (rng() % 3 == 0) {
      bytes.resize(rng() % 64);
      for (auto& c : bytes) c = static_cast<char>(rng());
    }
    FrameDecoder d(4096);
    std::vector<Frame> frames;
    size_t pos = 0;
    while (pos < bytes.size()) {
      const size_t n = std::min<size_t>(bytes.size() - pos, 1 + rng() % 16);
      if (!d.feed(bytes.data() + pos, n, frames)) break;
      pos += n;
    }
    for (const auto& f : frames) {
      EXPECT_LE(f.payload.size(), 4096u);
      EXPECT_GE(static_cast<int>(f.type), 1);
      EXPECT_LE(static_cast<int>(f.type), static_cast<int>(kLastFrameType));
      // Payload decoders must refuse or accept cleanly, never read out of bounds.
      RequestSpec spec;
      uint64_t body = 0;
      std::string why;
      (void)decode_request(f.payload, &spec, &body, &why);
      ResponseHead head;
      ConnectionInfo info;
      (void)decode_head(f.payload, &head, &info);
      Error e;
      (void)decode_error(f.payload, &e);
      Hello h;
      (void)decode_hello(f.payload, &h);
    }
  }
}

// A reader puts big payloads straight into place (payload_space + commit) and small ones through
// feed(): any mix, cut anywhere, gives the same frames.
TEST(MuxFrame, PayloadReadInPlaceMixedWithFeedAtEverySplit) {
  const std::string bytes = sample_stream();
  for (size_t cut = 0; cut <= bytes.size(); cut += (cut < 200 || cut > bytes.size() - 200) ? 1 : 997) {
    FrameDecoder d;
    std::vector<Frame> frames;
    size_t at = 0;
    bool in_place = false;
    while (at < bytes.size()) {
      const size_t piece = std::min(bytes.size() - at, at < cut ? cut - at : bytes.size() - at);
      if (in_place && d.payload_remaining() > 0) {
        const std::span<char> space = d.payload_space(piece);
        ASSERT_LE(space.size(), d.payload_remaining());
        std::memcpy(space.data(), bytes.data() + at, space.size());
        d.commit(space.size(), frames);
        at += space.size();
      } else {
        ASSERT_TRUE(d.feed(bytes.data() + at, piece, frames));
        at += piece;
      }
      in_place = !in_place;
    }
    expect_sample(frames);
    EXPECT_EQ(d.buffered(), 0u);
  }
}

TEST(MuxFrame, RoomLeftUnwrittenIsDroppedAndNothingBeyondThePayloadIsOffered) {
  const std::string bytes = encode_frame(FrameType::kBody, 0, 9, std::string(100, 'b'));
  FrameDecoder d;
  std::vector<Frame> frames;
  ASSERT_TRUE(d.feed(bytes.data(), kFrameHeaderSize + 10, frames));
  EXPECT_EQ(d.payload_remaining(), 90u);
  std::span<char> space = d.payload_space(1000);
  ASSERT_EQ(space.size(), 90u);  // never more than the frame still needs
  std::memcpy(space.data(), bytes.data() + kFrameHeaderSize + 10, 5);
  d.commit(5, frames);  // a short read: the other 85 bytes of room are not payload
  EXPECT_EQ(d.buffered(), 15u);
  ASSERT_TRUE(d.feed(bytes.data() + kFrameHeaderSize + 15, 85, frames));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].payload, std::string(100, 'b'));
  EXPECT_TRUE(d.payload_space(10).empty());  // between frames there is nowhere to read to
}

// A claimed buffer gets the payload appended where it is: no copy from frame to body.
TEST(MuxFrame, AClaimedBufferGrowsInPlaceAndComesBackWithTheFrame) {
  std::string gathered = "head-";
  gathered.reserve(1000);
  const char* const where = gathered.data();
  std::string bytes = encode_frame(FrameType::kBody, 0, 5, std::string(300, 'x'));
  bytes += encode_frame(FrameType::kEnd, 0, 5, "");
  FrameDecoder d;
  std::vector<std::pair<FrameType, uint64_t>> asked;
  d.set_claim([&](FrameType type, uint64_t stream, size_t size) {
    asked.emplace_back(type, stream);
    EXPECT_EQ(size, type == FrameType::kBody ? 300u : 0u);
    return type == FrameType::kBody ? std::move(gathered) : std::string();
  });
  std::vector<Frame> frames;
  const char* data = bytes.data();
  size_t left = bytes.size();
  // One frame at a time: the END's header is not read (nor claimed) before the BODY is handed on.
  ASSERT_TRUE(d.feed_until_frame(&data, &left, frames));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(asked.size(), 1u);
  EXPECT_EQ(left, kFrameHeaderSize);
  EXPECT_EQ(frames[0].payload_start, 5u);
  EXPECT_EQ(frames[0].payload_size(), 300u);
  EXPECT_EQ(frames[0].payload, "head-" + std::string(300, 'x'));
  EXPECT_EQ(frames[0].payload.data(), where);
  ASSERT_TRUE(d.feed_until_frame(&data, &left, frames));
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[1].type, FrameType::kEnd);
  EXPECT_EQ(frames[1].payload_start, 0u);
  EXPECT_EQ(asked.size(), 2u);
}

// Two links over a real socket pair on one io_context: what one queues, the other's handler gets.
class Recorder : public LinkHandler {
 public:
  void on_frame(Link&, Frame&& f) override { frames.push_back(std::move(f)); }
  void on_link_closed(Link&, const std::string&) override { closed = true; }
  void on_link_writable(Link&) override {}
  std::vector<Frame> frames;
  bool closed = false;
};

// A sending link and a reading one (started) over a real socket pair, on one io_context.
struct LinkPair {
  LinkPair() {
    Link::Socket a(io), b(io);
    asio::local::connect_pair(a, b);
    sender = std::make_shared<Link>(std::move(a), sender_side);
    reader = std::make_shared<Link>(std::move(b), receiver);
    reader->start();
  }
  asio::io_context io;
  Recorder sender_side, receiver;
  std::shared_ptr<Link> sender, reader;
};

// Slices of one shared body leave as frames of exactly those bytes, in order within each stream,
// the body outliving its owner's reference until written; frames of other streams go in turn.
TEST(MuxLink, SlicesOfASharedBodyCrossByteExact) {
  LinkPair pair;
  asio::io_context& io = pair.io;
  Recorder& receiver = pair.receiver;
  std::shared_ptr<Link>& sender = pair.sender;
  std::shared_ptr<Link>& reader = pair.reader;
  auto body = std::make_shared<const std::string>([] {
    std::string s(300000, '\0');
    for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>(i * 7 + (i >> 11));
    return s;
  }());
  std::weak_ptr<const std::string> watch = body;
  for (size_t at = 0; at < body->size(); at += kBodyChunk) {
    sender->send_stream_slice(FrameType::kBody, 0, 1, body, at, kBodyChunk);  // the last one is cut short
  }
  sender->send_stream_slice(FrameType::kBody, 0, 2, body, 10, 100);
  sender->send_stream_slice(FrameType::kBody, kEndStream, 1, body, 299990, 1000);  // clipped to the body
  body.reset();
  for (int spins = 0; spins < 10000 && (receiver.frames.size() < 7 || !watch.expired()); ++spins)
    io.run_one();
  ASSERT_EQ(receiver.frames.size(), 7u);
  std::string stream1;
  for (const Frame& f : receiver.frames) {
    if (f.stream == 1 && f.flags == 0) {
      EXPECT_LE(f.payload.size(), kBodyChunk);
      stream1 += f.payload;
    }
  }
  const std::string whole = [] {
    std::string s(300000, '\0');
    for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>(i * 7 + (i >> 11));
    return s;
  }();
  EXPECT_TRUE(stream1 == whole);
  EXPECT_EQ(receiver.frames[1].stream, 2u);  // in turn with stream 1's frames
  EXPECT_EQ(receiver.frames[1].payload, whole.substr(10, 100));
  EXPECT_EQ(receiver.frames[6].flags, kEndStream);
  EXPECT_EQ(receiver.frames[6].payload, whole.substr(299990));
  EXPECT_TRUE(watch.expired());  // written, then let go (nothing else holds it)
  sender->close();
  reader->close();
}

// A link asks for 1 MiB socket buffers each way (a large answer crosses in one or two rounds of the
// reader waking, not five): the kernel grants up to net.core.{w,r}mem_max, and reports twice what
// it granted.
TEST(MuxLink, ItsSocketAsksForLargeBuffers) {
  const auto sysctl = [](const char* path) {
    long v = 0;
    if (FILE* f = std::fopen(path, "r")) {
      if (std::fscanf(f, "%ld", &v) != 1) v = 0;
      std::fclose(f);
    }
    return v;
  };
  const long wmem_max = sysctl("/proc/sys/net/core/wmem_max");
  const long rmem_max = sysctl("/proc/sys/net/core/rmem_max");
  asio::io_context io;
  Link::Socket a(io), b(io);
  asio::local::connect_pair(a, b);
  Recorder handler;
  auto link = std::make_shared<Link>(std::move(a), handler);
  const auto option = [&](int name) {
    int v = 0;
    socklen_t len = sizeof v;
    EXPECT_EQ(::getsockopt(link->native_handle(), SOL_SOCKET, name, &v, &len), 0);
    return long{v};
  };
  EXPECT_GE(option(SO_SNDBUF), 2 * std::min<long>(1 << 20, wmem_max));
  EXPECT_GE(option(SO_RCVBUF), 2 * std::min<long>(1 << 20, rmem_max));
  link->close();
}

// A body that arrives one frame at a time (the reader catching up with the writer at every frame
// boundary) is read straight into place, header by header: only the first read, before the link
// knows a body is coming, goes through the read buffer.
TEST(MuxLink, ABodyArrivingFrameByFrameIsReadStraightIntoPlace) {
  LinkPair pair;
  asio::io_context& io = pair.io;
  Recorder& receiver = pair.receiver;
  std::shared_ptr<Link>& sender = pair.sender;
  std::shared_ptr<Link>& reader = pair.reader;
  constexpr size_t kFrames = 24;
  std::string whole;
  for (size_t i = 0; i < kFrames; ++i) {
    std::string piece(kBodyChunk, static_cast<char>('a' + i));
    whole += piece;
    sender->send_stream(FrameType::kBody, 0, 1, std::move(piece));
    // Written and read before the next frame is queued.
    for (int spins = 0; spins < 10000 && receiver.frames.size() < i + 1; ++spins) io.run_one();
    ASSERT_EQ(receiver.frames.size(), i + 1);
  }
  std::string got;
  for (const Frame& f : receiver.frames) got.append(f.payload, f.payload_start, std::string::npos);
  EXPECT_TRUE(got == whole);
  EXPECT_GE(reader->bytes_in_place(), (kFrames - 1) * kBodyChunk);
  sender->close();
  reader->close();
}

TEST(MuxMessages, RequestRoundTrip) {
  RequestSpec s;
  s.method = "POST";
  s.tls = true;
  s.host = "example.test";
  s.port = 8443;
  s.target = "/" + std::string(70000, 'q');  // far beyond a 16-bit length
  s.headers = {{"User-Agent", "x"}, {"sec-ch-ua", "\"A\";v=\"1\""}, {"Empty", ""}};
  s.body = std::string(100, 'b');
  s.server_name = "sni.test";
  s.insecure_skip_verify = true;
  s.force_http1 = true;
  s.http1_retry_hello = true;
  s.profile = "firefox_153";
  s.preset_headers = true;
  s.fingerprint.ja3 = "771,4865,0-23,29,0";
  s.fingerprint.ja4r = "t13d_x";
  s.fingerprint.http2_fingerprint = "1:65536|0|0|m,a,s,p";
  s.fingerprint.disable_grease = true;
  s.timeout_ms = 1234;
  s.whole_body = true;
  s.decompress = true;
  s.max_decoded_bytes = 99;
  s.max_response_bytes = 123456;
  s.client_id = 77;
  s.connect_timeout_ms = 1;
  s.tls_timeout_ms = 2;
  s.headers_timeout_ms = 3;
  s.body_idle_timeout_ms = 4;
  s.proxy = "socks5h://u%3A:p@proxy.test:1080";
  const std::string payload = encode_request(s);
  RequestSpec d;
  uint64_t body = 0;
  std::string why;
  ASSERT_TRUE(decode_request(payload, &d, &body, &why)) << why;
  EXPECT_EQ(body, 100u);
  EXPECT_TRUE(d.body.empty());
  EXPECT_EQ(d.method, s.method);
  EXPECT_EQ(d.host, s.host);
  EXPECT_EQ(d.port, s.port);
  EXPECT_EQ(d.target, s.target);
  ASSERT_EQ(d.headers.size(), 3u);
  EXPECT_EQ(d.headers[1].name, "sec-ch-ua");
  EXPECT_EQ(d.headers[2].value, "");
  EXPECT_EQ(d.server_name, s.server_name);
  EXPECT_TRUE(d.insecure_skip_verify);
  EXPECT_TRUE(d.force_http1);
  EXPECT_TRUE(d.http1_retry_hello);
  EXPECT_EQ(d.profile, s.profile);
  EXPECT_TRUE(d.preset_headers);
  EXPECT_EQ(d.fingerprint.ja3, s.fingerprint.ja3);
  EXPECT_EQ(d.fingerprint.ja4r, s.fingerprint.ja4r);
  EXPECT_EQ(d.fingerprint.http2_fingerprint, s.fingerprint.http2_fingerprint);
  EXPECT_TRUE(d.fingerprint.disable_grease);
  EXPECT_EQ(d.timeout_ms, 1234u);
  EXPECT_TRUE(d.whole_body);
  EXPECT_TRUE(d.decompress);
  EXPECT_EQ(d.max_decoded_bytes, 99u);
  EXPECT_EQ(d.max_response_bytes, 123456u);
  EXPECT_EQ(d.client_id, 77u);
  EXPECT_EQ(d.connect_timeout_ms, 1u);
  EXPECT_EQ(d.tls_timeout_ms, 2u);
  EXPECT_EQ(d.headers_timeout_ms, 3u);
  EXPECT_EQ(d.body_idle_timeout_ms, 4u);
  EXPECT_EQ(d.proxy, s.proxy);
  // Every truncation is refused.
  for (size_t n = 0; n < payload.size(); n += (n < 64 ? 1 : 4099)) {
    RequestSpec t;
    EXPECT_FALSE(decode_request(std::string_view(payload).substr(0, n), &t, &body, &why)) << n;
  }
  // Trailing bytes are refused too.
  EXPECT_FALSE(decode_request(payload + "x", &d, &body, &why));
}

// A streamed body (or an upgrade) is announced as such, never with a size as well.
TEST(MuxMessages, StreamedBodyAndUpgradeFlagsRoundTrip) {
  RequestSpec s;
  s.method = "GET";
  s.host = "example.test";
  s.port = 443;
  s.target = "/ws";
  s.upgrade = true;
  s.body_stream = true;
  RequestSpec d;
  uint64_t body = 7;
  std::string why;
  ASSERT_TRUE(decode_request(encode_request(s), &d, &body, &why)) << why;
  EXPECT_TRUE(d.upgrade);
  EXPECT_TRUE(d.body_stream);
  EXPECT_EQ(body, 0u);
  s.upgrade = false;
  s.body = "sized";
  EXPECT_FALSE(decode_request(encode_request(s), &d, &body, &why));
  EXPECT_NE(why.find("streamed"), std::string::npos) << why;
}

// response.fingerprint travels with the head to a client process: every field, and none for plain
// HTTP; an ech value beyond the known three is refused.
TEST(MuxMessages, HeadCarriesTheConnectionsFingerprint) {
  ResponseHead h;
  h.status = 200;
  ConnectionInfo c;
  auto f = std::make_shared<fingerprint::ConnectionFingerprint>();
  f->tls.ja3 = "771,4865,0-10,29,0";
  f->tls.order_free =
      std::make_shared<const fingerprint::OrderFreeFingerprint>(fingerprint::OrderFreeFingerprint{
          "771,4865,0-10,29,0", "t13d0102h2_aaaaaaaaaaaa_bbbbbbbbbbbb", "t13d0102h2_1301_000a"});
  f->akamai = "1:65536|15663105|0|m,a,s,p";
  f->ech = fingerprint::EchSent::kGrease;
  f->resumed = true;
  c.fingerprint = f;
  ResponseHead dh;
  ConnectionInfo dc;
  const std::string payload = encode_head(h, c);
  ASSERT_TRUE(decode_head(payload, &dh, &dc));
  ASSERT_TRUE(dc.fingerprint);
  EXPECT_EQ(dc.fingerprint->tls.ja3, f->tls.ja3);
  EXPECT_EQ(dc.fingerprint->tls.ja3n(), f->tls.ja3n());
  EXPECT_EQ(dc.fingerprint->tls.ja4(), f->tls.ja4());
  EXPECT_EQ(dc.fingerprint->tls.ja4r(), f->tls.ja4r());
  EXPECT_EQ(dc.fingerprint->akamai, f->akamai);
  EXPECT_EQ(dc.fingerprint->quic_ja4(), "");
  EXPECT_EQ(dc.fingerprint->ech, fingerprint::EchSent::kGrease);
  EXPECT_TRUE(dc.fingerprint->resumed);

  std::string bad_ech = payload;
  bad_ech[bad_ech.size() - 2] = 3;
  EXPECT_FALSE(decode_head(bad_ech, &dh, &dc));

  ConnectionInfo plain, dplain;
  ASSERT_TRUE(decode_head(encode_head(h, plain), &dh, &dplain));
  EXPECT_FALSE(dplain.fingerprint);

  // On one link, the connection's next responses name it as "the one before": a byte, not the
  // strings again, decoded to the very object the receiver kept.
  LinkFingerprint sent, received;
  const std::string first = encode_head(h, c, &sent);
  const std::string again = encode_head(h, c, &sent);
  EXPECT_EQ(first, payload);
  EXPECT_LT(again.size() + 100, first.size());  // the strings are ~140 bytes here
  ConnectionInfo d1, d2;
  ASSERT_TRUE(decode_head(first, &dh, &d1, &received));
  ASSERT_TRUE(decode_head(again, &dh, &d2, &received));
  EXPECT_EQ(d2.fingerprint, d1.fingerprint);
  EXPECT_EQ(d2.fingerprint->tls.ja4(), f->tls.ja4());
  // Another connection's fingerprint goes in full again; decoded, it shares the shape's part with
  // the one before (the same preset), and keeps its own JA3.
  ConnectionInfo other = c;
  auto other_fingerprint = std::make_shared<fingerprint::ConnectionFingerprint>(*f);
  other_fingerprint->tls.ja3 = "771,4865,10-0,29,0";
  other.fingerprint = other_fingerprint;
  const std::string other_payload = encode_head(h, other, &sent);
  EXPECT_EQ(other_payload.size(), first.size());
  ConnectionInfo d3;
  ASSERT_TRUE(decode_head(other_payload, &dh, &d3, &received));
  EXPECT_NE(d3.fingerprint, d1.fingerprint);
  EXPECT_EQ(d3.fingerprint->tls.ja3, "771,4865,10-0,29,0");
  EXPECT_EQ(d3.fingerprint->tls.order_free, d1.fingerprint->tls.order_free);
  // "The one before" on a link that had none (or without the link's memory) is malformed.
  LinkFingerprint fresh;
  EXPECT_FALSE(decode_head(again, &dh, &d2, &fresh));
  EXPECT_FALSE(decode_head(again, &dh, &d2));
}

TEST(MuxMessages, HeadAndErrorRoundTrip) {
  ResponseHead h;
  h.status = 207;
  h.reason = "Multi";
  h.version_major = 2;
  h.version_minor = 0;
  h.headers = {{"set-cookie", "a=1"}, {"set-cookie", "b=2"}};
  ConnectionInfo c{42, true, "h2", "TLSv1.3", "TLS_AES_128_GCM_SHA256", true, nullptr};
  ResponseHead dh;
  ConnectionInfo dc;
  ASSERT_TRUE(decode_head(encode_head(h, c), &dh, &dc));
  EXPECT_EQ(dh.status, 207);
  EXPECT_EQ(dh.version_major, 2);
  EXPECT_EQ(dh.headers.size(), 2u);
  EXPECT_EQ(dc.connection_id, 42u);
  EXPECT_TRUE(dc.reused);
  EXPECT_EQ(dc.cipher, "TLS_AES_128_GCM_SHA256");
  EXPECT_TRUE(dc.tls_resumed);

  Error e{ErrorCode::kTlsCert, Stage::kTls, "bad cert"};
  Error de;
  ASSERT_TRUE(decode_error(encode_error(e), &de));
  EXPECT_EQ(de.code, ErrorCode::kTlsCert);
  EXPECT_EQ(de.stage, Stage::kTls);
  EXPECT_EQ(de.message, "bad cert");
  // An unknown code still settles the request.
  PayloadWriter w;
  w.str("ERR_FROM_THE_FUTURE").str("warp").str("m");
  ASSERT_TRUE(decode_error(w.take(), &de));
  EXPECT_EQ(de.code, ErrorCode::kInternal);
}

TEST(MuxMessages, HandshakeRoundTrip) {
  Hello h;
  h.version = kProtocolVersion;
  h.pid = 4242;
  h.reserved[0] = 1;
  h.reserved[31] = 2;
  Hello dh;
  ASSERT_TRUE(decode_hello(encode_hello(h), &dh));
  EXPECT_EQ(dh.pid, 4242u);
  EXPECT_EQ(dh.reserved, h.reserved);
  // Without our magic it is not a HELLO of ours.
  std::string wrong = encode_hello(h);
  wrong[0] = 'X';
  EXPECT_FALSE(decode_hello(wrong, &dh));
}

}  // namespace
