// Tests for the HTTP/1.x response parser and request writer.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "common/http_types.h"
#include "http1/request_writer.h"
#include "http1/response_parser.h"

namespace ctn::http1 {
namespace {

using namespace std::string_literals;
using Status = ResponseParser::Status;

// Records every listener event so that differently-split feeds can be compared.
class Recorder : public ResponseListener {
 public:
  void on_head(ResponseHead&& h) override {
    ++head_calls;
    head = std::move(h);
    events.push_back("head");
  }
  void on_body(std::string_view bytes) override {
    ++body_calls;
    body.append(bytes);
    // Consecutive slices are one logical event; how many there are depends on the split.
    if (events.empty() || events.back() != "body") events.push_back("body");
  }
  void on_trailers(HeaderList&& t) override {
    ++trailer_calls;
    trailers = std::move(t);
    events.push_back("trailers");
  }
  void on_complete() override {
    ++complete_calls;
    events.push_back("complete");
  }

  std::vector<std::string> events;
  ResponseHead head;
  std::string body;
  HeaderList trailers;
  int head_calls = 0;
  int body_calls = 0;
  int trailer_calls = 0;
  int complete_calls = 0;
};

std::string Escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string DescribeHeaders(const HeaderList& headers) {
  std::string out;
  for (const auto& h : headers) {
    out.append("[").append(Escape(h.name)).append("=").append(Escape(h.value)).append("]");
  }
  return out;
}

struct RunOptions {
  bool head_request = false;
  bool eof = false;  // call finish_eof() after feeding everything
  ParserLimits limits;
};

// Feeds `input` in pieces cut at `cuts` (ascending offsets) and returns a canonical description of
// everything observable. Stops feeding once the parser is complete or failed, like a caller would.
std::string Drive(std::string_view input, const std::vector<size_t>& cuts, const RunOptions& options = {}) {
  Recorder rec;
  ResponseParser parser(rec, options.limits);
  parser.reset(options.head_request);
  size_t consumed = 0;
  size_t from = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(input.size());
  for (size_t to : ends) {
    if (parser.complete() || parser.status() == Status::kError) break;
    const size_t n = parser.feed(input.substr(from, to - from));
    consumed += n;
    if (n < to - from && !parser.complete() && parser.status() == Status::kOk) {
      ADD_FAILURE() << "feed stopped early without completing or failing";
    }
    if (n < to - from) break;
    from = to;
  }
  std::optional<bool> eof;
  if (options.eof) eof = parser.finish_eof();

  // Internal consistency that must hold for any input.
  EXPECT_LE(rec.head_calls, 1);
  EXPECT_LE(rec.complete_calls, 1);
  EXPECT_LE(rec.trailer_calls, 1);
  EXPECT_EQ(parser.complete(), rec.complete_calls == 1);
  if (parser.complete()) {
    EXPECT_EQ(rec.head_calls, 1);
    EXPECT_EQ(parser.status(), Status::kOk);
  }
  if (parser.status() == Status::kError) {
    EXPECT_FALSE(parser.error().empty());
  }

  std::string d;
  for (const auto& e : rec.events) d += e + ",";
  if (rec.head_calls > 0) {
    d += " status=" + std::to_string(rec.head.status) + " v=" + std::to_string(rec.head.version_major) + "." +
         std::to_string(rec.head.version_minor) + " reason=" + Escape(rec.head.reason) +
         " headers=" + DescribeHeaders(rec.head.headers) + " cl=" + std::to_string(parser.content_length());
  }
  d += " body=" + Escape(rec.body);
  d += " trailers=" + DescribeHeaders(rec.trailers);
  d += parser.status() == Status::kOk ? " ok" : " error=" + parser.error();
  // On failure the count is only "up to the failure", which depends on where the input was cut.
  if (parser.status() == Status::kOk) d += " consumed=" + std::to_string(consumed);
  if (parser.complete()) d += parser.keep_alive() ? " keep-alive" : " close";
  if (eof) d += *eof ? " eof=true" : " eof=false";
  return d;
}

std::string DriveWhole(std::string_view input, const RunOptions& options = {}) {
  return Drive(input, {}, options);
}

std::vector<size_t> EveryByte(size_t n) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < n; ++i) cuts.push_back(i);
  return cuts;
}

// Convenience for the direct tests: a parser with its recorder.
struct Harness {
  explicit Harness(ParserLimits limits = {}) : parser(rec, limits) {}
  Recorder rec;
  ResponseParser parser;
};

// ---------------------------------------------------------------------------------------------
// Framing

TEST(ResponseParser, ContentLengthBody) {
  Harness h;
  const std::string in = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Thing: a\r\n\r\nhello";
  EXPECT_FALSE(h.parser.started());
  EXPECT_EQ(h.parser.feed(in), in.size());
  EXPECT_TRUE(h.parser.started());
  EXPECT_TRUE(h.parser.complete());
  EXPECT_EQ(h.parser.status(), Status::kOk);
  EXPECT_EQ(h.rec.head.status, 200);
  EXPECT_EQ(h.rec.head.reason, "OK");
  EXPECT_EQ(h.rec.head.version_major, 1);
  EXPECT_EQ(h.rec.head.version_minor, 1);
  EXPECT_EQ(h.rec.body, "hello");
  EXPECT_EQ(h.rec.body_calls, 1);  // bulk slice, not per byte
  EXPECT_EQ(h.parser.content_length(), 5);
  EXPECT_TRUE(h.parser.keep_alive());
  EXPECT_EQ(h.rec.events, (std::vector<std::string>{"head", "body", "complete"}));
  EXPECT_EQ(h.parser.feed("more"), 0u);  // complete: nothing more is consumed
}

TEST(ResponseParser, ContentLengthZeroCompletesAtHead) {
  Harness h;
  const std::string in = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  EXPECT_EQ(h.parser.feed(in), in.size());
  EXPECT_TRUE(h.parser.complete());
  EXPECT_EQ(h.rec.body_calls, 0);
  EXPECT_EQ(h.parser.content_length(), 0);
}

