// The response sink alone, without sockets: the head event and its decoder, bodies gathered into
// one event per flush, Content-Encoding decoding and its failures, the whole-body cap, and the
// read-ahead credit that pauses a streamed body.
#include "core/response_sink.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <span>
#include <vector>

namespace ctn {
namespace {

struct RecordingEvents : EventSink {
  std::vector<Event> events;
  void deliver(Event&& event) override { events.push_back(std::move(event)); }
};

std::string gzip(const std::string& in) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, in.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

ResponseHead head_with(HeaderList headers) {
  ResponseHead head;
  head.status = 200;
  head.headers = std::move(headers);
  return head;
}

class ResponseSinkTest : public ::testing::Test {
 protected:
  asio::io_context io;
  RecordingEvents events;
  ResponseSink sink{events};
  Exchange ex{io};
  void SetUp() override { ex.spec.id = 42; }
};

TEST_F(ResponseSinkTest, HeadThenOneBodyEventPerFlush) {
  ConnectionInfo info;
  info.connection_id = 7;
  sink.begin(ex, head_with({{"content-type", "text/plain"}}), info);
  EXPECT_TRUE(ex.head_seen);
  EXPECT_FALSE(ex.decoder);
  sink.append(ex, "hello ");
  sink.append(ex, "world");
  EXPECT_EQ(ResponseSink::pending(ex), 11u);
  sink.flush(ex);
  sink.flush(ex);  // nothing gathered: no event
  ASSERT_EQ(events.events.size(), 2u);
  EXPECT_EQ(events.events[0].kind, Event::Kind::kHead);
  EXPECT_EQ(events.events[0].id, 42u);
  EXPECT_EQ(events.events[0].head.status, 200);
  EXPECT_EQ(events.events[0].connection.connection_id, 7u);
  EXPECT_EQ(events.events[1].kind, Event::Kind::kBody);
  EXPECT_EQ(events.events[1].body, "hello world");
  EXPECT_EQ(ResponseSink::pending(ex), 0u);
  EXPECT_EQ(ex.body_bytes, 11u);
}

TEST_F(ResponseSinkTest, DecodesTheContentEncodingWhenAsked) {
  ex.spec.decompress = true;
  const std::string text(100'000, 'x');
  const std::string encoded = gzip(text);
  sink.begin(ex, head_with({{"Content-Encoding", "gzip"}}), {});
  ASSERT_TRUE(ex.decoder);
  for (size_t i = 0; i < encoded.size(); i += 100) sink.append(ex, std::string_view(encoded).substr(i, 100));
  sink.finish(ex);
  EXPECT_FALSE(ResponseSink::failed(ex));
  sink.flush(ex);
  ASSERT_EQ(events.events.size(), 2u);
  EXPECT_EQ(events.events[1].body, text);
}

TEST_F(ResponseSinkTest, PassesTheEncodedBodyWhenNotAsked) {
  const std::string encoded = gzip("abc");
  sink.begin(ex, head_with({{"content-encoding", "gzip"}}), {});
  EXPECT_FALSE(ex.decoder);
  sink.append(ex, encoded);
  sink.flush(ex);
  EXPECT_EQ(events.events.back().body, encoded);
}

TEST_F(ResponseSinkTest, CorruptOrCutEncodingFailsAsAProtocolError) {
  ex.spec.decompress = true;
  sink.begin(ex, head_with({{"content-encoding", "gzip"}}), {});
  sink.append(ex, "this is not gzip at all");
  EXPECT_TRUE(ResponseSink::failed(ex));
  EXPECT_EQ(ResponseSink::failure(ex).code, ErrorCode::kProtocol);
  EXPECT_EQ(ResponseSink::failure(ex).stage, Stage::kBody);
  sink.append(ex, "more");  // dropped
  EXPECT_EQ(ResponseSink::pending(ex), 0u);

  Exchange cut{io};
  cut.spec.decompress = true;
  const std::string encoded = gzip(std::string(5000, 'y'));
  sink.begin(cut, head_with({{"content-encoding", "gzip"}}), {});
  sink.append(cut, std::string_view(encoded).substr(0, encoded.size() / 2));
  EXPECT_FALSE(ResponseSink::failed(cut));
  sink.finish(cut);
  EXPECT_TRUE(ResponseSink::failed(cut));
  EXPECT_EQ(ResponseSink::failure(cut).code, ErrorCode::kProtocol);
}

TEST_F(ResponseSinkTest, AWholeBodyPastItsCapIsTooLarge) {
  ex.spec.whole_body = true;
  ex.spec.max_response_bytes = 10;
  sink.begin(ex, head_with({}), {});
  sink.append(ex, "12345678");
  EXPECT_FALSE(ResponseSink::failed(ex));
  sink.append(ex, "901");
  EXPECT_TRUE(ResponseSink::failed(ex));
  EXPECT_EQ(ResponseSink::failure(ex).code, ErrorCode::kBodyTooLarge);
  EXPECT_EQ(ResponseSink::pending(ex), 0u);
}

TEST_F(ResponseSinkTest, TheResponseCapBoundsDecodingTooAndNamesItsOwnCode) {
  // A whole body decoded past max_response_bytes is too large; past max_decoded_bytes (smaller
  // than the response cap) it is a decompression bomb, a protocol error.
  const std::string encoded = gzip(std::string(1'000'000, 'z'));
  ex.spec.decompress = true;
  ex.spec.whole_body = true;
  ex.spec.max_response_bytes = 1000;
  ex.spec.max_decoded_bytes = 0;
  sink.begin(ex, head_with({{"content-encoding", "gzip"}}), {});
  EXPECT_TRUE(ex.decoder_capped_by_response);
  sink.append(ex, encoded);
  EXPECT_EQ(ResponseSink::failure(ex).code, ErrorCode::kBodyTooLarge);

  Exchange bomb{io};
  bomb.spec.decompress = true;
  bomb.spec.whole_body = true;
  bomb.spec.max_response_bytes = 500'000;
  bomb.spec.max_decoded_bytes = 1000;
  sink.begin(bomb, head_with({{"content-encoding", "gzip"}}), {});
  EXPECT_FALSE(bomb.decoder_capped_by_response);
  sink.append(bomb, encoded);
  EXPECT_EQ(ResponseSink::failure(bomb).code, ErrorCode::kProtocol);
}

TEST_F(ResponseSinkTest, AStreamedBodyPausesOnceItsCreditIsSpent) {
  ex.spec.consumer_credit = true;
  sink.begin(ex, head_with({}), {});
  const std::string chunk(kConsumerCreditBytes / 2, 'c');
  sink.append(ex, chunk);
  sink.flush(ex);
  EXPECT_FALSE(ex.paused);
  sink.append(ex, chunk);
  sink.flush(ex);
  EXPECT_TRUE(ex.paused);  // the engine clears it (and unacked) when the consumer asks for more
  EXPECT_EQ(ex.unacked, kConsumerCreditBytes);
}

TEST_F(ResponseSinkTest, WithoutCreditOrWhenReadWholeItNeverPauses) {
  const std::string chunk(kConsumerCreditBytes, 'c');
  sink.begin(ex, head_with({}), {});
  sink.append(ex, chunk);
  sink.flush(ex);
  EXPECT_FALSE(ex.paused);

  Exchange whole{io};
  whole.spec.consumer_credit = true;
  whole.spec.whole_body = true;
  sink.begin(whole, head_with({}), {});
  sink.append(whole, chunk);
  sink.flush(whole);
  EXPECT_FALSE(whole.paused);
}

// A direct read: the bytes are read into room at the end of the body; what did not come is given
// back, and the body is exactly what was placed.
TEST_F(ResponseSinkTest, BodySpaceTakesBytesReadStraightIntoTheBody) {
  sink.begin(ex, head_with({{"Content-Length", "10"}}), {});
  EXPECT_EQ(ex.content_length, 10);
  sink.append(ex, "ab");
  std::span<char> space = sink.body_space(ex, 8, 8);
  ASSERT_EQ(space.size(), 8u);
  std::memcpy(space.data(), "cde", 3);
  sink.commit(ex, space.size(), 3);
  EXPECT_EQ(ResponseSink::pending(ex), 5u);
  EXPECT_EQ(ex.body_bytes, 5u);
  space = sink.body_space(ex, 5, 5);
  ASSERT_EQ(space.size(), 5u);
  sink.commit(ex, space.size(), 0);  // the read failed: nothing placed
  space = sink.body_space(ex, 5, 5);
  std::memcpy(space.data(), "fghij", 5);
  sink.commit(ex, space.size(), 5);
  sink.flush(ex);
  ASSERT_EQ(events.events.size(), 2u);
  EXPECT_EQ(events.events[1].body, "abcdefghij");
  EXPECT_EQ(ex.body_bytes, 10u);
}

// Bytes that need work go through append: a decoder, a failed body, or a whole body whose framing
// promises more than max_response_bytes (append then reports it, as without direct reads).
TEST_F(ResponseSinkTest, BodySpaceIsRefusedWhereAppendMustSeeTheBytes) {
  ex.spec.decompress = true;
  sink.begin(ex, head_with({{"Content-Encoding", "gzip"}}), {});
  EXPECT_TRUE(sink.body_space(ex, 100, 100).empty());

  Exchange capped{io};
  capped.spec.whole_body = true;
  capped.spec.max_response_bytes = 100;
  sink.begin(capped, head_with({{"Content-Length", "101"}}), {});
  const std::span<char> fits = sink.body_space(capped, 50, 100);  // 100 promised, 100 allowed
  EXPECT_EQ(fits.size(), 50u);
  sink.commit(capped, fits.size(), 0);
  EXPECT_TRUE(sink.body_space(capped, 50, 101).empty());
  sink.append(capped, std::string(101, 'x'));
  EXPECT_TRUE(ResponseSink::failed(capped));
  EXPECT_EQ(ResponseSink::failure(capped).code, ErrorCode::kBodyTooLarge);
  EXPECT_TRUE(sink.body_space(capped, 1, 1).empty()) << "given up: the rest is dropped";
}

// The body's buffer is sized once from the head's Content-Length (HTTP/2 gives the sink no other
// hint): 64 DATA frames of 16 KiB fill one buffer that never moves.
TEST_F(ResponseSinkTest, TheHeadsContentLengthSizesTheBodyOnce) {
  ex.spec.whole_body = true;
  constexpr size_t kFrame = 16 * 1024, kFrames = 64;
  sink.begin(ex, head_with({{"content-length", std::to_string(kFrame * kFrames)}}), {});
  const std::string frame(kFrame, 'd');
  sink.append(ex, frame);
  EXPECT_GE(ex.pending_body.capacity(), kFrame * kFrames);
  const char* buffer = ex.pending_body.data();
  for (size_t i = 1; i < kFrames; ++i) sink.append(ex, frame);
  EXPECT_EQ(ex.pending_body.data(), buffer) << "reallocated (and copied) while it filled";
  EXPECT_EQ(ResponseSink::pending(ex), kFrame * kFrames);
}

// A streamed body's burst buffer (one kBodyFlushBytes burst of a longer Content-Length) is filled to
// the byte by direct reads of any size before anything would grow (and copy) it.
TEST_F(ResponseSinkTest, BodySpaceFillsTheBurstBufferBeforeGrowingIt) {
  sink.begin(ex, head_with({{"Content-Length", std::to_string(3 * kBodyFlushBytes)}}), {});
  std::span<char> space = sink.body_space(ex, 16'000, 3 * kBodyFlushBytes);
  ASSERT_FALSE(space.empty());
  const char* buffer = ex.pending_body.data();
  const size_t capacity = ex.pending_body.capacity();
  EXPECT_GE(capacity, kBodyFlushBytes);
  sink.commit(ex, space.size(), space.size());
  while (ResponseSink::pending(ex) < capacity) {
    space = sink.body_space(ex, 16'000, 3 * kBodyFlushBytes - ex.body_bytes);
    ASSERT_FALSE(space.empty());
    sink.commit(ex, space.size(), space.size());
  }
  EXPECT_EQ(ex.pending_body.data(), buffer);
  EXPECT_EQ(ResponseSink::pending(ex), capacity);
}

// A hostile Content-Length reserves no more than the request's limits allow: max_response_bytes
// for a whole body, kWholeBodyReserveBytes without one, one burst for a streamed body. The bytes
// themselves still meet the same checks (ERR_BODY_TOO_LARGE past the cap).
TEST_F(ResponseSinkTest, AHostileContentLengthReservesOnlyWhatTheLimitsAllow) {
  const std::string huge = "4000000000000000000";
  Exchange capped{io};
  capped.spec.whole_body = true;
  capped.spec.max_response_bytes = 4096;
  sink.begin(capped, head_with({{"Content-Length", huge}}), {});
  sink.append(capped, "abc");
  EXPECT_LE(capped.pending_body.capacity(), 4096u + 64u);
  EXPECT_TRUE(sink.body_space(capped, 1000, 4'000'000'000'000'000'000ull).empty());
  sink.append(capped, std::string(4094, 'x'));
  EXPECT_EQ(ResponseSink::failure(capped).code, ErrorCode::kBodyTooLarge);

  Exchange unlimited{io};
  unlimited.spec.whole_body = true;
  sink.begin(unlimited, head_with({{"Content-Length", huge}}), {});
  sink.append(unlimited, "abc");
  EXPECT_LE(unlimited.pending_body.capacity(), static_cast<size_t>(kWholeBodyReserveBytes) + 64u);

  Exchange streamed{io};
  sink.begin(streamed, head_with({{"Content-Length", huge}}), {});
  sink.append(streamed, "abc");
  EXPECT_LE(streamed.pending_body.capacity(), kBodyFlushBytes + 64u);

  Exchange garbage{io};
  sink.begin(garbage, head_with({{"Content-Length", "99999999999999999999999"}}), {});
  EXPECT_EQ(garbage.content_length, -1) << "not a number this sizes anything by";
}

}  // namespace
}  // namespace ctn
