// Tests for the HTTP/2 client session: the first flight byte by byte (parsed back here, Akamai
// strings included), and request/response round trips against an in-memory nghttp2 server session.

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/http_types.h"
#include "http2/session.h"
#include "profiles/profile.h"

namespace ctn::http2 {
namespace {

using namespace std::string_literals;

// ---------------------------------------------------------------------------------------------
// Profiles (the traits the golden captures show)

Http2Priority prio(uint32_t stream, uint32_t dep, uint16_t weight, bool exclusive) {
  Http2Priority p;
  p.stream_id = stream;
  p.depends_on = dep;
  p.weight = weight;
  p.exclusive = exclusive;
  return p;
}

Http2Profile chrome_like() {
  Http2Profile p;
  p.settings = {{1, 65536}, {2, 0}, {4, 6291456}, {6, 262144}};
  p.connection_window_update = 15663105;
  p.headers_priority = true;
  p.headers_priority_spec = prio(0, 0, 256, true);
  p.pseudo_header_order = "masp";
  return p;
}

Http2Profile firefox_esr_like() {
  Http2Profile p;
  p.settings = {{1, 65536}, {2, 0}, {4, 131072}, {5, 16384}};
  p.connection_window_update = 12517377;
  p.headers_priority = true;
  p.headers_priority_spec = prio(0, 0, 42, false);
  p.first_stream_id = 3;
  p.pseudo_header_order = "mpas";
  p.stream_window_update = 12451840;
  return p;
}

Http2Profile old_firefox_like() {
  Http2Profile p;
  p.settings = {{1, 65536}, {4, 131072}, {5, 16384}};
  p.connection_window_update = 12517377;
  p.priority_frames = {prio(3, 0, 201, false), prio(5, 0, 101, false), prio(7, 0, 1, false),
                       prio(9, 7, 1, false),   prio(11, 3, 1, false),  prio(13, 0, 241, false)};
  p.headers_priority = true;
  p.headers_priority_spec = prio(0, 13, 42, false);
  p.first_stream_id = 15;
  p.pseudo_header_order = "mpas";
  return p;
}

Http2Profile safari_like() {
  Http2Profile p;
  p.settings = {{2, 0}, {3, 100}, {4, 2097152}, {9, 1}};
  p.connection_window_update = 10420225;
  p.headers_priority = false;
  p.pseudo_header_order = "msap";
  return p;
}

// Windows at their RFC defaults: 65535 for the connection and for each stream.
Http2Profile plain() {
  Http2Profile p;
  p.settings = {{2, 0}};
  return p;
}

HeaderList browser_headers() {
  return {{"User-Agent", "Mozilla/5.0 test"},
          {"Accept", "text/html"},
          {"Connection", "keep-alive"},
          {"Host", "fp.test"},
          {"Accept-Encoding", "gzip, br"},
          {"Keep-Alive", "timeout=5"},
          {"Proxy-Connection", "x"},
          {"Transfer-Encoding", "chunked"},
          {"Upgrade", "h2c"},
          {"TE", "gzip"},
          {"X-Custom-Header", "MixedCase Value"},
          {"accept-language", "en"}};
}

// ---------------------------------------------------------------------------------------------
// Parsing what the client writes

constexpr std::string_view kMagic = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

struct Frame {
  uint8_t type = 0;
  uint8_t flags = 0;
  int32_t stream = 0;
  std::string payload;
};

uint32_t be32(std::string_view s, size_t at) {
  return (uint32_t{static_cast<uint8_t>(s[at])} << 24) | (uint32_t{static_cast<uint8_t>(s[at + 1])} << 16) |
         (uint32_t{static_cast<uint8_t>(s[at + 2])} << 8) | uint32_t{static_cast<uint8_t>(s[at + 3])};
}

struct PrioritySpec {
  bool exclusive = false;
  uint32_t depends_on = 0;
  unsigned weight = 0;  // 1..256 (wire byte + 1)
};

PrioritySpec read_priority(std::string_view p) {
  const uint32_t dep = be32(p, 0);
  return PrioritySpec{(dep & 0x80000000u) != 0, dep & 0x7fffffffu,
                      static_cast<unsigned>(static_cast<uint8_t>(p[4])) + 1};
}

class Hpack {
 public:
  Hpack() {
    nghttp2_hd_inflater* raw = nullptr;
    nghttp2_hd_inflate_new(&raw);
    inflater_.reset(raw);
  }

  HeaderList decode(std::string_view block) {
    HeaderList out;
    auto* in = reinterpret_cast<const uint8_t*>(block.data());
    size_t left = block.size();
    for (;;) {
      nghttp2_nv nv;
      int flags = 0;
      const ssize_t rv = nghttp2_hd_inflate_hd2(inflater_.get(), &nv, &flags, in, left, 1);
      if (rv < 0) {
        ADD_FAILURE() << "HPACK decoding failed: " << nghttp2_strerror(static_cast<int>(rv));
        return out;
      }
      in += rv;
      left -= static_cast<size_t>(rv);
      if (flags & NGHTTP2_HD_INFLATE_EMIT) {
        out.push_back({std::string(reinterpret_cast<char*>(nv.name), nv.namelen),
                       std::string(reinterpret_cast<char*>(nv.value), nv.valuelen)});
      }
      if (flags & NGHTTP2_HD_INFLATE_FINAL) {
        nghttp2_hd_inflate_end_headers(inflater_.get());
        return out;
      }
      if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && left == 0) return out;
    }
  }

 private:
  struct Del {
    void operator()(nghttp2_hd_inflater* i) const { nghttp2_hd_inflate_del(i); }
  };
  std::unique_ptr<nghttp2_hd_inflater, Del> inflater_;
};

// Parses a client's byte stream (magic first), decoding header blocks with one HPACK context.
class FlightParser {
 public:
  std::vector<Frame> frames;
  std::vector<std::pair<int32_t, HeaderList>> blocks;  // per HEADERS (+CONTINUATION)

  void feed(std::string_view wire) {
    buf_.append(wire);
    if (!magic_done_) {
      if (buf_.size() < kMagic.size()) return;
      EXPECT_EQ(buf_.substr(0, kMagic.size()), kMagic);
      buf_.erase(0, kMagic.size());
      magic_done_ = true;
    }
    while (buf_.size() >= 9) {
      const size_t len = (size_t{static_cast<uint8_t>(buf_[0])} << 16) |
                         (size_t{static_cast<uint8_t>(buf_[1])} << 8) | static_cast<uint8_t>(buf_[2]);
      if (buf_.size() < 9 + len) return;
      Frame f;
      f.type = static_cast<uint8_t>(buf_[3]);
      f.flags = static_cast<uint8_t>(buf_[4]);
      f.stream = static_cast<int32_t>(be32(buf_, 5) & 0x7fffffffu);
      f.payload = buf_.substr(9, len);
      buf_.erase(0, 9 + len);
      on_frame(f);
      frames.push_back(std::move(f));
    }
  }

  std::vector<std::string> summary() const {
    static const char* names[] = {"DATA",         "HEADERS", "PRIORITY", "RST_STREAM",    "SETTINGS",
                                  "PUSH_PROMISE", "PING",    "GOAWAY",   "WINDOW_UPDATE", "CONTINUATION"};
    std::vector<std::string> out;
    for (const auto& f : frames) {
      std::string s = f.type < 10 ? names[f.type] : "TYPE" + std::to_string(f.type);
      if (f.type == NGHTTP2_WINDOW_UPDATE) {
        s += "(" + std::to_string(f.stream) + ",+" + std::to_string(be32(f.payload, 0) & 0x7fffffffu) + ")";
      } else if (f.type != NGHTTP2_SETTINGS && f.type != NGHTTP2_PING && f.type != NGHTTP2_GOAWAY) {
        s += "(" + std::to_string(f.stream) + ")";
      } else if (f.flags & NGHTTP2_FLAG_ACK) {
        s += "[ACK]";
      }
      out.push_back(s);
    }
    return out;
  }

  const Frame* first(uint8_t type, int32_t stream = -1) const {
    for (const auto& f : frames) {
      if (f.type == type && (stream < 0 || f.stream == stream)) return &f;
    }
    return nullptr;
  }

  // The Akamai HTTP/2 fingerprint: SETTINGS|WINDOW_UPDATE|PRIORITY|pseudo-header order.
  std::string akamai() const {
    std::string settings, wu = "00", priority, pseudo;
    if (const Frame* s = first(NGHTTP2_SETTINGS)) {
      for (size_t i = 0; i + 6 <= s->payload.size(); i += 6) {
        const unsigned id =
            (unsigned{static_cast<uint8_t>(s->payload[i])} << 8) | static_cast<uint8_t>(s->payload[i + 1]);
        if (!settings.empty()) settings += ";";
        settings += std::to_string(id) + ":" + std::to_string(be32(s->payload, i + 2));
      }
    }
    if (const Frame* w = first(NGHTTP2_WINDOW_UPDATE, 0))
      wu = std::to_string(be32(w->payload, 0) & 0x7fffffffu);
    for (const auto& f : frames) {
      if (f.type != NGHTTP2_PRIORITY) continue;
      const PrioritySpec p = read_priority(f.payload);
      if (!priority.empty()) priority += ",";
      priority += std::to_string(f.stream) + ":" + (p.exclusive ? "1" : "0") + ":" +
                  std::to_string(p.depends_on) + ":" + std::to_string(p.weight);
    }
    if (priority.empty()) priority = "0";
    if (!blocks.empty()) {
      for (const auto& h : blocks.front().second) {
        if (h.name.empty() || h.name[0] != ':') continue;
        if (!pseudo.empty()) pseudo += ",";
        pseudo += h.name.substr(1, 1);
      }
    }
    return settings + "|" + wu + "|" + priority + "|" + pseudo;
  }