TEST(ResponseParser, HeadersKeepCasingOrderAndDuplicates) {
  Harness h;
  h.parser.feed(
      "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-UPPER: V\r\nset-cookie: b=2\r\nx-empty:\r\n"
      "X-Spaces: \t padded value \t \r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(h.parser.complete());
  const HeaderList& hs = h.rec.head.headers;
  ASSERT_EQ(hs.size(), 6u);
  EXPECT_EQ(hs[0].name, "Set-Cookie");
  EXPECT_EQ(hs[0].value, "a=1");
  EXPECT_EQ(hs[1].name, "X-UPPER");
  EXPECT_EQ(hs[1].value, "V");
  EXPECT_EQ(hs[2].name, "set-cookie");
  EXPECT_EQ(hs[2].value, "b=2");
  EXPECT_EQ(hs[3].name, "x-empty");
  EXPECT_EQ(hs[3].value, "");
  EXPECT_EQ(hs[4].value, "padded value");
}

TEST(ResponseParser, ReasonVariants) {
  {
    Harness h;
    h.parser.feed("HTTP/1.1 204\r\n\r\n");
    EXPECT_TRUE(h.parser.complete());
    EXPECT_EQ(h.rec.head.status, 204);
    EXPECT_EQ(h.rec.head.reason, "");
  }
  {
    Harness h;
    h.parser.feed("HTTP/1.1 204 \r\n\r\n");
    EXPECT_TRUE(h.parser.complete());
    EXPECT_EQ(h.rec.head.reason, "");
  }
  {
    Harness h;
    h.parser.feed("HTTP/1.1 404 Not  Found\t\xE9\r\nContent-Length: 0\r\n\r\n");
    EXPECT_TRUE(h.parser.complete());
    EXPECT_EQ(h.rec.head.reason, "Not  Found\t\xE9");
  }
}

TEST(ResponseParser, BareLineFeedsAccepted) {
  Harness h;
  const std::string in = "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n3\nabc\n0\nX-T: 1\n\n";
  EXPECT_EQ(h.parser.feed(in), in.size());
  EXPECT_TRUE(h.parser.complete());
  EXPECT_EQ(h.rec.body, "abc");
  ASSERT_EQ(h.rec.trailers.size(), 1u);
  EXPECT_EQ(h.rec.trailers[0].value, "1");
}

TEST(ResponseParser, LeadingBlankLinesTolerated) {
  Harness h;
  const std::string in = "\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx";
  EXPECT_EQ(h.parser.feed(in), in.size());
  EXPECT_TRUE(h.parser.complete());
  EXPECT_EQ(h.rec.body, "x");
}

TEST(ResponseParser, ChunkedBody) {
  Harness h;
  const std::string in =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\nA\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n";
  EXPECT_EQ(h.parser.feed(in), in.size());
  EXPECT_TRUE(h.parser.complete());
  EXPECT_EQ(h.rec.body, "hello0123456789abcdefghij");
  EXPECT_EQ(h.rec.body_calls, 3);  // one per chunk
  EXPECT_EQ(h.rec.trailer_calls, 0);
  EXPECT_EQ(h.parser.content_length(), -1);
  EXPECT_TRUE(h.parser.keep_alive());
  EXPECT_EQ(h.rec.events, (std::vector<std::string>{"head", "body", "complete"}));
}

// A caller that places framed body bytes itself (the HTTP/1.1 channel reads them straight into the
// body) and feeds everything else: at most `place` bytes per skip_body, `piece` per feed().
struct Placed {
  std::string body;
  size_t consumed = 0;
  bool complete = false;
  bool keep_alive = false;
  HeaderList trailers;
};
Placed DrivePlacing(std::string_view input, size_t place, size_t piece) {
  Harness h;
  Placed out;
  size_t pos = 0;
  while (pos < input.size() && !h.parser.complete() && h.parser.status() == Status::kOk) {
    if (const uint64_t left = h.parser.framed_body_left(); left > 0) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>({left, place, input.size() - pos}));
      h.rec.body.append(input.substr(pos, n));
      h.parser.skip_body(n);
      pos += n;
      continue;
    }
    const size_t n = h.parser.feed(input.substr(pos, std::min(piece, input.size() - pos)));
    pos += n;
    if (n == 0) break;
  }
  EXPECT_EQ(h.parser.status(), Status::kOk) << h.parser.error();
  EXPECT_LE(h.rec.complete_calls, 1);
  out.body = h.rec.body;
  out.consumed = pos;
  out.complete = h.parser.complete();
  out.keep_alive = h.parser.keep_alive();
  out.trailers = h.rec.trailers;
  return out;
}

