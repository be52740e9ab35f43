// Streamed request bodies (RequestSpec::body_stream, Engine::write_body, kSent) over HTTP/1.1
// (chunked, or raw under a caller's Content-Length) and HTTP/2 (DATA frames), and upgraded
// connections (RequestSpec::upgrade: a 101 turns the connection into a two-way byte pipe, the
// transport under ws()). Real servers on 127.0.0.1 (test_server.h), every wait bounded.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "core/engine.h"
#include "core/request.h"
#include "engine_harness.h"
#include "test_server.h"

namespace {

using namespace ctn;
using namespace ctn_test;

// Reads one chunked body (RFC 9112 §7.1) from the connection; false on EOF or bad framing.
bool read_chunked(ServerConn& c, std::string* body) {
  for (;;) {
    std::string line, ch;
    while (line.size() < 2 || line.compare(line.size() - 2, 2, "\r\n") != 0) {
      if (!c.read_exact(1, &ch)) return false;
      line += ch;
      if (line.size() > 64) return false;
    }
    const uint64_t size = std::strtoull(line.c_str(), nullptr, 16);
    std::string data;
    if (!c.read_exact(size + 2, &data) || data.compare(size, 2, "\r\n") != 0) return false;
    if (size == 0) return true;
    body->append(data, 0, size);
  }
}

std::string pattern(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + (i * 7 + i / 251) % 61);
  return s;
}

class EngineUploadTest : public EngineFixture {
 protected:
  RequestSpec spec(bool tls, uint16_t port, std::string method, std::string target = "/") {
    RequestSpec r =
        loopback_request(next_id_++, tls, "127.0.0.1", port, std::move(method), std::move(target));
    r.timeout_ms = 8000;
    return r;
  }
  // Writes `body` in pieces of `piece` bytes, then the end.
  void write_in_pieces(uint64_t id, const std::string& body, size_t piece) {
    for (size_t off = 0; off < body.size(); off += piece)
      engine_->write_body(id, body.substr(off, piece), false);
    engine_->write_body(id, {}, true);
  }
};