 private:
  void on_frame(const Frame& f) {
    if (f.type == NGHTTP2_HEADERS) {
      std::string_view p = f.payload;
      size_t pad = 0;
      if (f.flags & NGHTTP2_FLAG_PADDED) {
        pad = static_cast<uint8_t>(p[0]);
        p.remove_prefix(1);
      }
      if (f.flags & NGHTTP2_FLAG_PRIORITY) p.remove_prefix(5);
      p.remove_suffix(pad);
      pending_.assign(p);
      pending_stream_ = f.stream;
      if (f.flags & NGHTTP2_FLAG_END_HEADERS) flush();
    } else if (f.type == NGHTTP2_CONTINUATION) {
      pending_ += f.payload;
      if (f.flags & NGHTTP2_FLAG_END_HEADERS) flush();
    }
  }
  void flush() { blocks.emplace_back(pending_stream_, hpack_.decode(pending_)); }

  std::string buf_;
  bool magic_done_ = false;
  std::string pending_;
  int32_t pending_stream_ = 0;
  Hpack hpack_;
};

// ---------------------------------------------------------------------------------------------
// The client's listener: records everything

struct Response {
  bool has_head = false;
  ResponseHead head;
  std::string body;
  size_t data_calls = 0;
  bool has_trailers = false;
  HeaderList trailers;
  bool closed = false;
  StreamClose close;
  std::vector<std::string> events;
};

class Recorder : public SessionListener {
 public:
  std::map<int32_t, Response> responses;
  std::vector<std::pair<int32_t, uint32_t>> goaways;
  std::vector<uint64_t> ping_acks;
  int settings_calls = 0;
  std::vector<int32_t> close_order;
  ClientSession* session = nullptr;
  bool consume_on_data = false;  // give bytes back at once (manual flow control)
  bool throw_on_head = false;

  void on_head(int32_t stream, ResponseHead&& head) override {
    if (throw_on_head) throw std::runtime_error("boom");
    auto& r = responses[stream];
    EXPECT_FALSE(r.has_head) << "two heads on stream " << stream;
    r.has_head = true;
    r.head = std::move(head);
    r.events.push_back("head");
  }
  void on_data(int32_t stream, std::string_view bytes) override {
    auto& r = responses[stream];
    EXPECT_TRUE(r.has_head);
    r.body.append(bytes);
    ++r.data_calls;
    if (r.events.empty() || r.events.back() != "data") r.events.push_back("data");
    if (consume_on_data && session) session->consume(stream, bytes.size());
  }
  void on_trailers(int32_t stream, HeaderList&& trailers) override {
    auto& r = responses[stream];
    r.has_trailers = true;
    r.trailers = std::move(trailers);
    r.events.push_back("trailers");
  }
  void on_stream_closed(int32_t stream, const StreamClose& close) override {
    auto& r = responses[stream];
    EXPECT_FALSE(r.closed) << "stream " << stream << " closed twice";
    r.closed = true;
    r.close = close;
    r.events.push_back("closed");
    close_order.push_back(stream);
  }
  void on_goaway(int32_t last_stream_id, uint32_t error_code, std::string_view) override {
    goaways.emplace_back(last_stream_id, error_code);
  }
  void on_settings() override { ++settings_calls; }
  void on_ping_ack(uint64_t opaque) override { ping_acks.push_back(opaque); }
};

// ---------------------------------------------------------------------------------------------
// An in-memory nghttp2 server

struct ServerRequest {
  HeaderList fields;  // pseudo-headers included, in wire order
  std::string body;
  bool ended = false;
  std::string path() const {
    const Header* h = find_header(fields, ":path");
    return h ? h->value : "";
  }
};

class TestServer {
 public:
  struct Reply {
    int status = 200;
    HeaderList headers;
    std::string body;
    HeaderList trailers;
  };
  using Handler = std::function<void(TestServer&, int32_t, const ServerRequest&)>;

  std::map<int32_t, ServerRequest> requests;
  std::vector<int32_t> request_order;
  std::map<int32_t, uint32_t> rst_received;  // RST_STREAM frames from the client
  std::map<int32_t, uint32_t> closed;        // stream close codes, server side
  size_t active = 0, max_active = 0;
  int pings = 0;
  std::vector<int32_t> pushed;  // promised stream ids, as their PUSH_PROMISE went out
  Handler handler;

  explicit TestServer(std::vector<nghttp2_settings_entry> settings = {}) {
    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &TestServer::on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, &TestServer::on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &TestServer::on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &TestServer::on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &TestServer::on_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, &TestServer::on_send);
    nghttp2_session_server_new(&session_, cbs, this);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.data(), settings.size());
  }
  ~TestServer() { nghttp2_session_del(session_); }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  nghttp2_session* session() { return session_; }

  void feed(std::string_view bytes) {
    const ssize_t rv =
        nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    ASSERT_EQ(rv, static_cast<ssize_t>(bytes.size())) << nghttp2_strerror(static_cast<int>(rv));
  }
  std::string drain() {
    std::string out;
    for (;;) {
      const uint8_t* data = nullptr;
      const ssize_t n = nghttp2_session_mem_send(session_, &data);
      EXPECT_GE(n, 0);
      if (n <= 0) break;
      out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    }
    return out;
  }

  void respond(int32_t stream, Reply reply) {
    std::vector<std::string> storage;
    storage.reserve(1 + reply.headers.size());
    std::vector<nghttp2_nv> nva;
    storage.push_back(std::to_string(reply.status));
    nva.push_back(nv(":status", storage.back()));
    for (const auto& h : reply.headers) nva.push_back(nv(h.name, h.value));
    const bool has_data = !reply.body.empty() || !reply.trailers.empty();
    outgoing_[stream] = Outgoing{std::move(reply.body), 0, std::move(reply.trailers)};
    nghttp2_data_provider provider{};
    provider.read_callback = &TestServer::read;
    ASSERT_EQ(
        nghttp2_submit_response(session_, stream, nva.data(), nva.size(), has_data ? &provider : nullptr), 0);
  }
  void interim(int32_t stream, int status) {
    const std::string s = std::to_string(status);
    nghttp2_nv nva[] = {nv(":status", s), nv("link", "</style.css>; rel=preload")};
    ASSERT_GT(nghttp2_submit_headers(session_, NGHTTP2_FLAG_NONE, stream, nullptr, nva, 2, nullptr), -1);
  }
  // Promises `path` on `stream`; the pushed response follows once the PUSH_PROMISE is out (nghttp2
  // opens the promised stream only then).
  int32_t push(int32_t stream, const std::string& path, Reply reply) {
    const std::string method = "GET", scheme = "https", authority = "example.test";
    nghttp2_nv nva[] = {nv(":method", method), nv(":path", path), nv(":scheme", scheme),
                        nv(":authority", authority)};
    const int32_t promised =
        nghttp2_submit_push_promise(session_, NGHTTP2_FLAG_NONE, stream, nva, 4, nullptr);
    EXPECT_GT(promised, 0) << nghttp2_strerror(promised);
    if (promised > 0) pushes_[promised] = std::move(reply);
    return promised;
  }
  void rst(int32_t stream, uint32_t code) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream, code);
  }
  void goaway(int32_t last_stream_id, uint32_t code) {
    ASSERT_EQ(nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, last_stream_id, code,
                                    reinterpret_cast<const uint8_t*>("bye"), 3),
              0);
  }

 private:
  struct Outgoing {
    std::string body;
    size_t offset = 0;
    HeaderList trailers;
  };

  static nghttp2_nv nv(std::string_view name, std::string_view value) {
    return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                      reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                      NGHTTP2_NV_FLAG_NONE};
  }

  static TestServer& self(void* p) { return *static_cast<TestServer*>(p); }

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* f, void* p) {
    if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
      auto& s = self(p);
      s.requests[f->hd.stream_id] = ServerRequest{};
      s.request_order.push_back(f->hd.stream_id);
      s.max_active = std::max(s.max_active, ++s.active);
    }
    return 0;
  }
  static int on_header(nghttp2_session*, const nghttp2_frame* f, const uint8_t* name, size_t namelen,
                       const uint8_t* value, size_t valuelen, uint8_t, void* p) {
    auto it = self(p).requests.find(f->hd.stream_id);
    if (it != self(p).requests.end()) {
      it->second.fields.push_back({std::string(reinterpret_cast<const char*>(name), namelen),
                                   std::string(reinterpret_cast<const char*>(value), valuelen)});
    }
    return 0;
  }
  static int on_data(nghttp2_session*, uint8_t, int32_t stream, const uint8_t* data, size_t len, void* p) {
    auto it = self(p).requests.find(stream);
    if (it != self(p).requests.end()) it->second.body.append(reinterpret_cast<const char*>(data), len);
    return 0;
  }
  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* f, void* p) {
    auto& s = self(p);
    if (f->hd.type == NGHTTP2_RST_STREAM) s.rst_received[f->hd.stream_id] = f->rst_stream.error_code;
    if (f->hd.type == NGHTTP2_PING && !(f->hd.flags & NGHTTP2_FLAG_ACK)) ++s.pings;
    if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      auto it = s.requests.find(f->hd.stream_id);
      if (it != s.requests.end()) {
        it->second.ended = true;
        if (s.handler) s.handler(s, f->hd.stream_id, it->second);
      }
    }
    return 0;
  }
  static int on_send(nghttp2_session*, const nghttp2_frame* f, void* p) {
    auto& s = self(p);
    if (f->hd.type == NGHTTP2_PUSH_PROMISE) {
      const int32_t promised = f->push_promise.promised_stream_id;
      s.pushed.push_back(promised);
      auto it = s.pushes_.find(promised);
      if (it != s.pushes_.end()) {
        Reply reply = std::move(it->second);
        s.pushes_.erase(it);
        s.respond(promised, std::move(reply));
      }
    }
    return 0;
  }
  static int on_close(nghttp2_session*, int32_t stream, uint32_t code, void* p) {
    auto& s = self(p);
    if (s.requests.count(stream)) {
      s.closed[stream] = code;
      --s.active;
    }
    return 0;
  }
  static ssize_t read(nghttp2_session* session, int32_t stream, uint8_t* buf, size_t length, uint32_t* flags,
                      nghttp2_data_source*, void* p) {
    auto& out = self(p).outgoing_[stream];
    const size_t n = std::min(length, out.body.size() - out.offset);
    std::copy_n(out.body.data() + out.offset, n, buf);
    out.offset += n;
    if (out.offset == out.body.size()) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      if (!out.trailers.empty()) {
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        std::vector<nghttp2_nv> nva;
        for (const auto& h : out.trailers) nva.push_back(nv(h.name, h.value));
        if (nghttp2_submit_trailer(session, stream, nva.data(), nva.size()) != 0)
          return NGHTTP2_ERR_CALLBACK_FAILURE;
      }
    }
    return static_cast<ssize_t>(n);
  }

  nghttp2_session* session_ = nullptr;
  std::map<int32_t, Outgoing> outgoing_;
  std::map<int32_t, Reply> pushes_;
};

