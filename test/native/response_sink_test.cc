// The response sink alone, without sockets: the head event and its decoder, bodies gathered into
// one event per flush, Content-Encoding decoding and its failures, the whole-body cap, and the
// read-ahead credit that pauses a streamed body.
#include "core/response_sink.h"

#include <gtest/gtest.h>
#include <zlib.h>

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

}  // namespace
}  // namespace ctn
