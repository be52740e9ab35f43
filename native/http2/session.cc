#include "http2/session.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <exception>
#include <utility>
#include <vector>

namespace ctn::http2 {

namespace {

constexpr size_t kFrameHeaderLen = 9;
constexpr uint8_t kFrameHeaders = 0x1;
constexpr uint8_t kFlagPadded = 0x8;
constexpr uint8_t kFlagPriority = 0x20;
// CONTINUATION frames allowed after one HEADERS: a header section within our budget
// (kMaxHeaderSectionBytes) in frames of the smallest maximum size (16 KiB) needs at most this many.
// One more and nghttp2 ends the session (a fatal receive() error, the connection's streams fail
// with ERR_PROTOCOL); cmake/nghttp2.cmake refuses a tree without this limit.
constexpr size_t kMaxContinuations = kMaxHeaderSectionBytes / 16384;

struct CallbacksDeleter {
  void operator()(nghttp2_session_callbacks* c) const noexcept { nghttp2_session_callbacks_del(c); }
};
struct OptionDeleter {
  void operator()(nghttp2_option* o) const noexcept { nghttp2_option_del(o); }
};

char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// Fields HTTP/2 forbids (RFC 9113 §8.2.2), plus host: :authority carries it.
bool connection_specific(std::string_view lower_name) noexcept {
  return lower_name == "connection" || lower_name == "keep-alive" || lower_name == "proxy-connection" ||
         lower_name == "transfer-encoding" || lower_name == "upgrade" || lower_name == "host";
}

nghttp2_nv make_nv(std::string_view name, std::string_view value) noexcept {
  // nghttp2_submit_request copies the whole array, so the strings need not outlive the call.
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                    NGHTTP2_NV_FLAG_NONE};
}

std::string describe(const char* what, int rv) { return std::string(what) + ": " + nghttp2_strerror(rv); }

}  // namespace

struct ClientSession::Stream {
  std::string body;
  size_t body_offset = 0;
  bool body_follows = false;      // streamed: more of the body may come (append_request_body)
  bool body_ended = true;         // streamed: the last piece is in `body`
  bool headers_sent = false;      // on_frame_send saw our HEADERS
  bool priority_checked = false;  // scan_output looked at our HEADERS
  bool remote_ended = false;      // END_STREAM received
  bool head_done = false;         // the final head was delivered
  enum class Block { kNone, kHead, kTrailers } block = Block::kNone;
  int status = 0;
  HeaderList fields;
  // The header budget of the block in progress (see kMaxHeaderSectionBytes), and the interim
  // heads so far (kMaxInterimResponses).
  size_t block_bytes = 0;
  size_t block_fields = 0;
  int interim_heads = 0;
  // Non-empty once we reset the stream because the server passed a limit: nothing more of it is
  // delivered, and StreamClose::reset_reason carries this.
  std::string refused;
};

// nghttp2's C callbacks. Each one catches everything: nothing may unwind through C frames.
struct ClientSession::Callbacks {
  template <class F>
  static int guarded(void* user_data, F&& f) noexcept {
    auto* self = static_cast<ClientSession*>(user_data);
    try {
      return f(*self);
    } catch (const std::exception& e) {
      self->callback_error_ = std::string("listener callback threw: ") + e.what();
    } catch (...) {
      self->callback_error_ = "listener callback threw";
    }
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }

  static Stream* find(ClientSession& self, int32_t id) {
    auto it = self.streams_.find(id);
    return it == self.streams_.end() ? nullptr : it->second.get();
  }