// Moves bytes both ways until neither side has anything to say. Returns the bytes the client wrote.
std::string pump(ClientSession& client, TestServer& server, FlightParser* client_frames = nullptr) {
  std::string written;
  for (int round = 0; round < 100000; ++round) {
    bool moved = false;
    std::string out;
    if (client.produce(out)) {
      moved = true;
      written += out;
      if (client_frames) client_frames->feed(out);
      server.feed(out);
    }
    const std::string back = server.drain();
    if (!back.empty()) {
      moved = true;
      std::string error;
      EXPECT_TRUE(client.receive(back, &error)) << error;
    }
    if (!moved) return written;
  }
  ADD_FAILURE() << "pump did not settle";
  return written;
}

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

size_t body_of(Recorder& rec, int32_t id) { return rec.responses[id].body.size(); }

// The request fields the server saw, as "name: value" lines.
std::vector<std::string> lines(const HeaderList& fields) {
  std::vector<std::string> out;
  for (const auto& h : fields) out.push_back(h.name + ": " + h.value);
  return out;
}

// ---------------------------------------------------------------------------------------------
// (a) the first flight

struct FirstFlight {
  FlightParser parsed;
  int32_t stream = -1;
  std::string recorded_akamai;  // from the session's own record (first_flight()), for response.fingerprint
  bool recorded_complete = false;
};

FirstFlight capture(const Http2Profile& profile, HeaderList headers = browser_headers()) {
  Recorder rec;
  ClientSession client(profile, rec);
  std::string error;
  FirstFlight ff;
  EXPECT_TRUE(client.start(&error)) << error;
  ff.stream = client.submit_request("GET", "https", "fp.test:8443", "/chromium-1", headers, {}, &error);
  EXPECT_GT(ff.stream, 0) << error;
  std::string out;
  EXPECT_TRUE(client.produce(out));
  ff.parsed.feed(out);
  std::string more;
  EXPECT_FALSE(client.produce(more)) << "everything must come out in one produce()";
  ff.recorded_akamai = fingerprint::akamai(client.first_flight());
  ff.recorded_complete = client.first_flight().headers_sent;
  return ff;
}

// response.fingerprint's Akamai string comes from what the session recorded as nghttp2 handed each
// frame out: it must equal the string read back from the bytes on the wire, for every shape.
TEST(Http2FirstFlight, TheSessionsRecordEqualsTheWire) {
  for (const Http2Profile& profile : {chrome_like(), firefox_esr_like(), old_firefox_like(), safari_like()}) {
    const FirstFlight ff = capture(profile);
    EXPECT_TRUE(ff.recorded_complete);
    EXPECT_EQ(ff.recorded_akamai, ff.parsed.akamai());
  }
}

TEST(Http2FirstFlight, ChromeLike) {
  const FirstFlight ff = capture(chrome_like());
  EXPECT_EQ(ff.stream, 1);
  EXPECT_EQ(ff.parsed.akamai(), "1:65536;2:0;4:6291456;6:262144|15663105|0|m,a,s,p");
  EXPECT_EQ(ff.parsed.summary(),
            (std::vector<std::string>{"SETTINGS", "WINDOW_UPDATE(0,+15663105)", "HEADERS(1)"}));
  const Frame* h = ff.parsed.first(NGHTTP2_HEADERS);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->flags, NGHTTP2_FLAG_END_STREAM | NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_PRIORITY);
  const PrioritySpec p = read_priority(h->payload);
  EXPECT_TRUE(p.exclusive);
  EXPECT_EQ(p.depends_on, 0u);
  EXPECT_EQ(p.weight, 256u);
  // Pseudo-headers in the profile's order; regular fields lower-cased in the caller's order;
  // connection-specific fields, host and te other than "trailers" dropped.
  ASSERT_EQ(ff.parsed.blocks.size(), 1u);
  EXPECT_EQ(lines(ff.parsed.blocks[0].second),
            (std::vector<std::string>{":method: GET", ":authority: fp.test:8443", ":scheme: https",
                                      ":path: /chromium-1", "user-agent: Mozilla/5.0 test",
                                      "accept: text/html", "accept-encoding: gzip, br",
                                      "x-custom-header: MixedCase Value", "accept-language: en"}));
}

TEST(Http2FirstFlight, FirefoxEsrLike) {
  const FirstFlight ff = capture(firefox_esr_like());
  EXPECT_EQ(ff.stream, 3);
  EXPECT_EQ(ff.parsed.akamai(), "1:65536;2:0;4:131072;5:16384|12517377|0|m,p,a,s");
  EXPECT_EQ(ff.parsed.summary(), (std::vector<std::string>{"SETTINGS", "WINDOW_UPDATE(0,+12517377)",
                                                           "HEADERS(3)", "WINDOW_UPDATE(3,+12451840)"}));
  const Frame* h = ff.parsed.first(NGHTTP2_HEADERS);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->flags, NGHTTP2_FLAG_END_STREAM | NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_PRIORITY);
  const PrioritySpec p = read_priority(h->payload);
  EXPECT_FALSE(p.exclusive);
  EXPECT_EQ(p.depends_on, 0u);
  EXPECT_EQ(p.weight, 42u);
}

TEST(Http2FirstFlight, OldFirefoxWithPriorityFrames) {
  const FirstFlight ff = capture(old_firefox_like());
  EXPECT_EQ(ff.stream, 15);
  EXPECT_EQ(
      ff.parsed.akamai(),
      "1:65536;4:131072;5:16384|12517377|3:0:0:201,5:0:0:101,7:0:0:1,9:0:7:1,11:0:3:1,13:0:0:241|m,p,a,s");
  EXPECT_EQ(ff.parsed.summary(),
            (std::vector<std::string>{"SETTINGS", "WINDOW_UPDATE(0,+12517377)", "PRIORITY(3)", "PRIORITY(5)",
                                      "PRIORITY(7)", "PRIORITY(9)", "PRIORITY(11)", "PRIORITY(13)",
                                      "HEADERS(15)"}));
  const Frame* h = ff.parsed.first(NGHTTP2_HEADERS);
  ASSERT_NE(h, nullptr);
  EXPECT_TRUE(h->flags & NGHTTP2_FLAG_PRIORITY);
  const PrioritySpec p = read_priority(h->payload);
  EXPECT_FALSE(p.exclusive);
  EXPECT_EQ(p.depends_on, 13u);
  EXPECT_EQ(p.weight, 42u);
}

TEST(Http2FirstFlight, SafariLikeWithoutPriority) {
  const FirstFlight ff = capture(safari_like());
  EXPECT_EQ(ff.stream, 1);
  EXPECT_EQ(ff.parsed.akamai(), "2:0;3:100;4:2097152;9:1|10420225|0|m,s,a,p");
  EXPECT_EQ(ff.parsed.summary(),
            (std::vector<std::string>{"SETTINGS", "WINDOW_UPDATE(0,+10420225)", "HEADERS(1)"}));
  const Frame* h = ff.parsed.first(NGHTTP2_HEADERS);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->flags, NGHTTP2_FLAG_END_STREAM | NGHTTP2_FLAG_END_HEADERS);
}