TEST(ResponseParser, FramedBodyBytesPlacedByTheCallerMatchOneFeed) {
  std::string body(40'000, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 7 % 251);
  const std::string next = "HTTP/1.1 204 No Content\r\n\r\n";  // pipelined: never consumed
  std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  size_t at = 0;
  for (const size_t size : std::vector<size_t>{1, 16'384, 3, 16'385, 7'227}) {
    char line[32];
    std::snprintf(line, sizeof line, size == 3 ? "%zx;ext=1\r\n" : "%zX\r\n", size);
    chunked += line + body.substr(at, size) + "\r\n";
    at += size;
  }
  chunked += "0\r\nX-Trailer: t\r\n\r\n";
  const std::string length =
      "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  for (const std::string& message : {length, chunked}) {
    const std::string input = message + next;
    Harness whole;
    const size_t whole_consumed = whole.parser.feed(input);
    ASSERT_TRUE(whole.parser.complete());
    ASSERT_EQ(whole.rec.body, body);
    for (const size_t place : std::vector<size_t>{1, 2, 7, 16'384, 100'000}) {
      for (const size_t piece : std::vector<size_t>{1, 5, 4'096, 1'000'000}) {
        const Placed p = DrivePlacing(input, place, piece);
        EXPECT_TRUE(p.complete) << "place " << place << " piece " << piece;
        EXPECT_TRUE(p.body == body) << "place " << place << " piece " << piece;
        EXPECT_EQ(p.consumed, whole_consumed) << "place " << place << " piece " << piece;
        EXPECT_EQ(p.keep_alive, whole.parser.keep_alive());
        EXPECT_EQ(DescribeHeaders(p.trailers), DescribeHeaders(whole.rec.trailers));
      }
    }
  }
}

TEST(ResponseParser, FramedBodyLeftIsOnlyBodyTheFramingPromises) {
  Harness h;
  EXPECT_EQ(h.parser.framed_body_left(), 0u);
  h.parser.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab");
  EXPECT_EQ(h.parser.framed_body_left(), 8u);
  h.parser.skip_body(100);  // never past the framing
  EXPECT_TRUE(h.parser.complete());
  EXPECT_EQ(h.rec.complete_calls, 1);
  EXPECT_EQ(h.parser.framed_body_left(), 0u);
  h.parser.skip_body(5);  // nothing promised: no effect
  EXPECT_EQ(h.rec.complete_calls, 1);

  Harness c;
  c.parser.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r");
  EXPECT_EQ(c.parser.framed_body_left(), 0u) << "inside a chunk-size line";
  c.parser.skip_body(3);
  c.parser.feed("\n");
  EXPECT_EQ(c.parser.framed_body_left(), 4u);
  c.parser.skip_body(4);
  EXPECT_EQ(c.parser.framed_body_left(), 0u) << "the CRLF after the data is framing";
  EXPECT_FALSE(c.parser.complete());
  EXPECT_EQ(c.parser.feed("\r\n0\r\n\r\n"), 7u);
  EXPECT_TRUE(c.parser.complete());

  Harness e;
  e.parser.feed("HTTP/1.1 200 OK\r\n\r\nclose-delimited");
  EXPECT_EQ(e.parser.framed_body_left(), 0u);
  Harness t;
  t.parser.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
  t.parser.skip_body(2);
  EXPECT_FALSE(t.parser.finish_eof()) << "a placed but short body is still cut short";
}

TEST(ResponseParser, ChunkExtensionsIgnored) {
  Harness h;
  const std::string in =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;name=value;flag\r\nhello\r\n3 ; x=\"q;uoted\"\r\nabc\r\n000;last\r\n\r\n";
  EXPECT_EQ(h.parser.feed(in), in.size());
  EXPECT_TRUE(h.parser.complete());
  EXPECT_EQ(h.rec.body, "helloabc");
}

TEST(ResponseParser, ChunkSizeLeadingZerosAreNotOverflow) {
  Harness h;
  h.parser.feed(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "00000000000000000000000000000002\r\nhi\r\n0\r\n\r\n");
  EXPECT_TRUE(h.parser.complete());
  EXPECT_EQ(h.rec.body, "hi");
}

TEST(ResponseParser, Trailers) {
  Harness h;
  const std::string in =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "2\r\nok\r\n0\r\nX-Checksum: abc\r\nserver-timing: db;dur=53\r\nX-Checksum: def\r\n\r\n";
  EXPECT_EQ(h.parser.feed(in), in.size());
  EXPECT_TRUE(h.parser.complete());
  EXPECT_EQ(h.rec.events, (std::vector<std::string>{"head", "body", "trailers", "complete"}));
  ASSERT_EQ(h.rec.trailers.size(), 3u);
  EXPECT_EQ(h.rec.trailers[0].name, "X-Checksum");
  EXPECT_EQ(h.rec.trailers[1].name, "server-timing");
  EXPECT_EQ(h.rec.trailers[1].value, "db;dur=53");
  EXPECT_EQ(h.rec.trailers[2].value, "def");
}

TEST(ResponseParser, TransferEncodingOverridesContentLength) {
  Harness h;
  const std::string in =
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n0\r\n\r\n";
  EXPECT_EQ(h.parser.feed(in), in.size());
  EXPECT_TRUE(h.parser.complete());
  EXPECT_EQ(h.rec.body, "abc");
  EXPECT_EQ(h.parser.content_length(), -1);
  // Conflicting framing may mean someone upstream framed it differently: don't reuse.
  EXPECT_FALSE(h.parser.keep_alive());
}

TEST(ResponseParser, TransferEncodingFinalCodingDecides) {
  const std::string chunked_body = "3\r\nabc\r\n0\r\n\r\n";
  for (const char* te :
       {"gzip, chunked", "CHUNKED", "gzip\r\nTransfer-Encoding: chunked", "chunked;q=1", "gzip,,chunked, "}) {
    Harness h;
    const std::string in =
        std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: ") + te + "\r\n\r\n" + chunked_body;
    EXPECT_EQ(h.parser.feed(in), in.size()) << te;
    EXPECT_TRUE(h.parser.complete()) << te;
    EXPECT_EQ(h.rec.body, "abc") << te;
    EXPECT_TRUE(h.parser.keep_alive()) << te;
  }
  {
    // chunked not last: the body runs to connection close.
    Harness h;
    const std::string in = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nrawbytes";
    EXPECT_EQ(h.parser.feed(in), in.size());
    EXPECT_FALSE(h.parser.complete());
    EXPECT_TRUE(h.parser.finish_eof());
    EXPECT_EQ(h.rec.body, "rawbytes");
    EXPECT_FALSE(h.parser.keep_alive());
  }
  {
    Harness h;
    h.parser.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: , \r\n\r\n");
    EXPECT_EQ(h.parser.status(), Status::kError);
    EXPECT_EQ(h.parser.error(), "invalid transfer-encoding");
  }
}

TEST(ResponseParser, Http10ChunkedIsNotReused) {
  Harness h;
  h.parser.feed(
      "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
      "1\r\nx\r\n0\r\n\r\n");
  EXPECT_TRUE(h.parser.complete());
  EXPECT_EQ(h.rec.body, "x");
  EXPECT_FALSE(h.parser.keep_alive());
}

TEST(ResponseParser, CloseDelimitedBody) {
  Harness h;
  const std::string in = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nabc";
  EXPECT_EQ(h.parser.feed(in), in.size());
  EXPECT_EQ(h.parser.feed("def"), 3u);
  EXPECT_FALSE(h.parser.complete());
  EXPECT_EQ(h.parser.content_length(), -1);
  EXPECT_TRUE(h.parser.finish_eof());
  EXPECT_TRUE(h.parser.complete());
  EXPECT_EQ(h.rec.body, "abcdef");
  EXPECT_EQ(h.rec.complete_calls, 1);
  EXPECT_FALSE(h.parser.keep_alive());
}

TEST(ResponseParser, HeadRequestHasNoBody) {
  Harness h;
  h.parser.reset(true);
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
  EXPECT_EQ(h.parser.feed(head + "HTTP/1.1 200 OK\r\n"), head.size());
  EXPECT_TRUE(h.parser.complete());
  EXPECT_EQ(h.rec.body_calls, 0);
  EXPECT_EQ(h.parser.content_length(), 0);
  EXPECT_TRUE(h.parser.keep_alive());
  // Chunked framing on a HEAD response is equally meaningless.
  h.parser.reset(true);
  EXPECT_EQ(h.parser.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n"), 47u);
  EXPECT_TRUE(h.parser.complete());
}

TEST(ResponseParser, NoBodyStatuses) {
  for (const char* line : {"HTTP/1.1 204 No Content", "HTTP/1.1 304 Not Modified"}) {
    Harness h;
    // Even with framing headers the message has no body; they describe the selected resource.
    const std::string head =
        std::string(line) + "\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n";
    EXPECT_EQ(h.parser.feed(head + "garbage"), head.size()) << line;
    EXPECT_TRUE(h.parser.complete()) << line;
    EXPECT_EQ(h.rec.body_calls, 0) << line;
    EXPECT_TRUE(h.parser.keep_alive()) << line;
  }
  {
    // A 304 with a broken content-length is not an error: the field is not framing here.
    Harness h;
    h.parser.feed("HTTP/1.1 304 Not Modified\r\nContent-Length: nope\r\n\r\n");
    EXPECT_TRUE(h.parser.complete());
    EXPECT_EQ(h.parser.status(), Status::kOk);
  }
}

TEST(ResponseParser, InterimResponsesAreSkipped) {
  Harness h;
  const std::string in =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  EXPECT_EQ(h.parser.feed(in), in.size());
  EXPECT_TRUE(h.parser.complete());
  EXPECT_EQ(h.rec.head_calls, 1);
  EXPECT_EQ(h.rec.head.status, 200);
  ASSERT_EQ(h.rec.head.headers.size(), 1u);  // nothing leaks from the 103
  EXPECT_EQ(h.rec.head.headers[0].name, "Content-Length");
  EXPECT_EQ(h.rec.body, "ok");
}

TEST(ResponseParser, InterimThenSeparateFeed) {
  Harness h;
  EXPECT_EQ(h.parser.feed("HTTP/1.1 100 Continue\r\n\r\n"), 25u);
  EXPECT_TRUE(h.parser.started());
  EXPECT_FALSE(h.parser.complete());
  EXPECT_EQ(h.rec.head_calls, 0);
  h.parser.feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  EXPECT_TRUE(h.parser.complete());
  EXPECT_EQ(h.rec.head.status, 200);
}

TEST(ResponseParser, InterimOnHeadRequestStillSkipped) {
  Harness h;
  h.parser.reset(true);
  h.parser.feed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n");
  EXPECT_TRUE(h.parser.complete());
  EXPECT_EQ(h.rec.head.status, 200);
}

TEST(ResponseParser, SwitchingProtocols) {
  Harness h;
  const std::string head =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
  const std::string in = head + std::string("\x81\x05hello", 7);
  EXPECT_EQ(h.parser.feed(in), head.size());
  EXPECT_TRUE(h.parser.complete());
  EXPECT_EQ(h.rec.events, (std::vector<std::string>{"head", "complete"}));
  EXPECT_EQ(h.rec.head.status, 101);
  EXPECT_FALSE(h.parser.keep_alive());
  EXPECT_EQ(h.parser.content_length(), -1);
  EXPECT_TRUE(h.parser.finish_eof());
}

// ---------------------------------------------------------------------------------------------
// Content-length validation

TEST(ResponseParser, ContentLengthDuplicatesAgreeing) {
  for (const char* fields : {"Content-Length: 5\r\nContent-Length: 5", "Content-Length: 5, 5",
                             "Content-Length: 5,5\r\ncontent-length: 5", "Content-Length:  005 "}) {
    Harness h;
    h.parser.feed(std::string("HTTP/1.1 200 OK\r\n") + fields + "\r\n\r\nhello");
    EXPECT_TRUE(h.parser.complete()) << fields;
    EXPECT_EQ(h.rec.body, "hello") << fields;
    EXPECT_EQ(h.parser.content_length(), 5) << fields;
  }
}

TEST(ResponseParser, ContentLengthInvalid) {
  for (const char* fields :
       {"Content-Length: 5\r\nContent-Length: 6", "Content-Length: 5, 6", "Content-Length: abc",
        "Content-Length: -1", "Content-Length: +5", "Content-Length: 5 5",
        "Content-Length: ", "Content-Length: 5,", "Content-Length: 0x10",
        "Content-Length: 99999999999999999999", "Content-Length: 9223372036854775808"}) {
    Harness h;
    h.parser.feed(std::string("HTTP/1.1 200 OK\r\n") + fields + "\r\n\r\nhello");
    EXPECT_EQ(h.parser.status(), Status::kError) << fields;
    EXPECT_EQ(h.parser.error(), "invalid content-length") << fields;
    EXPECT_EQ(h.rec.head_calls, 0) << fields;
    EXPECT_FALSE(h.parser.complete());
    EXPECT_EQ(h.parser.feed("x"), 0u);
  }
}

TEST(ResponseParser, ContentLengthMaxInt64Accepted) {
  Harness h;
  h.parser.feed("HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n\r\nab");
  EXPECT_EQ(h.parser.status(), Status::kOk);
  EXPECT_EQ(h.parser.content_length(), INT64_MAX);
  EXPECT_EQ(h.rec.body, "ab");
}

// ---------------------------------------------------------------------------------------------
// Malformed input

void ExpectError(const std::string& input, const std::string& message) {
  Harness h;
  h.parser.feed(input);
  EXPECT_EQ(h.parser.status(), Status::kError) << Escape(input);
  EXPECT_EQ(h.parser.error(), message) << Escape(input);
  EXPECT_FALSE(h.parser.complete()) << Escape(input);
  EXPECT_FALSE(h.parser.finish_eof());
}

TEST(ResponseParser, BadStatusLines) {
  const char* bad[] = {
      "HTTP/1.1 20 OK",  "HTTP/1.1  200 OK", "http/1.1 200 OK", "HTTP/1.1200 OK",
      "ICY 200 OK",      "HTTP/11 200 OK",   "HTTP/1.1 OK",     "HTTP/1.1",
      "HTTP/1.x 200 OK", " HTTP/1.1 200 OK", "HTTP/1.1 2O0 OK",
  };
  for (const char* line : bad) {
    Harness h;
    h.parser.feed(std::string(line) + "\r\n\r\n");
    EXPECT_EQ(h.parser.status(), Status::kError) << line;
    EXPECT_EQ(h.rec.head_calls, 0) << line;
  }
  ExpectError("HTTP/1.1 2000 OK\r\n\r\n", "invalid status code");
  ExpectError("HTTP/1.1 200OK\r\n\r\n", "invalid status code");
  ExpectError("HTTP/1.1 099 Low\r\n\r\n", "invalid status code");
  ExpectError("HTTP/2.0 200 OK\r\n\r\n", "unsupported HTTP version");
  ExpectError("HTTP/1.2 200 OK\r\n\r\n", "unsupported HTTP version");
  ExpectError("HTTP/0.9 200 OK\r\n\r\n", "unsupported HTTP version");
  ExpectError("HTTP/1.1 200 O\x01K\r\n\r\n", "invalid character in reason phrase");
  ExpectError("HTTP/1.1 200 O\rK\r\n\r\n", "invalid character in reason phrase");
  ExpectError("garbage\r\n", "invalid status line");
}

TEST(ResponseParser, BadHeaderLines) {
  const std::string s = "HTTP/1.1 200 OK\r\n";
  ExpectError(s + "Name : v\r\n\r\n", "whitespace before colon in header line");
  ExpectError(s + "Name\t: v\r\n\r\n", "whitespace before colon in header line");
  ExpectError(s + "A: b\r\n  folded\r\n\r\n", "obsolete header line folding is not supported");
  ExpectError(s + "NoColon\r\n\r\n", "header line without a colon");
  ExpectError(s + ": v\r\n\r\n", "empty header name");
  ExpectError(s + "Na(me: v\r\n\r\n", "invalid character in header name");
  ExpectError(s + "Na\x01me: v\r\n\r\n", "invalid character in header name");
  ExpectError(s + "A: x\ry\r\n\r\n", "invalid character in header value");
  ExpectError(s + std::string("A: x\0y\r\n\r\n", 10), "invalid character in header value");
}

TEST(ResponseParser, BadChunks) {
  const std::string s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  ExpectError(s + "zz\r\n", "invalid chunk size");
  ExpectError(s + "\r\n", "invalid chunk size");
  ExpectError(s + ";ext\r\n", "invalid chunk size");
  ExpectError(s + "-5\r\n", "invalid chunk size");
  ExpectError(s + "5 5\r\n", "invalid chunk size");
  ExpectError(s + "0x5\r\n", "invalid chunk size");
  ExpectError(s + "10000000000000000\r\n", "chunk size too large");  // 2^64
  ExpectError(s + "5\r\nhelloX\r\n", "missing CRLF after chunk data");
  ExpectError(s + "5\r\nhello\r\r\n", "missing CRLF after chunk data");
  ExpectError(s + "5\r\nhello\r\n0\r\nbad trailer\r\n\r\n", "header line without a colon");
}

TEST(ResponseParser, ChunkSizeMaxAccepted) {
  Harness h;
  h.parser.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nab");
  EXPECT_EQ(h.parser.status(), Status::kOk);
  EXPECT_EQ(h.rec.body, "ab");
}

TEST(ResponseParser, BodyBeforeErrorIsDelivered) {
  Harness h;
  h.parser.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nq\r\n");
  EXPECT_EQ(h.parser.status(), Status::kError);
  EXPECT_EQ(h.rec.body, "abc");
  EXPECT_EQ(h.rec.complete_calls, 0);
}

// ---------------------------------------------------------------------------------------------
// Limits

TEST(ResponseParser, HeadByteLimitIsExact) {
  const std::string head = "HTTP/1.1 200 OK\r\nA: 1\r\nContent-Length: 0\r\n\r\n";
  {
    Harness h(ParserLimits{head.size(), 512});
    EXPECT_EQ(h.parser.feed(head), head.size());
    EXPECT_TRUE(h.parser.complete());
  }
  {
    Harness h(ParserLimits{head.size() - 1, 512});
    h.parser.feed(head);
    EXPECT_EQ(h.parser.status(), Status::kError);
    EXPECT_EQ(h.parser.error(), "header section exceeds " + std::to_string(head.size() - 1) + " bytes");
  }
  {
    // Byte by byte must hit the same limit at the same place.
    Harness h(ParserLimits{head.size() - 1, 512});
    for (char c : head) {
      if (h.parser.status() == Status::kError) break;
      h.parser.feed(std::string_view(&c, 1));
    }
    EXPECT_EQ(h.parser.status(), Status::kError);
    EXPECT_EQ(h.rec.head_calls, 0);
  }
}

TEST(ResponseParser, DefaultHeadLimitOnUnterminatedLine) {
  Harness h;
  EXPECT_EQ(h.parser.feed("HTTP/1.1 200 OK\r\nX-Big: "), 24u);
  const std::string chunk(64 * 1024, 'a');
  for (int i = 0; i < 5 && h.parser.status() == Status::kOk; ++i) h.parser.feed(chunk);
  EXPECT_EQ(h.parser.status(), Status::kError);
  EXPECT_EQ(h.parser.error(), "header section exceeds 262144 bytes");
}

TEST(ResponseParser, InterimHeadsHaveTheirOwnBudget) {
  const std::string interim = "HTTP/1.1 100 Continue\r\n\r\n";
  const std::string final_head = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  Harness h(ParserLimits{final_head.size(), 512});
  h.parser.feed(interim + interim + final_head);
  EXPECT_TRUE(h.parser.complete());
}

TEST(ResponseParser, HeaderCountLimit) {
  std::string head = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; i < 4; ++i) head.append("H").append(std::to_string(i)).append(": v\r\n");
  {
    Harness h(ParserLimits{1024, 5});
    h.parser.feed(head + "Content-Length: 0\r\n\r\n");
    EXPECT_TRUE(h.parser.complete());
  }
  {
    Harness h(ParserLimits{1024, 4});
    h.parser.feed(head + "Content-Length: 0\r\n\r\n");
    EXPECT_EQ(h.parser.status(), Status::kError);
    EXPECT_EQ(h.parser.error(), "too many header fields (max 4)");
  }
}

TEST(ResponseParser, TrailerLimits) {
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n";
  const std::string trailers = "T1: a\r\nT2: b\r\n\r\n";  // 16 bytes
  {
    // Trailers get their own budget: header section (47) + trailers (16) = 63 > limit 56.
    Harness h(ParserLimits{head.size(), 2});
    h.parser.feed(head + trailers);
    EXPECT_TRUE(h.parser.complete()) << h.parser.error();
  }
  {
    Harness h(ParserLimits{63, 2});
    h.parser.feed(head + "T1: " + std::string(60, 'a') + "\r\n\r\n");
    EXPECT_EQ(h.parser.status(), Status::kError);
    EXPECT_EQ(h.parser.error(), "trailer section exceeds 63 bytes");
  }
  {
    Harness h(ParserLimits{1024, 1});
    h.parser.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + trailers);
    EXPECT_EQ(h.parser.status(), Status::kError);
    EXPECT_EQ(h.parser.error(), "too many header fields (max 1)");
  }
}

TEST(ResponseParser, ChunkLineLimit) {
  Harness h(ParserLimits{128, 16});
  h.parser.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;" + std::string(200, 'e'));
  EXPECT_EQ(h.parser.status(), Status::kError);
  EXPECT_EQ(h.parser.error(), "chunk size line exceeds 128 bytes");
}

// ---------------------------------------------------------------------------------------------
// Keep-alive

bool KeepAlive(const std::string& status_line, const std::string& fields,
               const std::string& body = "Content-Length: 0\r\n") {
  Harness h;
  h.parser.feed(status_line + "\r\n" + fields + body + "\r\n");
  EXPECT_TRUE(h.parser.complete()) << status_line << fields;
  return h.parser.keep_alive();
}

TEST(ResponseParser, KeepAliveRules) {
  EXPECT_TRUE(KeepAlive("HTTP/1.1 200 OK", ""));
  EXPECT_TRUE(KeepAlive("HTTP/1.1 200 OK", "Connection: keep-alive\r\n"));
  EXPECT_FALSE(KeepAlive("HTTP/1.1 200 OK", "Connection: close\r\n"));
  EXPECT_FALSE(KeepAlive("HTTP/1.1 200 OK", "connection: CLOSE\r\n"));
  EXPECT_FALSE(KeepAlive("HTTP/1.1 200 OK", "Connection: keep-alive, close\r\n"));
  EXPECT_FALSE(KeepAlive("HTTP/1.1 200 OK", "Connection: x\r\nConnection: close\r\n"));
  EXPECT_TRUE(KeepAlive("HTTP/1.1 200 OK", "Connection: closed\r\n"));
  EXPECT_FALSE(KeepAlive("HTTP/1.0 200 OK", ""));
  EXPECT_TRUE(KeepAlive("HTTP/1.0 200 OK", "Connection: keep-alive\r\n"));
  EXPECT_TRUE(KeepAlive("HTTP/1.0 200 OK", "Connection: Keep-Alive\r\nKeep-Alive: timeout=5\r\n"));
  EXPECT_FALSE(KeepAlive("HTTP/1.0 200 OK", "Connection: keep-alive, close\r\n"));
  EXPECT_TRUE(KeepAlive("HTTP/1.1 204 No Content", "", ""));
  EXPECT_TRUE(KeepAlive("HTTP/1.0 304 Not Modified", "Connection: keep-alive\r\n", ""));
  {
    // Close-delimited bodies use up the connection whatever the headers say.
    Harness h;
    h.parser.feed("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nbody");
    EXPECT_TRUE(h.parser.finish_eof());
    EXPECT_FALSE(h.parser.keep_alive());
  }
}

// ---------------------------------------------------------------------------------------------
// Consumption and pipelining

TEST(ResponseParser, StopsAtMessageEnd) {
  const std::string first = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
  const std::string second = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n";
  const std::string third = "HTTP/1.1 204 No Content\r\n\r\n";
  const std::string all = first + second + third + "HTTP/1.1";
  Harness h;
  size_t off = 0;
  size_t n = h.parser.feed(all);
  EXPECT_EQ(n, first.size());
  EXPECT_EQ(h.rec.body, "abc");
  EXPECT_EQ(h.parser.feed(std::string_view(all).substr(n)), 0u);
  off += n;
  h.parser.reset(false);
  h.rec = Recorder();
  n = h.parser.feed(std::string_view(all).substr(off));
  EXPECT_EQ(n, second.size());
  EXPECT_TRUE(h.parser.complete());
  EXPECT_EQ(h.rec.body, "xy");
  off += n;
  h.parser.reset(false);
  n = h.parser.feed(std::string_view(all).substr(off));
  EXPECT_EQ(n, third.size());
  EXPECT_TRUE(h.parser.complete());
  off += n;
  h.parser.reset(false);
  EXPECT_FALSE(h.parser.started());
  EXPECT_EQ(h.parser.feed(std::string_view(all).substr(off)), 8u);
  EXPECT_TRUE(h.parser.started());
  EXPECT_FALSE(h.parser.complete());
}

TEST(ResponseParser, PartialCountsAcrossFeeds) {
  Harness h;
  EXPECT_EQ(h.parser.feed("HTTP/1.1 200 OK\r\nContent-Le"), 27u);
  EXPECT_EQ(h.parser.feed("ngth: 4\r\n\r\nab"), 13u);
  EXPECT_EQ(h.parser.feed(""), 0u);
  EXPECT_EQ(h.parser.feed("cdEXTRA"), 2u);
  EXPECT_TRUE(h.parser.complete());
  EXPECT_EQ(h.rec.body, "abcd");
}

TEST(ResponseParser, ResetClearsEverything) {
  Harness h;
  h.parser.feed("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc");
  h.parser.reset(false);
  EXPECT_FALSE(h.parser.started());
  EXPECT_FALSE(h.parser.complete());
  EXPECT_EQ(h.parser.content_length(), -1);
  h.parser.feed("bogus\r\n");
  EXPECT_EQ(h.parser.status(), Status::kError);
  h.parser.reset(false);
  EXPECT_EQ(h.parser.status(), Status::kOk);
  EXPECT_TRUE(h.parser.error().empty());
  h.rec = Recorder();
  h.parser.feed("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz");
  EXPECT_TRUE(h.parser.complete());
  EXPECT_EQ(h.rec.body, "z");
}

// ---------------------------------------------------------------------------------------------
// finish_eof in every state

struct EofCase {
  const char* name;
  std::string input;
  bool head_request;
  bool expect_result;
  bool expect_complete_event;
};

TEST(ResponseParser, FinishEofInEveryState) {
  const std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  const EofCase cases[] = {
      {"nothing received", "", false, false, false},
      {"partial status line", "HTTP/1.1 2", false, false, false},
      {"status line only", "HTTP/1.1 200 OK\r\n", false, false, false},
      {"partial header", "HTTP/1.1 200 OK\r\nContent-", false, false, false},
      {"after interim only", "HTTP/1.1 100 Continue\r\n\r\n", false, false, false},
      {"content-length body short", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", false, false, false},
      {"content-length body none", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false, false, false},
      {"chunk size line", chunked + "5", false, false, false},
      {"chunk data", chunked + "5\r\nab", false, false, false},
      {"chunk data end", chunked + "2\r\nab\r", false, false, false},
      {"before last chunk", chunked + "2\r\nab\r\n", false, false, false},
      {"trailers", chunked + "0\r\nX: y\r\n", false, false, false},
      {"last chunk without final CRLF", chunked + "0\r\n", false, false, false},
      {"close-delimited with body", "HTTP/1.1 200 OK\r\n\r\nabc", false, true, true},
      {"close-delimited no body yet", "HTTP/1.1 200 OK\r\n\r\n", false, true, true},
      {"complete", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, true, false},
      {"complete head", "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n", true, true, false},
      {"error", "nonsense\r\n", false, false, false},
  };
  for (const auto& c : cases) {
    Harness h;
    h.parser.reset(c.head_request);
    h.parser.feed(c.input);
    const int completes_before = h.rec.complete_calls;
    const bool was_error = h.parser.status() == Status::kError;
    EXPECT_EQ(h.parser.finish_eof(), c.expect_result) << c.name;
    EXPECT_EQ(h.rec.complete_calls - completes_before, c.expect_complete_event ? 1 : 0) << c.name;
    if (c.expect_result) {
      EXPECT_TRUE(h.parser.complete()) << c.name;
      EXPECT_EQ(h.parser.status(), Status::kOk) << c.name;
      // Idempotent once complete.
      EXPECT_TRUE(h.parser.finish_eof()) << c.name;
      EXPECT_LE(h.rec.complete_calls, 1) << c.name;
    } else {
      EXPECT_FALSE(h.parser.complete()) << c.name;
      EXPECT_EQ(h.parser.status(), Status::kError) << c.name;
      EXPECT_FALSE(h.parser.error().empty()) << c.name;
      if (!was_error) {
        EXPECT_NE(h.parser.error().find("connection closed"), std::string::npos) << c.name;
      }
      EXPECT_FALSE(h.parser.finish_eof()) << c.name;
    }
  }
}

TEST(ResponseParser, FinishEofDistinguishesUntouchedConnection) {
  Harness h;
  EXPECT_FALSE(h.parser.finish_eof());
  EXPECT_FALSE(h.parser.started());
  EXPECT_EQ(h.parser.error(), "connection closed before any response bytes");
}

// ---------------------------------------------------------------------------------------------
// Split invariance

struct SplitCase {
  const char* name;
  std::string input;
  RunOptions options;
};

std::vector<SplitCase> SplitCorpus() {
  std::vector<SplitCase> c;
  c.push_back({"content-length",
               "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\n"
               "hello world",
               {}});
  c.push_back({"chunked+ext+trailers",
               "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
               "4;a=b\r\nwiki\r\n5 ;x\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n"
               "Expires: never\r\nX-Sum: 42\r\n\r\n",
               {}});
  c.push_back(
      {"chunked bare LF", "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n3\nabc\nA\n0123456789\n0\n\n", {}});
  c.push_back({"interim then final",
               "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
               "HTTP/1.1 201 Created\r\nLocation: /x\r\nContent-Length: 2\r\n\r\nok",
               {}});
  c.push_back({"switching protocols + extra",
               "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n\x00\x00\x12\x04junk"s,
               {}});
  c.push_back({"204 + pipelined", "HTTP/1.1 204\r\nDate: x\r\n\r\nHTTP/1.1 200 OK\r\n", {}});
  c.push_back({"HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", RunOptions{true, false, {}}});
  c.push_back({"304", "HTTP/1.1 304 Not Modified\r\nETag: \"abc\"\r\n\r\n", {}});
  c.push_back({"http/1.0 close-delimited", "HTTP/1.0 200 OK\r\nServer: old\r\n\r\nbody until the end",
               RunOptions{false, true, {}}});
  c.push_back({"chunked + pipelined",
               "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n"
               "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\ny",
               {}});
  c.push_back({"content-length + pipelined",
               "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabcdef",
               {}});
  c.push_back({"truncated chunked at eof", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
               RunOptions{false, true, {}}});
  c.push_back({"error mid-body",
               "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\nabcX\r\n",
               {}});
  c.push_back({"error conflicting length",
               "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
               {}});
  c.push_back({"error head limit", "HTTP/1.1 200 OK\r\nX-Long: " + std::string(80, 'v') + "\r\n\r\n",
               RunOptions{false, false, ParserLimits{64, 8}}});
  c.push_back({"error trailer limit",
               "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\nB: 2\r\n\r\n",
               RunOptions{false, false, ParserLimits{64, 1}}});
  return c;
}

TEST(ResponseParser, SplitAtEveryPositionMatchesSingleFeed) {
  for (const auto& c : SplitCorpus()) {
    const std::string whole = DriveWhole(c.input, c.options);
    for (size_t i = 0; i <= c.input.size(); ++i) {
      ASSERT_EQ(Drive(c.input, {i}, c.options), whole) << c.name << " split at " << i;
    }
    ASSERT_EQ(Drive(c.input, EveryByte(c.input.size()), c.options), whole) << c.name << " byte at a time";
  }
}

TEST(ResponseParser, SplitCorpusExpectedOutcomes) {
  // Pin down the single-feed results so the invariance test is not comparing two wrong answers.
  const auto corpus = SplitCorpus();
  auto outcome = [&](const char* name) {
    for (const auto& c : corpus) {
      if (std::string_view(c.name) == name) return DriveWhole(c.input, c.options);
    }
    return std::string("missing case");
  };
  EXPECT_NE(outcome("content-length").find("body=hello world trailers= ok consumed=76"), std::string::npos)
      << outcome("content-length");
  EXPECT_NE(outcome("chunked+ext+trailers")
                .find("body=wikipedia in\\r\\n\\r\\nchunks. trailers=[Expires=never][X-Sum=42]"),
            std::string::npos)
      << outcome("chunked+ext+trailers");
  EXPECT_NE(outcome("switching protocols + extra").find("consumed=50 close"), std::string::npos)
      << outcome("switching protocols + extra");
  EXPECT_NE(outcome("204 + pipelined").find("consumed=25 keep-alive"), std::string::npos)
      << outcome("204 + pipelined");
  EXPECT_NE(outcome("http/1.0 close-delimited").find("body=body until the end"), std::string::npos);
  EXPECT_NE(outcome("http/1.0 close-delimited").find("close eof=true"), std::string::npos);
  EXPECT_NE(outcome("truncated chunked at eof").find("eof=false"), std::string::npos);
  EXPECT_NE(outcome("error mid-body").find("body=abcabc trailers= error=missing CRLF"), std::string::npos)
      << outcome("error mid-body");
  EXPECT_NE(outcome("error head limit").find("error=header section exceeds 64 bytes"), std::string::npos);
  EXPECT_NE(outcome("error trailer limit").find("error=too many header fields (max 1)"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Deterministic mutation fuzzing

std::string Mutate(std::string s, std::mt19937& rng) {
  static const std::string_view kTokens[] = {"\r\n",
                                             "\n",
                                             "\r",
                                             ":",
                                             " ",
                                             "\t",
                                             ";",
                                             ",",
                                             "0",
                                             "f",
                                             "ffffffffffffffffff",
                                             "\r\n\r\n",
                                             "Content-Length: 3\r\n",
                                             "Transfer-Encoding: chunked\r\n",
                                             "HTTP/1.1 100 Continue\r\n\r\n",
                                             "Connection: close\r\n",
                                             std::string_view("\0", 1)};
  auto pick = [&](size_t n) { return n == 0 ? 0 : static_cast<size_t>(rng() % n); };
  const int mutations = 1 + static_cast<int>(rng() % 4);
  for (int m = 0; m < mutations; ++m) {
    const size_t pos = pick(s.size() + 1);
    switch (rng() % 6) {
      case 0:  // flip a byte
        if (!s.empty()) s[pick(s.size())] = static_cast<char>(rng() & 0xff);
        break;
      case 1:  // delete a run
        if (!s.empty()) s.erase(pick(s.size()), 1 + pick(4));
        break;
      case 2:  // insert a random byte
        s.insert(s.begin() + static_cast<std::ptrdiff_t>(pos), static_cast<char>(rng() & 0xff));
        break;
      case 3: {  // insert a syntactically interesting token
        s.insert(pos, std::string(kTokens[pick(std::size(kTokens))]));
        break;
      }
      case 4:  // truncate
        s.resize(pick(s.size() + 1));
        break;
      case 5: {  // duplicate a range
        const size_t from = pick(s.size());
        const size_t len = pick(16);
        s.insert(pos, s.substr(from, len));
        break;
      }
    }
  }
  return s;
}

TEST(ResponseParser, MutationFuzzIsSplitInvariant) {
  std::vector<SplitCase> seeds = SplitCorpus();
  std::mt19937 rng(20240611u);
  const ParserLimits tight{96, 6};
  for (int iter = 0; iter < 4000; ++iter) {
    const SplitCase& seed = seeds[rng() % seeds.size()];
    const std::string input = Mutate(seed.input, rng);
    RunOptions options = seed.options;
    options.eof = (rng() & 1) != 0;
    if (rng() % 4 == 0) options.limits = tight;

    const std::string whole = DriveWhole(input, options);
    std::vector<size_t> cuts;
    for (size_t i = 1; i < input.size(); ++i) {
      if (rng() % 5 == 0) cuts.push_back(i);
    }
    ASSERT_EQ(Drive(input, cuts, options), whole) << "iteration " << iter << ": " << Escape(input);
    if (iter % 8 == 0) {
      ASSERT_EQ(Drive(input, EveryByte(input.size()), options), whole)
          << "iteration " << iter << ": " << Escape(input);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Request writer

TEST(RequestWriter, WritesHeadByteExact) {
  const HeaderList headers = {
      {"Host", "example.com"}, {"user-agent", "x/1.0"}, {"X-MiXeD", "  spaced  value "},
      {"Accept", ""},          {"cookie", "a=1"},       {"Cookie", "b=2"}};
  std::string out = "prefix|";
  std::string why;
  ASSERT_TRUE(write_request_head({"GET", "/path?q=1&r=%20", &headers}, out, &why)) << why;
  EXPECT_EQ(out,
            "prefix|GET /path?q=1&r=%20 HTTP/1.1\r\nHost: example.com\r\nuser-agent: x/1.0\r\n"
            "X-MiXeD:   spaced  value \r\nAccept: \r\ncookie: a=1\r\nCookie: b=2\r\n\r\n");
}

TEST(RequestWriter, NoHeaders) {
  std::string out;
  ASSERT_TRUE(write_request_head({"OPTIONS", "*", nullptr}, out));
  EXPECT_EQ(out, "OPTIONS * HTTP/1.1\r\n\r\n");
  out.clear();
  const HeaderList empty;
  ASSERT_TRUE(write_request_head({"CONNECT", "example.com:443", &empty}, out));
  EXPECT_EQ(out, "CONNECT example.com:443 HTTP/1.1\r\n\r\n");
  out.clear();
  ASSERT_TRUE(write_request_head({"get", "http://proxy.example/x", nullptr}, out));
  EXPECT_EQ(out, "get http://proxy.example/x HTTP/1.1\r\n\r\n");
}

TEST(RequestWriter, ValueMayContainTabAndObsText) {
  const HeaderList headers = {{"X", "a\tb\xC3\xA9"}};
  std::string out;
  ASSERT_TRUE(write_request_head({"GET", "/", &headers}, out));
  EXPECT_EQ(out, "GET / HTTP/1.1\r\nX: a\tb\xC3\xA9\r\n\r\n");
}

void ExpectRejected(std::string_view method, std::string_view target, const HeaderList& headers,
                    const std::string& why_expected) {
  std::string out = "untouched";
  std::string why;
  EXPECT_FALSE(write_request_head({method, target, &headers}, out, &why))
      << Escape(method) << " " << Escape(target);
  EXPECT_EQ(out, "untouched");
  EXPECT_EQ(why, why_expected);
  // A null `why` must be fine too.
  EXPECT_FALSE(write_request_head({method, target, &headers}, out, nullptr));
  EXPECT_EQ(out, "untouched");
}

TEST(RequestWriter, RejectsBadMethod) {
  for (std::string_view m :
       {std::string_view(""), std::string_view("G T"), std::string_view("GET\r\n"),
        std::string_view("GET\0", 4), std::string_view("GE(T"), std::string_view("GET/")}) {
    ExpectRejected(m, "/", {}, "invalid request method");
  }
}

TEST(RequestWriter, RejectsBadTarget) {
  for (std::string_view t :
       {std::string_view(""), std::string_view("/a b"), std::string_view("/a\r\nX: y"),
        std::string_view("/a\n"), std::string_view("/a\0", 3), std::string_view("/a\tb")}) {
    ExpectRejected("GET", t, {}, "invalid request target");
  }
}

TEST(RequestWriter, RejectsBadHeaderNames) {
  for (const char* name : {"", "Bad Name", "Bad:Name", "Bad\r\nName", "Na(me)", "X\x80"}) {
    ExpectRejected("GET", "/", {{"Ok", "1"}, {name, "v"}}, "invalid header name (header #1)");
  }
}

TEST(RequestWriter, RejectsBadHeaderValues) {
  for (std::string value :
       {std::string("a\r\nInjected: 1"), std::string("a\rb"), std::string("a\nb"), std::string("a\0b", 3)}) {
    ExpectRejected("GET", "/", {{"X-Val", value}}, "invalid value for header X-Val");
  }
}

TEST(RequestWriter, Chunks) {
  std::string out;
  write_chunk("hello", out);
  EXPECT_EQ(out, "5\r\nhello\r\n");
  write_chunk("", out);
  EXPECT_EQ(out, "5\r\nhello\r\n");  // an empty chunk would terminate the body
  out.clear();
  write_chunk(std::string(255, 'a'), out);
  EXPECT_EQ(out.substr(0, 4), "ff\r\n");
  EXPECT_EQ(out.size(), 4u + 255u + 2u);
  EXPECT_EQ(out.substr(out.size() - 2), "\r\n");
  out.clear();
  write_chunk(std::string(4096, 'b'), out);
  EXPECT_EQ(out.substr(0, 6), "1000\r\n");
  out.clear();
  write_last_chunk(out);
  EXPECT_EQ(out, "0\r\n\r\n");
}

TEST(RequestWriter, ChunksRoundTripThroughParser) {
  std::string wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string expected;
  for (size_t n : {1u, 15u, 16u, 17u, 300u}) {
    const std::string data(n, static_cast<char>('a' + n % 26));
    write_chunk(data, wire);
    expected += data;
  }
  write_last_chunk(wire);
  Harness h;
  EXPECT_EQ(h.parser.feed(wire), wire.size());
  EXPECT_TRUE(h.parser.complete());
  EXPECT_EQ(h.rec.body, expected);
}

}  // namespace
}  // namespace ctn::http1