  // The server passed one of our limits on this stream: RST_STREAM(PROTOCOL_ERROR), drop what was
  // gathered, ignore the rest of it. The connection and its other streams go on (nghttp2 still
  // decodes the rest of the header block: HPACK state is per connection).
  static void refuse(ClientSession& self, int32_t id, Stream& s, std::string why) {
    if (!s.refused.empty()) return;
    s.refused = std::move(why);
    s.block = Stream::Block::kNone;
    HeaderList().swap(s.fields);
    nghttp2_submit_rst_stream(self.session_.get(), NGHTTP2_FLAG_NONE, id, NGHTTP2_PROTOCOL_ERROR);
  }

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    return guarded(user_data, [&](ClientSession& self) {
      if (frame->hd.type != NGHTTP2_HEADERS) return 0;
      Stream* s = find(self, frame->hd.stream_id);
      if (!s || !s->refused.empty()) return 0;
      s->block = s->head_done ? Stream::Block::kTrailers : Stream::Block::kHead;
      s->status = 0;
      s->fields.clear();
      s->block_bytes = 0;
      s->block_fields = 0;
      return 0;
    });
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                       const uint8_t* value, size_t valuelen, uint8_t, void* user_data) {
    return guarded(user_data, [&](ClientSession& self) {
      if (frame->hd.type != NGHTTP2_HEADERS) return 0;  // PUSH_PROMISE fields belong to a refused push
      Stream* s = find(self, frame->hd.stream_id);
      if (!s || s->block == Stream::Block::kNone) return 0;
      std::string_view n(reinterpret_cast<const char*>(name), namelen);
      std::string_view v(reinterpret_cast<const char*>(value), valuelen);
      // Counted as the fields arrive: a few bytes of HPACK references can stand for gigabytes of
      // fields, and nghttp2 does not enforce our SETTINGS_MAX_HEADER_LIST_SIZE.
      s->block_bytes += namelen + valuelen + 32;
      if (s->block_bytes > kMaxHeaderSectionBytes) {
        refuse(self, frame->hd.stream_id, *s,
               "the response header list exceeds " + std::to_string(kMaxHeaderSectionBytes) +
                   " bytes (name + value + 32 per field)");
        return 0;
      }
      if (!n.empty() && n[0] == ':') {
        // nghttp2's HTTP messaging has already checked :status is 3 digits and the only pseudo-header.
        if (n == ":status" && v.size() == 3)
          s->status = (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
        return 0;
      }
      if (++s->block_fields > kMaxHeaderFields) {
        refuse(self, frame->hd.stream_id, *s,
               "the response has more than " + std::to_string(kMaxHeaderFields) + " header fields");
        return 0;
      }
      s->fields.push_back(Header{std::string(n), std::string(v)});
      return 0;
    });
  }

  static int on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    return guarded(user_data, [&](ClientSession& self) {
      const int32_t id = frame->hd.stream_id;
      switch (frame->hd.type) {
        case NGHTTP2_HEADERS: {
          Stream* s = find(self, id);
          if (!s || !s->refused.empty()) return 0;
          const auto block = std::exchange(s->block, Stream::Block::kNone);
          if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) s->remote_ended = true;
          if (block == Stream::Block::kHead) {
            if (s->status >= 100 && s->status < 200) {  // interim response: skipped
              if (++s->interim_heads > kMaxInterimResponses) {
                refuse(self, id, *s,
                       "more than " + std::to_string(kMaxInterimResponses) + " interim (1xx) responses");
              }
              return 0;
            }
            s->head_done = true;
            ResponseHead head;
            head.status = s->status;
            head.version_major = 2;
            head.version_minor = 0;
            head.headers = std::move(s->fields);
            s->fields = HeaderList{};
            self.listener_.on_head(id, std::move(head));
          } else if (block == Stream::Block::kTrailers) {
            HeaderList trailers = std::move(s->fields);
            s->fields = HeaderList{};
            self.listener_.on_trailers(id, std::move(trailers));
          }
          if (s->remote_ended) self.listener_.on_remote_end(id);
          return 0;
        }
        case NGHTTP2_DATA:
          if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
            if (Stream* s = find(self, id)) {
              s->remote_ended = true;
              self.listener_.on_remote_end(id);
            }
          }
          return 0;
        case NGHTTP2_SETTINGS:
          if (!(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
            self.remote_settings_received_ = true;
            self.listener_.on_settings();
          }
          return 0;
        case NGHTTP2_PING:
          if (frame->hd.flags & NGHTTP2_FLAG_ACK) {
            uint64_t opaque = 0;
            for (uint8_t b : frame->ping.opaque_data) opaque = (opaque << 8) | b;
            self.listener_.on_ping_ack(opaque);
          }
          return 0;
        case NGHTTP2_GOAWAY:
          self.goaway_received_ = true;
          self.goaway_last_stream_id_ = frame->goaway.last_stream_id;
          self.listener_.on_goaway(frame->goaway.last_stream_id, frame->goaway.error_code,
                                   std::string_view(reinterpret_cast<const char*>(frame->goaway.opaque_data),
                                                    frame->goaway.opaque_data_len));
          return 0;
        case NGHTTP2_PUSH_PROMISE:
          // Browsers that still announce push get none from us: cancel the promised stream.
          nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->push_promise.promised_stream_id,
                                    NGHTTP2_CANCEL);
          return 0;
        default:
          return 0;
      }
    });
  }

  static int on_data_chunk_recv(nghttp2_session* session, uint8_t, int32_t id, const uint8_t* data,
                                size_t len, void* user_data) {
    return guarded(user_data, [&](ClientSession& self) {
      const Stream* s = find(self, id);
      if (!s || !s->refused.empty()) {
        // A stream we refused (its RST_STREAM is on its way), or one no longer in our table
        // (close_all_streams() reported it): nobody will give these bytes back, so the connection
        // window gets them now. (DATA after our RST_STREAM went out is dropped and accounted for
        // by nghttp2 itself.)
        if (self.options_.manual_flow_control) nghttp2_session_consume(session, id, len);
        return 0;
      }
      self.listener_.on_data(id, std::string_view(reinterpret_cast<const char*>(data), len));
      return 0;
    });
  }

  static int on_stream_close(nghttp2_session*, int32_t id, uint32_t error_code, void* user_data) {
    return guarded(user_data, [&](ClientSession& self) {
      self.deliver_close(id, error_code);
      return 0;
    });
  }

  // What the Akamai string reads, as each frame leaves: the first SETTINGS, and until the first
  // request's HEADERS the connection WINDOW_UPDATE and the PRIORITY frames, then its pseudo-headers.
  static void record_first_flight(fingerprint::H2FirstFlight& f, const nghttp2_frame& frame) {
    if (f.headers_sent) return;
    switch (frame.hd.type) {
      case NGHTTP2_SETTINGS:
        if (f.settings_sent || (frame.hd.flags & NGHTTP2_FLAG_ACK)) return;
        f.settings_sent = true;
        for (size_t i = 0; i < frame.settings.niv; ++i) {
          f.settings.emplace_back(static_cast<uint16_t>(frame.settings.iv[i].settings_id),
                                  frame.settings.iv[i].value);
        }
        return;
      case NGHTTP2_WINDOW_UPDATE:
        if (frame.hd.stream_id == 0 && !f.connection_window_update) {
          f.connection_window_update = static_cast<uint32_t>(frame.window_update.window_size_increment);
        }
        return;
      case NGHTTP2_PRIORITY: {
        const nghttp2_priority_spec& p = frame.priority.pri_spec;
        f.priority_frames.push_back({static_cast<uint32_t>(frame.hd.stream_id), p.exclusive != 0,
                                     static_cast<uint32_t>(p.stream_id), static_cast<uint16_t>(p.weight)});
        return;
      }
      case NGHTTP2_HEADERS:
        if (frame.headers.cat != NGHTTP2_HCAT_REQUEST) return;
        f.headers_sent = true;
        for (size_t i = 0; i < frame.headers.nvlen; ++i) {
          const nghttp2_nv& nv = frame.headers.nva[i];
          if (nv.namelen > 0 && nv.name[0] == ':')
            f.pseudo_headers.emplace_back(reinterpret_cast<char*>(nv.name), nv.namelen);
        }
        return;
      default:
        return;
    }
  }

  static int on_frame_send(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    return guarded(user_data, [&](ClientSession& self) {
      record_first_flight(self.first_flight_, *frame);
      if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
      Stream* s = find(self, frame->hd.stream_id);
      if (s) s->headers_sent = true;
      // Only now does the stream exist in nghttp2: a stream WINDOW_UPDATE submitted earlier would be
      // dropped. Control frames go before the next HEADERS and any DATA, so it directly follows.
      if (self.profile_.stream_window_update > 0) {
        nghttp2_submit_window_update(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                     static_cast<int32_t>(self.profile_.stream_window_update));
      }
      return 0;
    });
  }

  static ssize_t read_body(nghttp2_session*, int32_t id, uint8_t* buf, size_t length, uint32_t* data_flags,
                           nghttp2_data_source*, void* user_data) {
    // Looked up by id, not through the data source pointer: close_all_streams() may have dropped the
    // record while nghttp2 still holds the DATA item.
    auto* self = static_cast<ClientSession*>(user_data);
    auto it = self->streams_.find(id);
    if (it == self->streams_.end()) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    Stream& s = *it->second;
    const size_t n = std::min(length, s.body.size() - s.body_offset);
    // A streamed body with nothing buffered: nghttp2 waits until append_request_body resumes it.
    if (n == 0 && !s.body_ended) return NGHTTP2_ERR_DEFERRED;
    if (n > 0) std::memcpy(buf, s.body.data() + s.body_offset, n);
    s.body_offset += n;
    if (s.body_offset == s.body.size()) {
      if (s.body_ended) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
      std::string().swap(s.body);
      s.body_offset = 0;
    }
    const bool last = (*data_flags & NGHTTP2_DATA_FLAG_EOF) != 0;
    if ((n > 0 || last) && s.body_follows) {
      try {
        self->listener_.on_request_body_sent(id, n, last);
      } catch (...) {
        return NGHTTP2_ERR_CALLBACK_FAILURE;
      }
    }
    return static_cast<ssize_t>(n);
  }

  static int on_error(nghttp2_session*, int, const char* msg, size_t len, void* user_data) {
    auto* self = static_cast<ClientSession*>(user_data);
    try {
      self->last_library_message_.assign(msg, len);
    } catch (...) {
    }
    return 0;
  }
};