// A body of unknown length goes chunked; every byte arrives in order, kSent accounts for all of
// it, and the connection is kept for the next request.
TEST_F(EngineUploadTest, ChunkedUploadOverHttp1IsExactAndTheConnectionIsReused) {
  for (const bool tls : {false, true}) {
    SCOPED_TRACE(tls ? "https" : "http");
    const std::string body = pattern(3 * 1024 * 1024 + 17, 'a');
    std::atomic<bool> chunked{false};
    std::string got;
    TestServer server(
        [&](ServerConn& c) {
          std::string head;
          while (c.read_head(&head)) {
            if (head.find("POST") == 0) {
              chunked = header_value(head, "transfer-encoding") == "chunked" &&
                        header_value(head, "content-length").empty();
              got.clear();
              if (!read_chunked(c, &got)) return;
              if (!c.write(response("stored " + std::to_string(got.size())))) return;
            } else if (!c.write(response("next"))) {
              return;
            }
          }
        },
        ServerOptions{tls});
    RequestSpec s = spec(tls, server.port(), "POST", "/upload");
    s.body_stream = true;
    const uint64_t id = submit(std::move(s));
    write_in_pieces(id, body, 100'000);
    AWAIT(r, id);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_TRUE(chunked.load());
    EXPECT_EQ(r.body, "stored " + std::to_string(body.size()));
    EXPECT_TRUE(got == body) << "the uploaded bytes differ";
    EXPECT_EQ(r.sent, body.size());
    const uint64_t next = submit(spec(tls, server.port(), "GET", "/next"));
    AWAIT(rn, next);
    ASSERT_TRUE(rn.ok()) << rn.describe();
    EXPECT_TRUE(rn.connection.reused);
  }
}

// The caller's Content-Length: the pieces go out as they are, no chunk framing.
TEST_F(EngineUploadTest, StreamedUploadUnderACallersContentLengthIsRaw) {
  const std::string body = pattern(200'000, 'k');
  std::string raw;
  TestServer server([&](ServerConn& c) {
    if (c.read_request(&raw)) c.write(response("ok"));
  });
  RequestSpec s = spec(false, server.port(), "PUT", "/raw");
  s.body_stream = true;
  s.headers.push_back({"Content-Length", std::to_string(body.size())});
  const uint64_t id = submit(std::move(s));
  write_in_pieces(id, body, 7'000);
  AWAIT(r, id);
  ASSERT_TRUE(r.ok()) << r.describe();
  ASSERT_GE(raw.size(), body.size());
  EXPECT_TRUE(raw.compare(raw.size() - body.size(), body.size(), body) == 0);
  EXPECT_EQ(header_value(raw, "transfer-encoding"), "");
}

// Pieces that come late (the head long gone, the server waiting) and an empty body that only ends.
TEST_F(EngineUploadTest, LatePiecesAndAnEmptyStreamedBody) {
  TestServer server([&](ServerConn& c) {
    std::string head, got;
    while (c.read_head(&head)) {
      got.clear();
      if (!read_chunked(c, &got) || !c.write(response("<" + got + ">"))) return;
    }
  });
  RequestSpec s = spec(false, server.port(), "POST", "/late");
  s.body_stream = true;
  const uint64_t id = submit(std::move(s));
  ASSERT_TRUE(server.wait_for([&] { return server.connections() > 0; }));
  std::this_thread::sleep_for(100ms);
  engine_->write_body(id, "first,", false);
  std::this_thread::sleep_for(50ms);
  engine_->write_body(id, "second", false);
  engine_->write_body(id, {}, true);
  AWAIT(r, id);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.body, "<first,second>");

  RequestSpec e = spec(false, server.port(), "POST", "/empty");
  e.body_stream = true;
  const uint64_t empty = submit(std::move(e));
  engine_->write_body(empty, {}, true);
  AWAIT(re, empty);
  ASSERT_TRUE(re.ok()) << re.describe();
  EXPECT_EQ(re.body, "<>");
  EXPECT_EQ(re.sent, 0u);
}

// The server answers before the body is complete: the answer is the response, the rest of the
// body is dropped with the connection (it is mid-request), later writes are ignored.
TEST_F(EngineUploadTest, EarlyAnswerDuringAStreamedUpload) {
  TestServer server([&](ServerConn& c) {
    std::string head;
    if (!c.read_head(&head)) return;
    if (head.find("/early") != std::string::npos) {
      c.write("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 4\r\n\r\nbig!");
      c.stall();
      return;
    }
    c.write(response("fine"));
  });
  RequestSpec s = spec(false, server.port(), "POST", "/early");
  s.body_stream = true;
  const uint64_t id = submit(std::move(s));
  engine_->write_body(id, std::string(10'000, 'x'), false);
  AWAIT(r, id);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.head.status, 413);
  EXPECT_EQ(r.body, "big!");
  engine_->write_body(id, std::string(10'000, 'y'), true);  // too late: ignored
  const uint64_t next = submit(spec(false, server.port(), "GET", "/after"));
  AWAIT(rn, next);
  ASSERT_TRUE(rn.ok()) << rn.describe();
  EXPECT_FALSE(rn.connection.reused);
}

// HTTP/2: the body goes out in DATA frames as the caller writes it, END_STREAM with the end, and
// other streams of the session go on meanwhile.
TEST_F(EngineUploadTest, StreamedUploadOverHttp2) {
  std::string why;
  if (!check_tls_profile(default_profile().tls, &why)) GTEST_SKIP() << why;
  H2Server server([](const RequestInfo& info) {
    return respond(info.method + " " + info.path + " " + std::to_string(info.body.size()) + " " +
                   (info.body.empty() ? "" : info.body.substr(0, 8)));
  });
  const std::string body = pattern(5 * 1024 * 1024 + 3, 'A');
  RequestSpec s = spec(true, server.port(), "POST", "/h2up");
  s.host = "localhost";
  s.custom_profile = nullptr;
  s.body_stream = true;
  const uint64_t id = submit(std::move(s));
  engine_->write_body(id, body.substr(0, 1000), false);
  RequestSpec g = spec(true, server.port(), "GET", "/meanwhile");
  g.host = "localhost";
  g.custom_profile = nullptr;
  const uint64_t get = submit(std::move(g));
  AWAIT(rg, get);
  ASSERT_TRUE(rg.ok()) << rg.describe();
  EXPECT_EQ(rg.connection.alpn, "h2");
  for (size_t off = 1000; off < body.size(); off += 300'000)
    engine_->write_body(id, body.substr(off, 300'000), false);
  engine_->write_body(id, {}, true);
  AWAIT(r, id);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.body, "POST /h2up " + std::to_string(body.size()) + " " + body.substr(0, 8));
  EXPECT_EQ(r.sent, body.size());
}

// The headers deadline waits for the end of a streamed body: a slow upload is not a slow server.
TEST_F(EngineUploadTest, HeadersTimeoutStartsWhenTheStreamedBodyIsComplete) {
  std::string why;
  if (!check_tls_profile(default_profile().tls, &why)) GTEST_SKIP() << why;
  H2Server h2([](const RequestInfo& info) { return respond(std::to_string(info.body.size())); });
  TestServer h1([&](ServerConn& c) {
    std::string head, got;
    while (c.read_head(&head)) {
      got.clear();
      if (!read_chunked(c, &got) || !c.write(response(std::to_string(got.size())))) return;
    }
  });
  for (const bool http2 : {false, true}) {
    SCOPED_TRACE(http2 ? "h2" : "http/1.1");
    RequestSpec s = http2 ? spec(true, h2.port(), "POST", "/slow") : spec(false, h1.port(), "POST", "/slow");
    if (http2) {
      s.host = "localhost";
      s.custom_profile = nullptr;
    }
    s.body_stream = true;
    s.headers_timeout_ms = 150;
    const uint64_t id = submit(std::move(s));
    for (int i = 0; i < 5; ++i) {
      engine_->write_body(id, std::string(1000, 'u'), false);
      std::this_thread::sleep_for(100ms);
    }
    engine_->write_body(id, {}, true);
    AWAIT(r, id);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(r.body, "5000");
  }
}

// An upgrade answered 101: the bytes after the head (in the same read) and everything after come
// as body, writes go out raw, the server's close ends the exchange. Plain and TLS.
TEST_F(EngineUploadTest, UpgradedConnectionCarriesBytesBothWays) {
  for (const bool tls : {false, true}) {
    SCOPED_TRACE(tls ? "tls" : "plain");
    std::string seen_head;
    TestServer server(
        [&](ServerConn& c) {
          if (!c.read_head(&seen_head)) return;
          if (!c.write(
                  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nhello|"))
            return;
          std::string got;
          // Echo until "bye", then close.
          while (got.find("bye") == std::string::npos) {
            std::string b;
            if (!c.read_exact(1, &b)) return;
            got += b;
            if (!c.write(b)) return;
          }
          if (tls) c.close_notify();
          c.close();
        },
        ServerOptions{tls});
    RequestSpec s = spec(tls, server.port(), "GET", "/pipe");
    s.upgrade = true;
    s.headers = {{"Connection", "Upgrade"}, {"Upgrade", "echo"}};
    s.timeout_ms = 500;  // the handshake's deadline; the pipe outlives it
    const uint64_t id = submit(std::move(s));
    ASSERT_TRUE(sink_.wait_head(id));
    EXPECT_TRUE(sink_.wait_body_bytes(id, 6));
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    engine_->write_body(id, "ping-", false);
    engine_->write_body(id, "pong-", false);
    engine_->write_body(id, "bye", false);
    AWAIT(r, id);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(r.head.status, 101);
    EXPECT_EQ(r.body, "hello|ping-pong-bye");
    EXPECT_EQ(r.sent, 13u);
    EXPECT_EQ(header_value(seen_head, "upgrade"), "echo");
    EXPECT_EQ(header_value(seen_head, "content-length"), "");
    EXPECT_EQ(header_value(seen_head, "transfer-encoding"), "");
    EXPECT_EQ(r.connection.alpn, tls ? "http/1.1" : "");
  }
}

// An upgrade the server refuses is an ordinary response; cancelling an open pipe closes it.
TEST_F(EngineUploadTest, RefusedUpgradeAndCancelledPipe) {
  std::atomic<int> closes{0};
  TestServer server([&](ServerConn& c) {
    std::string head;
    if (!c.read_head(&head)) return;
    if (head.find("/refuse") != std::string::npos) {
      c.write("HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno");
      return;
    }
    if (!c.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")) return;
    c.stall();
    closes++;
  });
  RequestSpec refused = spec(false, server.port(), "GET", "/refuse");
  refused.upgrade = true;
  const uint64_t a = submit(std::move(refused));
  AWAIT(ra, a);
  ASSERT_TRUE(ra.ok()) << ra.describe();
  EXPECT_EQ(ra.head.status, 403);
  EXPECT_EQ(ra.body, "no");

  RequestSpec open = spec(false, server.port(), "GET", "/open");
  open.upgrade = true;
  const uint64_t b = submit(std::move(open));
  ASSERT_TRUE(sink_.wait_head(b));
  engine_->cancel(b);
  AWAIT(rb, b);
  EXPECT_EQ(rb.code(), "ERR_ABORTED") << rb.describe();
  EXPECT_TRUE(server.wait_for([&] { return closes.load() == 1; }));
}

// The caller's end closes the pipe once its last bytes went out; the exchange ends normally.
TEST_F(EngineUploadTest, CallersEndClosesThePipeAfterItsLastBytes) {
  std::string got;
  std::atomic<bool> eof{false};
  TestServer server([&](ServerConn& c) {
    std::string head, b;
    if (!c.read_head(&head)) return;
    if (!c.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")) return;
    while (c.read_exact(1, &b)) got += b;
    eof = true;
  });
  RequestSpec s = spec(false, server.port(), "GET", "/bye");
  s.upgrade = true;
  const uint64_t id = submit(std::move(s));
  ASSERT_TRUE(sink_.wait_head(id));
  engine_->write_body(id, std::string(300'000, 'w'), false);
  engine_->write_body(id, "goodbye", true);
  AWAIT(r, id);
  ASSERT_TRUE(r.ok()) << r.describe();
  ASSERT_TRUE(server.wait_for([&] { return eof.load(); }));
  EXPECT_EQ(got.size(), 300'007u);
  EXPECT_EQ(got.substr(got.size() - 7), "goodbye");
}

// A paused pipe stops reading: the engine reads ahead a bounded amount for a consumer that does
// not ask for more (consumer_credit), then resumes when asked.
TEST_F(EngineUploadTest, PipeHonoursConsumerCredit) {
  constexpr size_t kTotal = 24 * 1024 * 1024;
  TestServer server([&](ServerConn& c) {
    std::string head;
    if (!c.read_head(&head)) return;
    if (!c.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")) return;
    const std::string block(1 << 20, 'z');
    for (size_t sent = 0; sent < kTotal; sent += block.size()) {
      if (!c.write(block)) return;
    }
    c.close();
  });
  RequestSpec s = spec(false, server.port(), "GET", "/flood");
  s.upgrade = true;
  s.consumer_credit = true;
  const uint64_t id = submit(std::move(s));
  ASSERT_TRUE(sink_.wait_body_bytes(id, 1));
  std::this_thread::sleep_for(300ms);
  const size_t early = sink_.snapshot(id).body.size();
  EXPECT_LT(early, 8u * 1024 * 1024) << "read ahead without bound";
  while (!sink_.snapshot(id).ended) {
    engine_->set_paused(id, false);
    std::this_thread::sleep_for(5ms);
    ASSERT_TRUE(sink_.snapshot(id).terminals == 0 || sink_.snapshot(id).ended)
        << sink_.snapshot(id).describe();
  }
  EXPECT_EQ(sink_.snapshot(id).body.size(), kTotal);
}

}  // namespace