TEST(Http2FirstFlight, UnknownAndDuplicateSettingsPassThroughInOrder) {
  Http2Profile p = chrome_like();
  p.settings = {{0x0a0a, 7}, {1, 4096}, {4, 6291456}, {1, 65536}, {0xff00, 0}};
  const FirstFlight ff = capture(p);
  EXPECT_EQ(ff.parsed.akamai(), "2570:7;1:4096;4:6291456;1:65536;65280:0|15663105|0|m,a,s,p");
}

TEST(Http2FirstFlight, NoWindowUpdateNoPriority) {
  Http2Profile p = plain();
  p.pseudo_header_order = "mspa";
  const FirstFlight ff = capture(p, {});
  EXPECT_EQ(ff.parsed.akamai(), "2:0|00|0|m,s,p,a");
  EXPECT_EQ(ff.parsed.summary(), (std::vector<std::string>{"SETTINGS", "HEADERS(1)"}));
}

TEST(Http2FirstFlight, DefaultValuedHeadersPriorityStillCarriesTheFlag) {
  // nghttp2 drops the flag for RFC 7540's default spec; the session puts it back.
  Http2Profile p = chrome_like();
  p.headers_priority_spec = prio(0, 0, 16, false);
  Recorder rec;
  ClientSession client(p, rec);
  TestServer server({{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100}});
  server.handler = [](TestServer& s, int32_t id, const ServerRequest&) { s.respond(id, {200, {}, "x", {}}); };
  std::string error;
  ASSERT_TRUE(client.start(&error)) << error;
  const int32_t a = client.submit_request("GET", "https", "h", "/a", {{"accept", "*/*"}}, {}, &error);
  FlightParser parsed;
  pump(client, server, &parsed);  // the server parses the patched frame
  const int32_t b = client.submit_request("GET", "https", "h", "/b", {{"accept", "*/*"}}, {}, &error);
  pump(client, server, &parsed);
  for (int32_t id : {a, b}) {
    const Frame* h = parsed.first(NGHTTP2_HEADERS, id);
    ASSERT_NE(h, nullptr);
    EXPECT_EQ(h->flags, NGHTTP2_FLAG_END_STREAM | NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_PRIORITY);
    const PrioritySpec ps = read_priority(h->payload);
    EXPECT_FALSE(ps.exclusive);
    EXPECT_EQ(ps.depends_on, 0u);
    EXPECT_EQ(ps.weight, 16u);
    EXPECT_EQ(rec.responses[id].body, "x");
    EXPECT_TRUE(rec.responses[id].close.response_complete);
  }
  ASSERT_EQ(parsed.blocks.size(), 2u);
  EXPECT_EQ(lines(parsed.blocks[1].second),
            (std::vector<std::string>{":method: GET", ":authority: h", ":scheme: https", ":path: /b",
                                      "accept: */*"}));
}

TEST(Http2FirstFlight, LaterStreamsKeepTheProfile) {
  // Firefox: every new stream gets its WINDOW_UPDATE right after its HEADERS; ids step by 2.
  Recorder rec;
  ClientSession client(firefox_esr_like(), rec);
  std::string error;
  ASSERT_TRUE(client.start(&error)) << error;
  EXPECT_EQ(client.submit_request("GET", "https", "h", "/1", {}, {}, &error), 3);
  EXPECT_EQ(client.submit_request("GET", "https", "h", "/2", {}, {}, &error), 5);
  std::string out;
  ASSERT_TRUE(client.produce(out));
  FlightParser parsed;
  parsed.feed(out);
  EXPECT_EQ(parsed.summary(), (std::vector<std::string>{"SETTINGS", "WINDOW_UPDATE(0,+12517377)",
                                                        "HEADERS(3)", "WINDOW_UPDATE(3,+12451840)",
                                                        "HEADERS(5)", "WINDOW_UPDATE(5,+12451840)"}));
}

TEST(Http2FirstFlight, StartRejectsBadProfiles) {
  Recorder rec;
  std::string error;
  {
    Http2Profile p = chrome_like();
    p.pseudo_header_order = "masq";
    ClientSession c(p, rec);
    EXPECT_FALSE(c.start(&error));
    EXPECT_NE(error.find("pseudo_header_order"), std::string::npos) << error;
  }
  {
    Http2Profile p = chrome_like();
    p.settings.push_back({2, 5});  // ENABLE_PUSH must be 0 or 1
    ClientSession c(p, rec);
    EXPECT_FALSE(c.start(&error));
    EXPECT_NE(error.find("SETTINGS"), std::string::npos) << error;
    EXPECT_EQ(c.submit_request("GET", "https", "h", "/", {}, {}, &error), -1);
  }
  {
    Http2Profile p = chrome_like();
    p.first_stream_id = 4;
    ClientSession c(p, rec);
    EXPECT_FALSE(c.start(&error));
  }
  {
    Http2Profile p = old_firefox_like();
    p.priority_frames[0].weight = 0;
    ClientSession c(p, rec);
    EXPECT_FALSE(c.start(&error));
  }
  {
    ClientSession c(chrome_like(), rec);
    EXPECT_EQ(c.submit_request("GET", "https", "h", "/", {}, {}, &error), -1);  // not started
    ASSERT_TRUE(c.start(&error));
    EXPECT_FALSE(c.start(&error));  // twice
    EXPECT_EQ(c.submit_request("GET", "https", "h", "/", {{"bad name", "v"}}, {}, &error), -1);
    EXPECT_EQ(c.submit_request("GET", "https", "h", "/", {{"x", "a\r\nb"}}, {}, &error), -1);
    EXPECT_EQ(c.open_streams(), 0u);
  }
}

// ---------------------------------------------------------------------------------------------
// (b) round trips

TestServer::Handler routes() {
  return [](TestServer& s, int32_t id, const ServerRequest& req) {
    const std::string path = req.path();
    if (path == "/hello") {
      s.respond(id, {200, {{"content-type", "text/plain"}, {"x-b", "2"}, {"x-a", "1"}}, "hello world", {}});
    } else if (path == "/echo") {
      s.respond(id, {201, {{"x-echo-length", std::to_string(req.body.size())}}, req.body, {}});
    } else if (path == "/trailers") {
      s.respond(id, {200, {{"trailer", "x-checksum"}}, "body", {{"x-checksum", "abc"}, {"x-status", "ok"}}});
    } else if (path == "/empty") {
      s.respond(id, {204, {{"x-empty", "1"}}, "", {}});
    } else if (path == "/early") {
      s.interim(id, 103);
      s.respond(id, {200, {}, "after hints", {}});
    } else if (path.rfind("/rst/", 0) == 0) {
      s.rst(id, static_cast<uint32_t>(std::stoul(path.substr(5))));
    } else if (path == "/big5m") {
      s.respond(id, {200, {}, pattern(5 * 1024 * 1024), {}});
    } else if (path == "/big8m") {
      s.respond(id, {200, {}, pattern(8 * 1024 * 1024), {}});
    }
    // "/hold...": no answer until the test gives one.
  };
}

struct Fixture {
  Recorder rec;
  TestServer server;
  ClientSession client;
  Fixture(const Http2Profile& profile, std::vector<nghttp2_settings_entry> server_settings,
          ClientSession::Options options = {})
      : server(std::move(server_settings)), client(profile, rec, options) {
    rec.session = &client;
    server.handler = routes();
    std::string error;
    EXPECT_TRUE(client.start(&error)) << error;
  }
  int32_t get(const std::string& path, const HeaderList& headers = {}) {
    std::string error;
    const int32_t id = client.submit_request("GET", "https", "example.test", path, headers, {}, &error);
    EXPECT_GT(id, 0) << error;
    return id;
  }
  std::string run() { return pump(client, server); }
};

TEST(Http2RoundTrip, GetWithHeaderOrderAndConnectionHeadersDropped) {
  Fixture f(chrome_like(), {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100}});
  const int32_t id = f.get("/hello", browser_headers());
  f.run();
  ASSERT_EQ(f.server.requests.count(id), 1u);
  EXPECT_EQ(lines(f.server.requests[id].fields),
            (std::vector<std::string>{":method: GET", ":authority: example.test", ":scheme: https",
                                      ":path: /hello", "user-agent: Mozilla/5.0 test", "accept: text/html",
                                      "accept-encoding: gzip, br", "x-custom-header: MixedCase Value",
                                      "accept-language: en"}));
  const Response& r = f.rec.responses[id];
  ASSERT_TRUE(r.has_head);
  EXPECT_EQ(r.head.status, 200);
  EXPECT_EQ(r.head.version_major, 2);
  EXPECT_EQ(r.head.version_minor, 0);
  EXPECT_EQ(r.head.reason, "");
  EXPECT_EQ(lines(r.head.headers),
            (std::vector<std::string>{"content-type: text/plain", "x-b: 2", "x-a: 1"}));
  EXPECT_EQ(r.body, "hello world");
  EXPECT_EQ(r.events, (std::vector<std::string>{"head", "data", "closed"}));
  EXPECT_EQ(r.close.error_code, 0u);
  EXPECT_TRUE(r.close.response_complete);
  EXPECT_FALSE(r.close.retryable);
  EXPECT_EQ(f.client.open_streams(), 0u);
  EXPECT_EQ(f.rec.settings_calls, 1);
  EXPECT_EQ(f.server.closed[id], 0u);
  EXPECT_TRUE(f.client.want_read());
  EXPECT_FALSE(f.client.want_write());
}