void ClientSession::SessionDeleter::operator()(nghttp2_session* s) const noexcept { nghttp2_session_del(s); }

ClientSession::ClientSession(const Http2Profile& profile, SessionListener& listener)
    : ClientSession(profile, listener, Options{}) {}

ClientSession::ClientSession(const Http2Profile& profile, SessionListener& listener, Options options)
    : profile_(profile), listener_(listener), options_(options) {}

ClientSession::~ClientSession() = default;

bool ClientSession::start(std::string* error) {
  auto bad = [&](std::string message) {
    if (error) *error = std::move(message);
    return false;
  };
  try {
    if (started_) return bad("HTTP/2 session already started");
    std::string order = profile_.pseudo_header_order;
    std::sort(order.begin(), order.end());
    if (order != "amps") {
      return bad("pseudo_header_order must be a permutation of \"masp\", got \"" +
                 profile_.pseudo_header_order + "\"");
    }
    const uint32_t first = profile_.first_stream_id;
    if (first == 0 || first % 2 == 0 || first > 0x7fffffffu) {
      return bad("first_stream_id must be odd and below 2^31, got " + std::to_string(first));
    }
    for (const auto& p : profile_.priority_frames) {
      if (p.weight < 1 || p.weight > 256) return bad("PRIORITY frame weight must be 1..256");
      if (p.stream_id == 0 || p.stream_id > 0x7fffffffu || p.depends_on > 0x7fffffffu ||
          p.stream_id == p.depends_on) {
        return bad("PRIORITY frame on stream " + std::to_string(p.stream_id) + " is invalid");
      }
    }
    const auto& hp = profile_.headers_priority_spec;
    if (profile_.headers_priority && (hp.weight < 1 || hp.weight > 256 || hp.depends_on > 0x7fffffffu)) {
      return bad("headers_priority_spec must have a weight of 1..256 and a stream id below 2^31");
    }
    if (profile_.connection_window_update > 0x7fffffffu - 65535u) {
      return bad("connection_window_update would exceed the maximum window size");
    }
    if (profile_.stream_window_update > 0x7fffffffu) {
      return bad("stream_window_update would exceed the maximum window size");
    }

    nghttp2_session_callbacks* raw_cbs = nullptr;
    if (int rv = nghttp2_session_callbacks_new(&raw_cbs); rv != 0)
      return bad(describe("nghttp2 callbacks", rv));
    std::unique_ptr<nghttp2_session_callbacks, CallbacksDeleter> cbs(raw_cbs);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs.get(), &Callbacks::on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs.get(), &Callbacks::on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs.get(), &Callbacks::on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs.get(), &Callbacks::on_data_chunk_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs.get(), &Callbacks::on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs.get(), &Callbacks::on_frame_send);
    nghttp2_session_callbacks_set_error_callback2(cbs.get(), &Callbacks::on_error);

    nghttp2_option* raw_opt = nullptr;
    if (int rv = nghttp2_option_new(&raw_opt); rv != 0) return bad(describe("nghttp2 options", rv));
    std::unique_ptr<nghttp2_option, OptionDeleter> opt(raw_opt);
    if (options_.manual_flow_control) nghttp2_option_set_no_auto_window_update(opt.get(), 1);
    nghttp2_option_set_peer_max_concurrent_streams(opt.get(), options_.initial_max_concurrent_streams);
    // CONTINUATION flood (CVE-2024-28182): set explicitly, not left to the library's default.
    nghttp2_option_set_max_continuations(opt.get(), kMaxContinuations);

    nghttp2_session* raw = nullptr;
    if (int rv = nghttp2_session_client_new2(&raw, cbs.get(), this, opt.get()); rv != 0) {
      return bad(describe("nghttp2 session", rv));
    }
    session_.reset(raw);
    auto undo = [&](std::string message) {
      session_.reset();
      return bad(std::move(message));
    };

    // 1. SETTINGS, entries in the profile's order; nghttp2 checks known ids' values only.
    std::vector<nghttp2_settings_entry> iv;
    iv.reserve(profile_.settings.size());
    for (const auto& s : profile_.settings) iv.push_back(nghttp2_settings_entry{s.id, s.value});
    if (int rv = nghttp2_submit_settings(session_.get(), NGHTTP2_FLAG_NONE, iv.data(), iv.size()); rv != 0) {
      return undo(describe("SETTINGS rejected", rv));
    }
    // 2. WINDOW_UPDATE on stream 0 (raises our connection receive window by the same amount).
    if (profile_.connection_window_update > 0) {
      if (int rv = nghttp2_submit_window_update(session_.get(), NGHTTP2_FLAG_NONE, 0,
                                                static_cast<int32_t>(profile_.connection_window_update));
          rv != 0) {
        return undo(describe("connection WINDOW_UPDATE rejected", rv));
      }
    }
    // 3. PRIORITY frames on idle streams (old Firefox's dependency tree).
    for (const auto& p : profile_.priority_frames) {
      nghttp2_priority_spec spec;
      nghttp2_priority_spec_init(&spec, static_cast<int32_t>(p.depends_on), p.weight, p.exclusive ? 1 : 0);
      if (int rv = nghttp2_submit_priority(session_.get(), NGHTTP2_FLAG_NONE,
                                           static_cast<int32_t>(p.stream_id), &spec);
          rv != 0) {
        return undo(describe("PRIORITY frame rejected", rv));
      }
    }
    if (int rv = nghttp2_session_set_next_stream_id(session_.get(), static_cast<int32_t>(first)); rv != 0) {
      return undo(describe("first_stream_id rejected", rv));
    }
    patch_default_priority_ = profile_.headers_priority && hp.depends_on == 0 &&
                              hp.weight == NGHTTP2_DEFAULT_WEIGHT && !hp.exclusive;
    started_ = true;
    return true;
  } catch (const std::exception& e) {
    session_.reset();
    return bad(std::string("HTTP/2 session start failed: ") + e.what());
  }
}

int32_t ClientSession::submit_request(std::string_view method, std::string_view scheme,
                                      std::string_view authority, std::string_view path,
                                      const HeaderList& headers, std::string body, std::string* error,
                                      bool body_follows, std::string_view extended_protocol) {
  auto bad = [&](std::string message) -> int32_t {
    if (error) *error = std::move(message);
    return -1;
  };
  try {
    if (!session_ || !started_) return bad("HTTP/2 session not started");
    if (failed_) return bad("HTTP/2 session failed: " + error_);
    if (closed_) return bad("HTTP/2 session is closed");
    if (goaway_received_) return bad("HTTP/2 server sent GOAWAY: no new streams");
    if (!nghttp2_session_check_request_allowed(session_.get()))
      return bad("HTTP/2 session accepts no new streams");
    if (method.empty() || path.empty() || scheme.empty())
      return bad(":method, :scheme and :path must not be empty");

    std::vector<nghttp2_nv> nva;
    nva.reserve(5 + headers.size());
    for (char c : profile_.pseudo_header_order) {
      switch (c) {
        case 'm':
          nva.push_back(make_nv(":method", method));
          break;
        case 'a':
          if (!authority.empty()) nva.push_back(make_nv(":authority", authority));
          break;
        case 's':
          nva.push_back(make_nv(":scheme", scheme));
          break;
        case 'p':
          nva.push_back(make_nv(":path", path));
          break;
        default:
          break;
      }
    }
    if (!extended_protocol.empty()) {
      if (!remote_allows_extended_connect())
        return bad("the server does not allow extended CONNECT (RFC 8441)");
      nva.push_back(make_nv(":protocol", extended_protocol));
    }
    std::vector<std::string> names;  // lower-cased names; reserved: make_nv keeps pointers into them
    names.reserve(headers.size());
    for (const auto& h : headers) {
      if (h.name.empty() || h.name[0] == ':') continue;
      std::string name(h.name.size(), '\0');
      std::transform(h.name.begin(), h.name.end(), name.begin(), lower);
      if (connection_specific(name)) continue;
      if (name == "te" && !iequals(h.value, "trailers")) continue;
      if (!nghttp2_check_header_name(reinterpret_cast<const uint8_t*>(name.data()), name.size())) {
        return bad("invalid header name: " + h.name);
      }
      if (!nghttp2_check_header_value(reinterpret_cast<const uint8_t*>(h.value.data()), h.value.size())) {
        return bad("invalid value for header " + h.name);
      }
      names.push_back(std::move(name));
      nva.push_back(make_nv(names.back(), h.value));
    }

    nghttp2_priority_spec spec;
    const nghttp2_priority_spec* pri = nullptr;
    if (profile_.headers_priority) {
      const auto& hp = profile_.headers_priority_spec;
      nghttp2_priority_spec_init(&spec, static_cast<int32_t>(hp.depends_on), hp.weight, hp.exclusive ? 1 : 0);
      pri = &spec;
    }
    auto record = std::make_unique<Stream>();
    const bool has_body = !body.empty() || body_follows;
    record->body = std::move(body);
    record->body_follows = body_follows;
    record->body_ended = !body_follows;
    nghttp2_data_provider provider{};
    provider.read_callback = &Callbacks::read_body;
    const int32_t id = nghttp2_submit_request(session_.get(), pri, nva.data(), nva.size(),
                                              has_body ? &provider : nullptr, nullptr);
    if (id < 0) return bad(describe("HTTP/2 request not submitted", id));
    streams_.emplace(id, std::move(record));
    return id;
  } catch (const std::exception& e) {
    return bad(std::string("HTTP/2 request not submitted: ") + e.what());
  }
}