// RFC 8441: :protocol goes out only once the server's SETTINGS allowed it, after the profile's
// pseudo-headers (Firefox ESR 153's capture: :method, :path, :authority, :scheme, :protocol).
TEST(Http2ExtendedConnect, OnlyAfterTheServerAllowsItInFirefoxsOrder) {
  Fixture f(firefox_esr_like(), {{NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1}});
  std::string error;
  EXPECT_FALSE(f.client.remote_settings_received());
  EXPECT_FALSE(f.client.remote_allows_extended_connect());
  EXPECT_EQ(
      f.client.submit_request("CONNECT", "https", "example.test", "/ws", {}, {}, &error, true, "websocket"),
      -1);
  EXPECT_NE(error.find("RFC 8441"), std::string::npos) << error;
  f.run();
  EXPECT_TRUE(f.client.remote_settings_received());
  ASSERT_TRUE(f.client.remote_allows_extended_connect());
  const int32_t id = f.client.submit_request("CONNECT", "https", "example.test", "/ws?x=1",
                                             {{"User-Agent", "ff"}, {"Sec-WebSocket-Version", "13"}}, {},
                                             &error, true, "websocket");
  ASSERT_GT(id, 0) << error;
  ASSERT_TRUE(f.client.append_request_body(id, "frame bytes", false));
  f.run();
  ASSERT_EQ(f.server.requests.count(id), 1u);
  EXPECT_EQ(lines(f.server.requests[id].fields),
            (std::vector<std::string>{":method: CONNECT", ":path: /ws?x=1", ":authority: example.test",
                                      ":scheme: https", ":protocol: websocket", "user-agent: ff",
                                      "sec-websocket-version: 13"}));
  EXPECT_EQ(f.server.requests[id].body, "frame bytes");
  EXPECT_FALSE(f.server.requests[id].ended);  // the stream stays open both ways
}

TEST(Http2ExtendedConnect, NotAllowedWithoutTheSetting) {
  Fixture f(firefox_esr_like(), {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100}});
  f.run();
  EXPECT_TRUE(f.client.remote_settings_received());
  EXPECT_FALSE(f.client.remote_allows_extended_connect());
  std::string error;
  EXPECT_EQ(
      f.client.submit_request("CONNECT", "https", "example.test", "/ws", {}, {}, &error, true, "websocket"),
      -1);
}

TEST(Http2RoundTrip, PostWithBodyLargerThanTheInitialWindow) {
  Fixture f(chrome_like(), {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100}});
  const std::string body = pattern(300000);  // > 65535: needs the server's WINDOW_UPDATEs
  std::string error;
  const int32_t id = f.client.submit_request(
      "POST", "https", "example.test", "/echo",
      {{"Content-Type", "application/octet-stream"}, {"Content-Length", std::to_string(body.size())}}, body,
      &error);
  ASSERT_GT(id, 0) << error;
  f.run();
  const ServerRequest& req = f.server.requests[id];
  EXPECT_TRUE(req.ended);
  EXPECT_EQ(req.body.size(), body.size());
  EXPECT_TRUE(req.body == body);
  EXPECT_EQ(
      lines(req.fields),
      (std::vector<std::string>{":method: POST", ":authority: example.test", ":scheme: https", ":path: /echo",
                                "content-type: application/octet-stream", "content-length: 300000"}));
  const Response& r = f.rec.responses[id];
  EXPECT_EQ(r.head.status, 201);
  EXPECT_EQ(lines(r.head.headers), (std::vector<std::string>{"x-echo-length: 300000"}));
  EXPECT_TRUE(r.body == body);
  EXPECT_TRUE(r.close.response_complete);
  EXPECT_EQ(r.close.error_code, 0u);
}

TEST(Http2RoundTrip, PostBodyWithEveryProfile) {
  for (const Http2Profile& p :
       {chrome_like(), firefox_esr_like(), old_firefox_like(), safari_like(), plain()}) {
    Fixture f(p, {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100}});
    std::string error;
    const int32_t id =
        f.client.submit_request("POST", "https", "example.test", "/echo", {}, "ping-pong", &error);
    ASSERT_GT(id, 0) << error;
    EXPECT_EQ(static_cast<uint32_t>(id), p.first_stream_id);
    f.run();
    EXPECT_EQ(f.rec.responses[id].body, "ping-pong") << p.pseudo_header_order;
    EXPECT_TRUE(f.rec.responses[id].close.response_complete);
    const int32_t id2 = f.get("/hello");
    EXPECT_EQ(id2, id + 2);
    f.run();
    EXPECT_EQ(f.rec.responses[id2].body, "hello world");
  }
}

TEST(Http2RoundTrip, TrailersInterimAndBodilessResponses) {
  Fixture f(chrome_like(), {});
  const int32_t t = f.get("/trailers");
  const int32_t e = f.get("/empty");
  const int32_t h = f.get("/early");
  f.run();
  const Response& rt = f.rec.responses[t];
  EXPECT_EQ(rt.events, (std::vector<std::string>{"head", "data", "trailers", "closed"}));
  EXPECT_EQ(rt.body, "body");
  EXPECT_EQ(lines(rt.trailers), (std::vector<std::string>{"x-checksum: abc", "x-status: ok"}));
  EXPECT_TRUE(rt.close.response_complete);
  const Response& re = f.rec.responses[e];
  EXPECT_EQ(re.events, (std::vector<std::string>{"head", "closed"}));
  EXPECT_EQ(re.head.status, 204);
  EXPECT_TRUE(re.close.response_complete);
  const Response& rh = f.rec.responses[h];
  EXPECT_EQ(rh.events, (std::vector<std::string>{"head", "data", "closed"}));  // the 103 is not reported
  EXPECT_EQ(rh.head.status, 200);
  EXPECT_EQ(rh.body, "after hints");
}

TEST(Http2RoundTrip, MaxConcurrentStreamsFromTheServer) {
  Fixture f(chrome_like(), {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 10}});
  EXPECT_EQ(f.client.remote_max_concurrent_streams(), 100u);  // assumed before the server's SETTINGS
  EXPECT_TRUE(f.client.can_submit());
  std::vector<int32_t> ids{f.get("/hold")};
  f.run();
  EXPECT_EQ(f.client.remote_max_concurrent_streams(), 10u);
  while (f.client.can_submit()) ids.push_back(f.get("/hold"));
  EXPECT_EQ(ids.size(), 10u);
  EXPECT_EQ(f.client.open_streams(), 10u);
  ids.push_back(f.get("/hold"));  // accepted, but waits for a slot
  ids.push_back(f.get("/hold"));
  EXPECT_EQ(f.client.open_streams(), 12u);
  f.run();
  EXPECT_EQ(f.server.requests.size(), 10u);
  EXPECT_EQ(f.server.max_active, 10u);
  // One answer frees one slot: the first waiting request goes out.
  f.server.respond(ids[0], {200, {}, "done", {}});
  f.run();
  EXPECT_TRUE(f.rec.responses[ids[0]].close.response_complete);
  EXPECT_EQ(f.server.requests.size(), 11u);
  EXPECT_EQ(f.server.request_order.back(), ids[10]);
  EXPECT_EQ(f.client.open_streams(), 11u);
  EXPECT_FALSE(f.client.can_submit());
  for (size_t i = 1; i < ids.size(); ++i) {
    if (f.server.requests.count(ids[i])) f.server.respond(ids[i], {200, {}, "done", {}});
    f.run();
  }
  for (size_t i = 1; i < ids.size(); ++i) {
    if (!f.rec.responses[ids[i]].closed) {
      f.server.respond(ids[i], {200, {}, "done", {}});
      f.run();
    }
  }
  for (int32_t id : ids) EXPECT_TRUE(f.rec.responses[id].close.response_complete) << id;
  EXPECT_EQ(f.server.max_active, 10u);
  EXPECT_EQ(f.client.open_streams(), 0u);
  EXPECT_TRUE(f.client.can_submit());
}

TEST(Http2RoundTrip, InitialMaxConcurrentStreamsUntilTheServersSettings) {
  ClientSession::Options options;
  options.initial_max_concurrent_streams = 3;
  Fixture f(chrome_like(), {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 10}}, options);
  EXPECT_EQ(f.client.remote_max_concurrent_streams(), 3u);
  std::vector<int32_t> ids;
  while (f.client.can_submit()) ids.push_back(f.get("/hold"));
  EXPECT_EQ(ids.size(), 3u);
  ids.push_back(f.get("/hold"));
  std::string out;
  ASSERT_TRUE(f.client.produce(out));
  FlightParser parsed;
  parsed.feed(out);
  EXPECT_EQ(parsed.summary(), (std::vector<std::string>{"SETTINGS", "WINDOW_UPDATE(0,+15663105)",
                                                        "HEADERS(1)", "HEADERS(3)", "HEADERS(5)"}));
  f.server.feed(out);
  f.run();  // the server's SETTINGS raise the limit: the fourth request goes out
  EXPECT_EQ(f.client.remote_max_concurrent_streams(), 10u);
  EXPECT_EQ(f.server.requests.size(), 4u);
  EXPECT_TRUE(f.client.can_submit());
  // A server that announces no limit lifts the assumed one entirely.
  Fixture g(chrome_like(), {}, options);
  g.get("/hello");
  g.run();
  EXPECT_EQ(g.client.remote_max_concurrent_streams(), size_t{0xffffffffu});
}