bool ClientSession::append_request_body(int32_t stream, std::string_view bytes, bool end) {
  if (!session_ || failed_) return false;
  auto it = streams_.find(stream);
  if (it == streams_.end() || !it->second->body_follows || it->second->body_ended) return false;
  Stream& s = *it->second;
  try {
    if (s.body_offset > 0 && s.body_offset * 2 >= s.body.size()) {
      s.body.erase(0, s.body_offset);
      s.body_offset = 0;
    }
    s.body.append(bytes);
  } catch (const std::exception& e) {
    fail(std::string("HTTP/2 request body not queued: ") + e.what());
    return false;
  }
  s.body_ended = end;
  // Wakes a DATA item that read_body deferred (an error just means it was not deferred).
  nghttp2_session_resume_data(session_.get(), stream);
  return true;
}

void ClientSession::reset_stream(int32_t stream, uint32_t code) {
  if (!session_ || failed_ || streams_.find(stream) == streams_.end()) return;
  nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, stream, code);
}

bool ClientSession::receive(std::string_view bytes, std::string* error) {
  auto bad = [&](std::string message) {
    if (error) *error = std::move(message);
    return false;
  };
  if (!session_) return bad("HTTP/2 session not started");
  if (failed_) return bad(error_);
  if (in_io_) return bad("ClientSession::receive() called from a listener callback");
  in_io_ = true;
  while (!bytes.empty()) {
    const ssize_t n = nghttp2_session_mem_recv(session_.get(), reinterpret_cast<const uint8_t*>(bytes.data()),
                                               bytes.size());
    if (n < 0) {
      std::string message =
          !callback_error_.empty() ? callback_error_ : describe("HTTP/2 receive failed", static_cast<int>(n));
      if (callback_error_.empty() && !last_library_message_.empty())
        message += " (" + last_library_message_ + ")";
      fail(std::move(message));
      break;
    }
    if (n == 0) break;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  in_io_ = false;
  if (failed_) return bad(error_);
  return true;
}

bool ClientSession::produce(std::string& out, size_t limit) {
  if (!session_ || failed_ || in_io_) return false;
  in_io_ = true;
  const size_t start = out.size();
  try {
    while (out.size() - start < limit) {
      const uint8_t* data = nullptr;
      const ssize_t n = nghttp2_session_mem_send(session_.get(), &data);
      if (n < 0) {
        fail(!callback_error_.empty() ? callback_error_
                                      : describe("HTTP/2 send failed", static_cast<int>(n)));
        break;
      }
      if (n == 0) break;
      const size_t before = out.size();
      out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
      scan_output(out, before);
    }
  } catch (const std::exception& e) {
    fail(std::string("HTTP/2 send failed: ") + e.what());
  }
  in_io_ = false;
  return out.size() > start;
}

// Follows the frame boundaries of everything produce() hands out. Its one job: nghttp2 never sets
// the PRIORITY flag for a spec equal to RFC 7540's default, so when the profile asks for exactly
// that, the 5 priority bytes are inserted into our request HEADERS here (same meaning to the
// server, the wire the profile describes). Only bytes appended by the current produce() call are
// touched, and only when the frame still fits the server's SETTINGS_MAX_FRAME_SIZE.
void ClientSession::scan_output(std::string& out, size_t from) {
  size_t i = from;
  while (i < out.size()) {
    if (out_skip_ > 0) {
      const size_t n = std::min(out_skip_, out.size() - i);
      out_skip_ -= n;
      i += n;
      continue;
    }
    out_hdr_[out_hdr_len_++] = static_cast<unsigned char>(out[i++]);
    if (out_hdr_len_ < kFrameHeaderLen) continue;
    out_hdr_len_ = 0;
    const size_t length = (size_t{out_hdr_[0]} << 16) | (size_t{out_hdr_[1]} << 8) | out_hdr_[2];
    const uint8_t type = out_hdr_[3];
    const uint8_t flags = out_hdr_[4];
    const int32_t id = static_cast<int32_t>(((uint32_t{out_hdr_[5]} << 24) | (uint32_t{out_hdr_[6]} << 16) |
                                             (uint32_t{out_hdr_[7]} << 8) | out_hdr_[8]) &
                                            0x7fffffffu);
    out_skip_ = length;
    if (type != kFrameHeaders) continue;
    auto it = streams_.find(id);
    if (it == streams_.end() || it->second->priority_checked) continue;
    it->second->priority_checked = true;
    const size_t header_at = i - kFrameHeaderLen;
    if (!patch_default_priority_ || (flags & (kFlagPriority | kFlagPadded)) || header_at < from ||
        nghttp2_session_get_remote_settings(session_.get(), NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES) == 1 ||
        length + 5 > nghttp2_session_get_remote_settings(session_.get(), NGHTTP2_SETTINGS_MAX_FRAME_SIZE)) {
      continue;
    }
    const auto& hp = profile_.headers_priority_spec;  // the default: dependency 0, weight 16, not exclusive
    const uint32_t dep = hp.depends_on | (hp.exclusive ? 0x80000000u : 0u);
    const char priority[5] = {static_cast<char>(dep >> 24), static_cast<char>(dep >> 16),
                              static_cast<char>(dep >> 8), static_cast<char>(dep),
                              static_cast<char>(hp.weight - 1)};
    out.insert(i, priority, sizeof priority);
    const size_t new_length = length + 5;
    out[header_at] = static_cast<char>(new_length >> 16);
    out[header_at + 1] = static_cast<char>(new_length >> 8);
    out[header_at + 2] = static_cast<char>(new_length);
    out[header_at + 4] = static_cast<char>(flags | kFlagPriority);
    i += sizeof priority;
  }
}

void ClientSession::consume(int32_t stream, size_t n) {
  if (!session_ || failed_ || !options_.manual_flow_control || stream <= 0 || n == 0) return;
  if (int rv = nghttp2_session_consume(session_.get(), stream, n); nghttp2_is_fatal(rv)) {
    fail(describe("HTTP/2 consume failed", rv));
  }
}

uint64_t ClientSession::submit_ping() {
  const uint64_t opaque = next_ping_++;
  if (!session_ || failed_) return opaque;
  uint8_t bytes[8];
  for (int k = 0; k < 8; ++k) bytes[k] = static_cast<uint8_t>(opaque >> (56 - 8 * k));
  nghttp2_submit_ping(session_.get(), NGHTTP2_FLAG_NONE, bytes);
  return opaque;
}

void ClientSession::terminate(uint32_t error_code) {
  closed_ = true;
  if (!session_ || failed_) return;
  nghttp2_session_terminate_session(session_.get(), error_code);
}

void ClientSession::close_all_streams(uint32_t error_code) {
  closed_ = true;
  try {
    while (!streams_.empty()) deliver_close(streams_.begin()->first, error_code);
  } catch (const std::exception& e) {
    fail(std::string("listener callback threw: ") + e.what());
  } catch (...) {
    fail("listener callback threw");
  }
}

void ClientSession::deliver_close(int32_t id, uint32_t error_code) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  const std::unique_ptr<Stream> s = std::move(it->second);
  streams_.erase(it);
  StreamClose close;
  close.error_code = s->refused.empty() ? error_code : kProtocolError;
  close.reset_reason = std::move(s->refused);
  close.response_complete = s->remote_ended && close.reset_reason.empty();
  close.retryable =
      !s->remote_ended && !s->head_done &&
      (error_code == kRefusedStream || !s->headers_sent || (goaway_received_ && id > goaway_last_stream_id_));
  listener_.on_stream_closed(id, close);
}

size_t ClientSession::remote_max_concurrent_streams() const {
  if (!session_) return options_.initial_max_concurrent_streams;
  return nghttp2_session_get_remote_settings(session_.get(), NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
}

bool ClientSession::remote_allows_extended_connect() const {
  return session_ && remote_settings_received_ &&
         nghttp2_session_get_remote_settings(session_.get(), NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL) == 1;
}

bool ClientSession::can_submit() const {
  return session_ && started_ && !failed_ && !closed_ && !goaway_received_ &&
         nghttp2_session_check_request_allowed(session_.get()) &&
         open_streams() < remote_max_concurrent_streams();
}

bool ClientSession::want_read() const {
  return session_ && !failed_ && nghttp2_session_want_read(session_.get());
}

bool ClientSession::want_write() const {
  return session_ && !failed_ && nghttp2_session_want_write(session_.get());
}

void ClientSession::fail(std::string message) {
  if (failed_) return;
  failed_ = true;
  error_ = std::move(message);
}

}  // namespace ctn::http2