TEST(Http2RoundTrip, RstStreamFromServer) {
  Fixture f(chrome_like(), {});
  const int32_t a = f.get("/rst/11");  // ENHANCE_YOUR_CALM
  const int32_t b = f.get("/rst/7");   // REFUSED_STREAM: safe to retry
  const int32_t c = f.get("/hello");
  f.run();
  EXPECT_EQ(f.rec.responses[a].events, (std::vector<std::string>{"closed"}));
  EXPECT_EQ(f.rec.responses[a].close.error_code, 11u);
  EXPECT_FALSE(f.rec.responses[a].close.response_complete);
  EXPECT_FALSE(f.rec.responses[a].close.retryable);
  EXPECT_EQ(f.rec.responses[b].close.error_code, kRefusedStream);
  EXPECT_TRUE(f.rec.responses[b].close.retryable);
  EXPECT_EQ(f.rec.responses[c].body, "hello world");
  EXPECT_EQ(f.client.open_streams(), 0u);
}

TEST(Http2RoundTrip, GoawayReportsStreamsAboveLastStreamId) {
  Fixture f(chrome_like(), {});
  std::vector<int32_t> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(f.get("/hold"));
  EXPECT_EQ(ids, (std::vector<int32_t>{1, 3, 5, 7}));
  f.run();
  f.server.goaway(3, NGHTTP2_NO_ERROR);
  f.run();
  EXPECT_EQ(f.rec.goaways, (std::vector<std::pair<int32_t, uint32_t>>{{3, 0}}));
  EXPECT_TRUE(f.client.goaway_received());
  EXPECT_EQ(f.client.goaway_last_stream_id(), 3);
  for (int32_t id : {5, 7}) {
    EXPECT_EQ(f.rec.responses[id].events, (std::vector<std::string>{"closed"}));
    EXPECT_EQ(f.rec.responses[id].close.error_code, kRefusedStream);
    EXPECT_TRUE(f.rec.responses[id].close.retryable);
  }
  EXPECT_EQ(f.client.open_streams(), 2u);
  EXPECT_FALSE(f.client.can_submit());
  std::string error;
  EXPECT_EQ(f.client.submit_request("GET", "https", "h", "/x", {}, {}, &error), -1);
  EXPECT_NE(error.find("GOAWAY"), std::string::npos) << error;
  // Streams at or below last_stream_id still complete.
  f.server.respond(1, {200, {}, "one", {}});
  f.server.respond(3, {200, {}, "three", {}});
  f.run();
  EXPECT_EQ(f.rec.responses[1].body, "one");
  EXPECT_TRUE(f.rec.responses[1].close.response_complete);
  EXPECT_EQ(f.rec.responses[3].body, "three");
  EXPECT_EQ(f.client.open_streams(), 0u);
  // Nothing left to wait for: the engine may close the connection.
  EXPECT_FALSE(f.client.want_read());
  EXPECT_FALSE(f.client.want_write());
}

TEST(Http2RoundTrip, TerminateSendsGoaway) {
  Fixture f(chrome_like(), {});
  const int32_t id = f.get("/hold");
  f.run();
  f.client.terminate(kNoError);
  EXPECT_FALSE(f.client.can_submit());
  EXPECT_TRUE(f.client.want_write());
  std::string out;
  ASSERT_TRUE(f.client.produce(out));
  FlightParser parsed;
  parsed.feed(std::string(kMagic) + out);
  ASSERT_EQ(parsed.frames.size(), 1u);
  EXPECT_EQ(parsed.frames[0].type, NGHTTP2_GOAWAY);
  EXPECT_EQ(be32(parsed.frames[0].payload, 4), kNoError);
  EXPECT_FALSE(f.client.want_read());
  EXPECT_FALSE(f.client.want_write());
  EXPECT_FALSE(f.rec.responses[id].closed);  // reported by close_all_streams(), when the socket closes
  f.client.close_all_streams(kCancel);
  EXPECT_EQ(f.rec.responses[id].close.error_code, kCancel);
}

TEST(Http2RoundTrip, GoawayRefusesRequestsStillWaitingForASlot) {
  Fixture f(chrome_like(), {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 2}});
  f.get("/hold");
  f.run();  // the server's SETTINGS arrive: 2 streams at a time
  const int32_t b = f.get("/hold");
  const int32_t c = f.get("/hold");  // waits
  const int32_t d = f.get("/hold");  // waits
  f.run();
  EXPECT_EQ(f.server.requests.size(), 2u);
  f.server.goaway(b, NGHTTP2_NO_ERROR);
  f.run();
  EXPECT_FALSE(f.rec.responses[c].closed);  // still queued behind the two open streams
  f.server.respond(1, {200, {}, "a", {}});
  f.server.respond(b, {200, {}, "b", {}});
  f.run();
  for (int32_t id : {c, d}) {
    EXPECT_EQ(f.rec.responses[id].close.error_code, kRefusedStream) << id;
    EXPECT_TRUE(f.rec.responses[id].close.retryable) << id;
    EXPECT_EQ(f.server.requests.count(id), 0u) << id;
  }
  EXPECT_EQ(f.rec.responses[b].body, "b");
  EXPECT_EQ(f.client.open_streams(), 0u);
}

TEST(Http2RoundTrip, PingRoundTrip) {
  Fixture f(chrome_like(), {});
  f.get("/hello");
  f.run();
  const uint64_t p1 = f.client.submit_ping();
  const uint64_t p2 = f.client.submit_ping();
  EXPECT_NE(p1, p2);
  f.run();
  EXPECT_EQ(f.server.pings, 2);
  EXPECT_EQ(f.rec.ping_acks, (std::vector<uint64_t>{p1, p2}));
}

TEST(Http2RoundTrip, ClientResetOfSentAndWaitingRequests) {
  Fixture f(chrome_like(), {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1}});
  const int32_t a = f.get("/hold");
  f.run();
  const int32_t b = f.get("/hold");  // waits for a's slot
  f.client.reset_stream(a, kCancel);
  f.client.reset_stream(b, kCancel);
  f.run();
  EXPECT_EQ(f.server.rst_received[a], kCancel);
  EXPECT_EQ(f.rec.responses[a].close.error_code, kCancel);
  EXPECT_FALSE(f.rec.responses[a].close.retryable);
  EXPECT_EQ(f.rec.responses[b].close.error_code, kCancel);
  EXPECT_TRUE(f.rec.responses[b].close.retryable);  // never left the client
  EXPECT_EQ(f.server.requests.count(b), 0u);
  EXPECT_EQ(f.server.rst_received.count(b), 0u);
  EXPECT_EQ(f.client.open_streams(), 0u);
  // The connection goes on.
  const int32_t c = f.get("/hello");
  f.run();
  EXPECT_EQ(f.rec.responses[c].body, "hello world");
}

TEST(Http2RoundTrip, CloseAllStreamsOnConnectionLoss) {
  Fixture f(chrome_like(), {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 2}});
  const int32_t a = f.get("/hold");
  f.run();
  const int32_t b = f.get("/hold");
  const int32_t c = f.get("/hold");  // never sent
  f.run();
  f.client.close_all_streams(kInternalError);
  EXPECT_EQ(f.rec.close_order, (std::vector<int32_t>{a, b, c}));
  EXPECT_FALSE(f.rec.responses[a].close.retryable);
  EXPECT_FALSE(f.rec.responses[b].close.retryable);
  EXPECT_TRUE(f.rec.responses[c].close.retryable);
  for (int32_t id : {a, b, c}) EXPECT_EQ(f.rec.responses[id].close.error_code, kInternalError);
  EXPECT_EQ(f.client.open_streams(), 0u);
  EXPECT_FALSE(f.client.can_submit());
  std::string error;
  EXPECT_EQ(f.client.submit_request("GET", "https", "h", "/", {}, {}, &error), -1);
}

TEST(Http2RoundTrip, PushPromiseIsCancelled) {
  // Old Firefox does not send ENABLE_PUSH=0, so a server may push: the session refuses it.
  Fixture f(old_firefox_like(), {});
  f.server.handler = [](TestServer& s, int32_t id, const ServerRequest&) {
    s.push(id, "/pushed", {200, {}, "pushed body", {}});
    s.respond(id, {200, {}, "main", {}});
  };
  const int32_t id = f.get("/main");
  f.run();
  EXPECT_EQ(f.rec.responses[id].body, "main");
  EXPECT_EQ(f.server.pushed, std::vector<int32_t>{2});
  EXPECT_EQ(f.rec.responses.size(), 1u);  // nothing reported for the pushed stream
  ASSERT_EQ(f.server.rst_received.size(), 1u);
  EXPECT_EQ(f.server.rst_received.begin()->first, 2);
  EXPECT_EQ(f.server.rst_received.begin()->second, kCancel);
}

TEST(Http2FlowControl, RefusedPushDataDoesNotEatTheConnectionWindow) {
  ClientSession::Options manual;
  manual.manual_flow_control = true;
  Http2Profile p;  // no ENABLE_PUSH=0, RFC default windows
  Fixture f(p, {}, manual);
  f.rec.consume_on_data = true;
  f.server.handler = [fallback = routes()](TestServer& s, int32_t id, const ServerRequest& req) {
    if (req.path() != "/main") return fallback(s, id, req);
    s.push(id, "/pushed", {200, {}, pattern(60000), {}});  // arrives before the client's RST_STREAM
    s.respond(id, {200, {}, "main", {}});
  };
  const int32_t id = f.get("/main");
  f.run();
  EXPECT_EQ(f.server.pushed, std::vector<int32_t>{2});
  EXPECT_EQ(f.server.rst_received.size(), 1u);
  // The pushed bytes were given back: a full window is still available to the next response.
  const int32_t next = f.get("/big5m");
  f.run();
  EXPECT_EQ(body_of(f.rec, next), 5u * 1024 * 1024);
  EXPECT_EQ(f.rec.responses[id].body, "main");
}

TEST(Http2RoundTrip, ThrowingListenerFailsTheSession) {
  Fixture f(chrome_like(), {});
  f.rec.throw_on_head = true;
  f.get("/hello");
  std::string out;
  ASSERT_TRUE(f.client.produce(out));
  f.server.feed(out);
  std::string error;
  EXPECT_FALSE(f.client.receive(f.server.drain(), &error));
  EXPECT_NE(error.find("boom"), std::string::npos) << error;
  EXPECT_TRUE(f.client.failed());
  EXPECT_FALSE(f.client.want_read());
  EXPECT_FALSE(f.client.can_submit());
  EXPECT_FALSE(f.client.receive("x", &error));
}

TEST(Http2RoundTrip, ProtocolErrorFromServerEndsTheSession) {
  Fixture f(chrome_like(), {});
  f.get("/hold");
  f.run();
  // A DATA frame on stream 0 is a connection error: the client answers with GOAWAY and stops.
  const std::string bad("\x00\x00\x01\x00\x00\x00\x00\x00\x00x", 10);
  std::string error;
  EXPECT_TRUE(f.client.receive(bad, &error)) << error;
  std::string out;
  ASSERT_TRUE(f.client.produce(out));
  FlightParser parsed;
  parsed.feed(std::string(kMagic) + out);
  ASSERT_EQ(parsed.frames.size(), 1u);
  EXPECT_EQ(parsed.frames[0].type, NGHTTP2_GOAWAY);
  EXPECT_EQ(be32(parsed.frames[0].payload, 4), kProtocolError);
  EXPECT_FALSE(f.client.want_read());
  EXPECT_FALSE(f.client.want_write());
  EXPECT_FALSE(f.client.can_submit());
  f.client.close_all_streams(kProtocolError);
  EXPECT_EQ(f.rec.responses[1].close.error_code, kProtocolError);
}

TEST(Http2RoundTrip, ProduceLimitKeepsFramesWhole) {
  Fixture f(plain(), {});
  std::string error;
  const int32_t id = f.client.submit_request("POST", "https", "h", "/echo", {}, pattern(40000), &error);
  ASSERT_GT(id, 0);
  std::string all, chunk;
  FlightParser parsed;
  int calls = 0;
  while (f.client.produce(chunk, 1)) {
    ++calls;
    parsed.feed(chunk);
    all += chunk;
    chunk.clear();
  }
  EXPECT_GE(calls, 4);  // magic, SETTINGS, HEADERS, DATA... one frame (or the magic) per call
  size_t data = 0;
  for (const auto& fr : parsed.frames) {
    if (fr.type == NGHTTP2_DATA) data += fr.payload.size();
  }
  EXPECT_EQ(data, 40000u);
  f.server.feed(all);
  f.run();
  EXPECT_EQ(f.rec.responses[id].body.size(), 40000u);
}

// ---------------------------------------------------------------------------------------------
// (c) flow control

TEST(Http2FlowControl, ManualConsumeStallsAndResumes) {
  ClientSession::Options manual;
  manual.manual_flow_control = true;
  Fixture f(plain(), {}, manual);
  const int32_t id = f.get("/big5m");
  f.run();
  // Nothing given back: exactly one initial window (65535, stream and connection alike) arrives.
  EXPECT_EQ(body_of(f.rec, id), 65535u);
  EXPECT_TRUE(f.server.drain().empty());
  f.run();
  EXPECT_EQ(body_of(f.rec, id), 65535u);
  // Giving back less than half a window sends no WINDOW_UPDATE yet.
  f.client.consume(id, 30000);
  f.run();
  EXPECT_EQ(body_of(f.rec, id), 65535u);
  f.client.consume(id, 35535);
  f.run();
  EXPECT_EQ(body_of(f.rec, id), 131070u);
  EXPECT_FALSE(f.rec.responses[id].closed);
  // Consuming as it arrives drains the rest.
  f.client.consume(id, 65535);
  f.rec.consume_on_data = true;
  f.run();
  const Response& r = f.rec.responses[id];
  EXPECT_EQ(r.body.size(), 5u * 1024 * 1024);
  EXPECT_TRUE(r.body == pattern(5 * 1024 * 1024));
  EXPECT_TRUE(r.close.response_complete);
}

TEST(Http2FlowControl, ManualStallAtTheProfilesStreamWindow) {
  ClientSession::Options manual;
  manual.manual_flow_control = true;
  Fixture f(chrome_like(), {}, manual);  // stream window 6291456, connection 15728640
  const int32_t id = f.get("/big8m");
  f.run();
  EXPECT_EQ(body_of(f.rec, id), 6291456u);
  f.client.consume(id, 6291456);
  f.run();
  EXPECT_EQ(body_of(f.rec, id), 8u * 1024 * 1024);
  EXPECT_TRUE(f.rec.responses[id].close.response_complete);
  EXPECT_TRUE(f.rec.responses[id].body == pattern(8 * 1024 * 1024));
}

TEST(Http2FlowControl, ConnectionWindowIsSharedAndReturnedAfterClose) {
  ClientSession::Options manual;
  manual.manual_flow_control = true;
  Fixture f(plain(), {}, manual);
  const int32_t a = f.get("/big5m");
  f.run();
  EXPECT_EQ(body_of(f.rec, a), 65535u);
  // The connection window is used up by a: b gets its head but no body.
  const int32_t b = f.get("/hello");
  f.run();
  EXPECT_TRUE(f.rec.responses[b].has_head);
  EXPECT_EQ(body_of(f.rec, b), 0u);
  // a is cancelled; giving its bytes back afterwards still reopens the connection window.
  f.client.reset_stream(a, kCancel);
  f.run();
  EXPECT_EQ(f.rec.responses[a].close.error_code, kCancel);
  f.client.consume(a, 65535);
  f.rec.consume_on_data = true;
  f.run();
  EXPECT_EQ(f.rec.responses[b].body, "hello world");
  EXPECT_TRUE(f.rec.responses[b].close.response_complete);
}

TEST(Http2FlowControl, AutomaticModeNeverStalls) {
  Fixture f(plain(), {});
  const int32_t id = f.get("/big5m");
  f.client.consume(id, 1000);  // a no-op in automatic mode
  f.run();
  EXPECT_EQ(body_of(f.rec, id), 5u * 1024 * 1024);
  EXPECT_TRUE(f.rec.responses[id].close.response_complete);
}

// ---------------------------------------------------------------------------------------------
// (d) a hostile server: hand-made frames and HPACK, the limits of native/common/http_types.h

std::string server_frame(uint8_t type, uint8_t flags, int32_t stream, std::string_view payload) {
  std::string f;
  f.push_back(static_cast<char>(payload.size() >> 16));
  f.push_back(static_cast<char>(payload.size() >> 8));
  f.push_back(static_cast<char>(payload.size()));
  f.push_back(static_cast<char>(type));
  f.push_back(static_cast<char>(flags));
  for (int shift : {24, 16, 8, 0}) f.push_back(static_cast<char>(static_cast<uint32_t>(stream) >> shift));
  f.append(payload);
  return f;
}

// An HPACK integer (RFC 7541 §5.1): `bits` are the pattern above an N-bit prefix.
std::string hpack_int(uint8_t bits, int prefix, size_t value) {
  const size_t max = (size_t{1} << prefix) - 1;
  std::string out;
  if (value < max) {
    out.push_back(static_cast<char>(bits | value));
    return out;
  }
  out.push_back(static_cast<char>(bits | max));
  value -= max;
  while (value >= 128) {
    out.push_back(static_cast<char>(0x80 | (value & 0x7f)));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
  return out;
}

// Literal field (no Huffman): with incremental indexing (0x40, 6-bit prefix) or without (0x00).
std::string hpack_literal(std::string_view name, std::string_view value, bool index) {
  std::string out(1, static_cast<char>(index ? 0x40 : 0x00));
  out += hpack_int(0, 7, name.size());
  out.append(name);
  out += hpack_int(0, 7, value.size());
  out.append(value);
  return out;
}

constexpr char kStatus200 = '\x88';          // static table entry 8
constexpr char kFirstDynamicEntry = '\xbe';  // index 62: the newest dynamic table entry

std::string status_field(int status) {  // literal without indexing, name = static entry 8
  return hpack_int(0x00, 4, 8) + hpack_int(0, 7, 3) + std::to_string(status);
}

// A header block in HEADERS + CONTINUATION frames of at most 16384 bytes (the default maximum).
std::string header_frames(int32_t stream, std::string_view block, bool end_stream) {
  std::string out;
  bool first = true;
  do {
    const std::string_view piece = block.substr(0, 16384);
    block.remove_prefix(piece.size());
    const uint8_t flags = static_cast<uint8_t>((block.empty() ? NGHTTP2_FLAG_END_HEADERS : 0) |
                                               (first && end_stream ? NGHTTP2_FLAG_END_STREAM : 0));
    out += server_frame(first ? NGHTTP2_HEADERS : NGHTTP2_CONTINUATION, flags, stream, piece);
    first = false;
  } while (!block.empty());
  return out;
}

// A client (chrome_like: SETTINGS_HEADER_TABLE_SIZE 65536) with `requests` GETs sent, talking to a
// server that is nothing but the bytes a test hands to receive().
struct HostileFixture {
  Recorder rec;
  ClientSession client{chrome_like(), rec};
  std::vector<int32_t> ids;
  explicit HostileFixture(int requests) {
    std::string error;
    EXPECT_TRUE(client.start(&error)) << error;
    for (int i = 0; i < requests; ++i) {
      ids.push_back(client.submit_request("GET", "https", "example.test", "/", {}, {}, &error));
      EXPECT_GT(ids.back(), 0) << error;
    }
    std::string out;
    EXPECT_TRUE(client.produce(out));
    // The server's SETTINGS, and its ACK of ours: our 64 KiB HPACK table is in force from here.
    receive(server_frame(NGHTTP2_SETTINGS, 0, 0, {}) +
            server_frame(NGHTTP2_SETTINGS, NGHTTP2_FLAG_ACK, 0, {}));
  }
  void receive(std::string_view bytes) {
    std::string error;
    EXPECT_TRUE(client.receive(bytes, &error)) << error;
  }
  // What the client writes now, as frames (after the first flight).
  std::vector<Frame> written() {
    std::string out;
    client.produce(out);
    FlightParser parsed;
    parsed.feed(std::string(kMagic) + out);
    return parsed.frames;
  }
  static uint32_t reset_code(const std::vector<Frame>& frames, int32_t stream) {
    for (const auto& f : frames) {
      if (f.type == NGHTTP2_RST_STREAM && f.stream == stream) return be32(f.payload, 0);
    }
    return 0xffffffffu;
  }
};

// The block of the issue: a 60 KB dynamic table entry, then one-byte references to it. 18000 of them
// (a 78 KiB block) decode to about 1 GB of fields; the stream is reset once 256 KiB are counted.
std::string reference_bomb_block(size_t references) {
  std::string block = hpack_int(0x20, 5, 65536);  // dynamic table size update: our SETTINGS' maximum
  block.push_back(kStatus200);
  block += hpack_literal("x-big", std::string(60000, 'v'), true);
  block.append(references, kFirstDynamicEntry);
  return block;
}

TEST(Http2HostileServer, HpackReferenceBombResetsOnlyItsStream) {
  HostileFixture f(2);
  const int32_t bomb = f.ids[0], other = f.ids[1];
  f.receive(header_frames(bomb, reference_bomb_block(18000), true));
  const auto frames = f.written();
  EXPECT_EQ(HostileFixture::reset_code(frames, bomb), kProtocolError);
  const Response& r = f.rec.responses[bomb];
  EXPECT_FALSE(r.has_head);
  ASSERT_TRUE(r.closed);
  EXPECT_EQ(r.close.error_code, kProtocolError);
  EXPECT_FALSE(r.close.response_complete);
  EXPECT_NE(r.close.reset_reason.find("header list exceeds 262144 bytes"), std::string::npos)
      << r.close.reset_reason;
  // The connection goes on: the other stream gets its answer (the HPACK table is intact).
  std::string answer(1, kFirstDynamicEntry);
  answer.insert(0, 1, kStatus200);
  f.receive(header_frames(other, answer, true));
  f.written();
  const Response& o = f.rec.responses[other];
  ASSERT_TRUE(o.has_head);
  EXPECT_EQ(o.head.status, 200);
  ASSERT_EQ(o.head.headers.size(), 1u);
  EXPECT_EQ(o.head.headers[0].value.size(), 60000u);
  EXPECT_TRUE(o.close.response_complete);
  EXPECT_TRUE(f.client.want_read());
}

TEST(Http2HostileServer, HeaderListJustUnderTheBudgetIsDelivered) {
  HostileFixture f(1);
  // 4 references + the entry itself: 5 x (5 + 60000 + 32) = 300185 > 262144; 3 + 1: 240148 (+ :status 42).
  f.receive(header_frames(f.ids[0], reference_bomb_block(3), true));
  f.written();
  const Response& r = f.rec.responses[f.ids[0]];
  ASSERT_TRUE(r.has_head);
  EXPECT_EQ(r.head.headers.size(), 4u);
  EXPECT_TRUE(r.close.response_complete);
}

TEST(Http2HostileServer, TooManyFieldsResetTheStream) {
  HostileFixture f(1);
  std::string block(1, kStatus200);
  for (int i = 0; i < 513; ++i) block += hpack_literal("x-a", "1", false);
  f.receive(header_frames(f.ids[0], block, true));
  EXPECT_EQ(HostileFixture::reset_code(f.written(), f.ids[0]), kProtocolError);
  const Response& r = f.rec.responses[f.ids[0]];
  EXPECT_FALSE(r.has_head);
  EXPECT_NE(r.close.reset_reason.find("more than 512 header fields"), std::string::npos)
      << r.close.reset_reason;
}

TEST(Http2HostileServer, TrailersCountAgainstTheBudget) {
  HostileFixture f(1);
  const int32_t id = f.ids[0];
  f.receive(header_frames(id, reference_bomb_block(0), false));  // the head: one 60 KB field, fine
  f.receive(server_frame(NGHTTP2_DATA, 0, id, "hi"));
  f.receive(header_frames(id, std::string(100, kFirstDynamicEntry), true));  // trailers: 6 MB of fields
  EXPECT_EQ(HostileFixture::reset_code(f.written(), id), kProtocolError);
  const Response& r = f.rec.responses[id];
  EXPECT_TRUE(r.has_head);
  EXPECT_EQ(r.body, "hi");
  EXPECT_FALSE(r.has_trailers);
  EXPECT_FALSE(r.close.response_complete);
  EXPECT_EQ(r.close.error_code, kProtocolError);
  EXPECT_NE(r.close.reset_reason.find("262144"), std::string::npos);
}

TEST(Http2HostileServer, SixteenInterimHeadsPassTheSeventeenthResets) {
  HostileFixture f(2);
  std::string wire;
  for (int i = 0; i < 16; ++i) wire += header_frames(f.ids[0], status_field(100), false);
  wire += header_frames(f.ids[0], std::string(1, kStatus200), true);
  for (int i = 0; i < 17; ++i) wire += header_frames(f.ids[1], status_field(103), false);
  f.receive(wire);
  const auto frames = f.written();
  const Response& ok = f.rec.responses[f.ids[0]];
  ASSERT_TRUE(ok.has_head);
  EXPECT_EQ(ok.head.status, 200);
  EXPECT_TRUE(ok.close.response_complete);
  EXPECT_EQ(HostileFixture::reset_code(frames, f.ids[1]), kProtocolError);
  const Response& bad = f.rec.responses[f.ids[1]];
  EXPECT_FALSE(bad.has_head);
  EXPECT_NE(bad.close.reset_reason.find("more than 16 interim"), std::string::npos) << bad.close.reset_reason;
}

TEST(Http2HostileServer, ContinuationFloodEndsTheSession) {
  HostileFixture f(1);
  // HEADERS without END_HEADERS, then CONTINUATION frames that never end the block (CVE-2024-28182):
  // one more than a block within our header budget can need ends the session.
  std::string wire = server_frame(NGHTTP2_HEADERS, 0, f.ids[0], std::string(1, kStatus200));
  for (int i = 0; i < 17; ++i) wire += server_frame(NGHTTP2_CONTINUATION, 0, f.ids[0], {});
  std::string error;
  EXPECT_FALSE(f.client.receive(wire, &error));
  EXPECT_NE(error.find("CONTINUATION"), std::string::npos) << error;
  EXPECT_FALSE(f.client.want_read());
}

TEST(Http2HostileServer, SixteenContinuationsAreAccepted) {
  HostileFixture f(1);
  std::string wire =
      server_frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM, f.ids[0], std::string(1, kStatus200));
  for (int i = 0; i < 16; ++i) {
    wire += server_frame(NGHTTP2_CONTINUATION, i == 15 ? NGHTTP2_FLAG_END_HEADERS : 0, f.ids[0], {});
  }
  f.receive(wire);
  f.written();
  EXPECT_TRUE(f.rec.responses[f.ids[0]].close.response_complete);
}

}  // namespace
}  // namespace ctn::http2
