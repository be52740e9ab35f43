#include "http3/session.h"

#include <nghttp3/nghttp3.h>

#include <algorithm>
#include <deque>
#include <exception>
#include <random>
#include <vector>

#include "http3/frames.h"

namespace ctn::http3 {

namespace {

std::string_view view(nghttp3_rcbuf* buf) {
  const nghttp3_vec v = nghttp3_rcbuf_get_buf(buf);
  return {reinterpret_cast<const char*>(v.base), v.len};
}

// Fields a request over HTTP/3 must not carry (RFC 9114 §4.2), as for HTTP/2.
bool connection_specific(std::string_view lower_name) {
  return lower_name == "connection" || lower_name == "keep-alive" || lower_name == "proxy-connection" ||
         lower_name == "transfer-encoding" || lower_name == "upgrade" || lower_name == "host" ||
         lower_name == "te";
}

std::function<uint64_t()> system_random() {
  return [engine = std::make_shared<std::mt19937_64>(std::random_device{}())] { return (*engine)(); };
}

// The pseudo-header a letter of Http3Profile::pseudo_header_order names.
std::string_view pseudo_header(char letter) {
  switch (letter) {
    case 'm':
      return ":method";
    case 's':
      return ":scheme";
    case 'a':
      return ":authority";
    case 'p':
      return ":path";
    default:
      return {};
  }
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
  return out;
}

}  // namespace

size_t Output::size() const noexcept {
  size_t n = 0;
  for (const auto& d : data) n += d.size();
  return n;
}

struct ClientSession::Request {
  ResponseHead head;  // the head being decoded
  size_t header_bytes = 0;
  bool head_delivered = false;
  bool complete = false;  // the server's FIN after a complete response
  bool closed = false;
  std::string reset_reason;  // a limit passed or a malformed response: the stream is to be reset
  // The request body: chunks not yet acknowledged by the peer (nghttp3 refers to them until then),
  // how many of them were handed to nghttp3, how much of the first was acknowledged, and the end.
  std::deque<std::string> body;
  size_t body_given = 0;
  size_t front_acked = 0;
  bool body_end = false;
};

// nghttp3's C callbacks, each forwarding to the session (conn_user_data). An exception from the
// listener stops here: it fails the session instead of crossing C frames.
struct ClientSession::Callbacks {
  static ClientSession& self(void* user) { return *static_cast<ClientSession*>(user); }

  template <typename F>
  static int guarded(void* user, F&& f) {
    try {
      f(self(user));
      return 0;
    } catch (const std::exception& e) {
      self(user).callback_error_ = e.what();
    } catch (...) {
      self(user).callback_error_ = "unknown exception in an HTTP/3 listener";
    }
    return NGHTTP3_ERR_CALLBACK_FAILURE;
  }

  static Request* request(ClientSession& s, int64_t stream) {
    auto it = s.requests_.find(stream);
    return it == s.requests_.end() ? nullptr : it->second.get();
  }

  static int begin_headers(nghttp3_conn*, int64_t stream, void* user, void*) {
    return guarded(user, [&](ClientSession& s) {
      if (Request* r = request(s, stream)) {
        r->head = ResponseHead{};
        r->head.version_major = 3;
        r->head.version_minor = 0;
        r->header_bytes = 0;
      }
    });
  }

  static int recv_header(nghttp3_conn*, int64_t stream, int32_t, nghttp3_rcbuf* name, nghttp3_rcbuf* value,
                         uint8_t, void* user, void*) {
    return guarded(user, [&](ClientSession& s) {
      Request* r = request(s, stream);
      if (!r || !r->reset_reason.empty()) return;
      const std::string_view n = view(name), v = view(value);
      r->header_bytes += n.size() + v.size() + 32;
      if (r->header_bytes > kMaxHeaderSectionBytes || r->head.headers.size() >= kMaxHeaderFields) {
        r->reset_reason = "the response header section passed the limit (" +
                          std::to_string(kMaxHeaderSectionBytes) + " bytes, " +
                          std::to_string(kMaxHeaderFields) + " fields)";
        return;
      }
      if (n == ":status") {
        int status = 0;
        for (char c : v) status = (c >= '0' && c <= '9' && status < 1000) ? status * 10 + (c - '0') : 1000;
        r->head.status = status;
      } else if (!n.empty() && n[0] != ':') {
        r->head.headers.push_back(Header{std::string(n), std::string(v)});
      }
    });
  }

  static int end_headers(nghttp3_conn*, int64_t stream, int, void* user, void*) {
    return guarded(user, [&](ClientSession& s) {
      Request* r = request(s, stream);
      if (!r || !r->reset_reason.empty() || r->head.status < 200) return;  // 1xx heads are skipped
      r->head_delivered = true;
      s.listener_.on_head(stream, std::move(r->head));
    });
  }

  static int recv_data(nghttp3_conn*, int64_t stream, const uint8_t* data, size_t len, void* user, void*) {
    return guarded(user, [&](ClientSession& s) {
      Request* r = request(s, stream);
      if (r && r->reset_reason.empty())
        s.listener_.on_data(stream, {reinterpret_cast<const char*>(data), len});
      // Body bytes are consumed as soon as they are delivered: the window opens again.
      s.listener_.on_consumed(stream, len);
    });
  }

  static int deferred_consume(nghttp3_conn*, int64_t stream, size_t consumed, void* user, void*) {
    return guarded(user, [&](ClientSession& s) { s.listener_.on_consumed(stream, consumed); });
  }

  static int end_stream(nghttp3_conn*, int64_t stream, void* user, void*) {
    return guarded(user, [&](ClientSession& s) {
      if (Request* r = request(s, stream)) r->complete = r->head_delivered && r->reset_reason.empty();
    });
  }

  // nghttp3 asks for the next body bytes: the chunks not handed over yet, the end once all were.
  // (The stream's own Request comes as stream_user_data: nghttp3 may ask during submit_request,
  // before requests_ holds it.)
  static nghttp3_ssize read_data(nghttp3_conn*, int64_t, nghttp3_vec* vec, size_t veccnt, uint32_t* flags,
                                 void*, void* stream_user) {
    Request* r = static_cast<Request*>(stream_user);
    if (!r) {
      *flags |= NGHTTP3_DATA_FLAG_EOF;
      return 0;
    }
    size_t n = 0;
    while (n < veccnt && r->body_given < r->body.size()) {
      std::string& chunk = r->body[r->body_given++];
      vec[n++] = nghttp3_vec{reinterpret_cast<uint8_t*>(chunk.data()), chunk.size()};
    }
    if (r->body_given == r->body.size()) {
      if (r->body_end) {
        *flags |= NGHTTP3_DATA_FLAG_EOF;
      } else if (n == 0) {
        return NGHTTP3_ERR_WOULDBLOCK;  // add_body resumes the stream
      }
    }
    return static_cast<nghttp3_ssize>(n);
  }

  static int acked_stream_data(nghttp3_conn*, int64_t stream, uint64_t n, void* user, void*) {
    return guarded(user, [&](ClientSession& s) {
      Request* r = request(s, stream);
      if (!r) return;
      uint64_t left = n;
      while (left > 0 && !r->body.empty() && r->body_given > 0) {
        const size_t rest = r->body.front().size() - r->front_acked;
        if (left < rest) {
          r->front_acked += static_cast<size_t>(left);
          break;
        }
        left -= rest;
        r->body.pop_front();
        r->body_given--;
        r->front_acked = 0;
      }
      s.listener_.on_body_acked(stream, n);
    });
  }

  static int stream_close(nghttp3_conn*, int64_t stream, uint64_t code, void* user, void*) {
    return guarded(user, [&](ClientSession& s) { s.report_closed(stream, code); });
  }
};

void ClientSession::ConnDeleter::operator()(nghttp3_conn* c) const noexcept { nghttp3_conn_del(c); }

ClientSession::ClientSession(SessionListener& listener, Http3Profile shape, std::function<uint64_t()> random)
    : listener_(listener), shape_(std::move(shape)), random_(random ? std::move(random) : system_random()) {}
ClientSession::~ClientSession() = default;

bool ClientSession::fail(std::string message, uint64_t code, std::string* error) {
  failed_ = true;
  error_code_ = code;
  if (error) *error = std::move(message);
  return false;
}

bool ClientSession::start(int64_t control_stream, int64_t qpack_encoder_stream, int64_t qpack_decoder_stream,
                          std::string* error) {
  nghttp3_callbacks callbacks{};
  callbacks.stream_close = &Callbacks::stream_close;
  callbacks.acked_stream_data = &Callbacks::acked_stream_data;
  callbacks.recv_data = &Callbacks::recv_data;
  callbacks.deferred_consume = &Callbacks::deferred_consume;
  callbacks.begin_headers = &Callbacks::begin_headers;
  callbacks.recv_header = &Callbacks::recv_header;
  callbacks.end_headers = &Callbacks::end_headers;
  callbacks.end_stream = &Callbacks::end_stream;
  nghttp3_settings settings;
  nghttp3_settings_default(&settings);
  // Our own limit on a header section (name + value + 32 per field) is announced to the server
  // (nghttp3's SETTINGS, Chrome's 0x6); a shape that announces none (Firefox) still has it enforced.
  settings.max_field_section_size = kMaxHeaderSectionBytes;
  // What a shape announces about our QPACK decoder is what the decoder allows.
  for (const Http3Setting& s : shape_.settings) {
    if (s.id == 0x1)
      settings.qpack_max_dtable_capacity = static_cast<size_t>(std::min<uint64_t>(s.value, 1 << 20));
    if (s.id == 0x7)
      settings.qpack_blocked_streams = static_cast<size_t>(std::min<uint64_t>(s.value, 1 << 16));
    if (s.id == 0x6) settings.max_field_section_size = std::min<uint64_t>(s.value, kMaxHeaderSectionBytes);
  }
  nghttp3_conn* conn = nullptr;
  int rv = nghttp3_conn_client_new(&conn, &callbacks, &settings, nullptr, this);
  if (rv != 0)
    return fail(std::string("nghttp3_conn_client_new: ") + nghttp3_strerror(rv), kInternalError, error);
  conn_.reset(conn);
  nghttp3_conn_set_qpack_inserts_before_base(conn, shape_.qpack_insert == QpackInsert::kAllButStatic);
  nghttp3_conn_set_qpack_huffman_on_ties(conn, shape_.qpack_huffman_on_ties);
  nghttp3_conn_set_write_order(
      conn, (shape_.qpack_encoder_before_decoder ? NGHTTP3_CTN_WRITE_QENC_BEFORE_QDEC : 0u) |
                (shape_.request_before_qpack_encoder ? NGHTTP3_CTN_WRITE_REQUEST_BEFORE_QENC : 0u));
  if (shape_.settings.empty()) {
    rv = nghttp3_conn_bind_control_stream(conn, control_stream);
  } else {
    const std::string frames = encode_control_preamble(shape_, random_);
    rv = nghttp3_conn_bind_control_stream_raw(conn, control_stream,
                                              reinterpret_cast<const uint8_t*>(frames.data()), frames.size());
  }
  if (rv == 0 && qpack_streams_at_start()) {
    rv = nghttp3_conn_bind_qpack_streams(conn, qpack_encoder_stream, qpack_decoder_stream);
    qpack_bound_ = rv == 0;
  }
  if (rv != 0) {
    return fail(std::string("binding the HTTP/3 control streams: ") + nghttp3_strerror(rv), kInternalError,
                error);
  }
  return true;
}

bool ClientSession::update_qpack_streams(std::string* error) {
  uint64_t peer_capacity = 0;
  const bool peer_settings = nghttp3_conn_get_remote_qpack_max_dtable_capacity(conn_.get(), &peer_capacity);
  int rv = 0;
  // Lazy streams open once the peer allows a table, or once our decoder has something to tell a
  // peer that uses ours anyway (else its acknowledgements would pile up unsent).
  if (!qpack_bound_ &&
      ((peer_settings && peer_capacity > 0) || nghttp3_conn_has_qpack_decoder_output(conn_.get()))) {
    // Chrome's order: the decoder stream first, then the encoder stream.
    const int64_t decoder = listener_.open_uni_stream();
    const int64_t encoder = decoder < 0 ? -1 : listener_.open_uni_stream();
    if (encoder < 0) {
      return fail("the server allows too few unidirectional streams for the QPACK streams",
                  kGeneralProtocolError, error);
    }
    if ((rv = nghttp3_conn_bind_qpack_streams_deferred(conn_.get(), encoder, decoder)) != 0)
      return fail(std::string("binding the QPACK streams: ") + nghttp3_strerror(rv), kInternalError, error);
    qpack_bound_ = true;
  }
  if (peer_settings && !peer_settings_handled_) {
    peer_settings_handled_ = true;
    if (shape_.qpack_capacity_at_once && qpack_bound_ &&
        (rv = nghttp3_conn_write_qpack_capacity(conn_.get())) != 0)
      return fail(std::string("QPACK capacity: ") + nghttp3_strerror(rv), kInternalError, error);
  }
  return true;
}

bool ClientSession::submit_request(int64_t stream, std::string_view method, std::string_view scheme,
                                   std::string_view authority, std::string_view path,
                                   const HeaderList& headers, std::string* error, bool with_body) {
  if (!conn_ || failed_) return fail("the HTTP/3 session is not usable", kInternalError, error);
  std::vector<std::pair<std::string, std::string_view>> fields;
  fields.reserve(headers.size() + 4);
  for (const char letter : shape_.pseudo_header_order) {
    const std::string_view name = pseudo_header(letter);
    const std::string_view value = letter == 'm'   ? method
                                   : letter == 's' ? scheme
                                   : letter == 'a' ? authority
                                                   : path;
    if (name.empty() || (letter == 'a' && authority.empty())) continue;
    fields.emplace_back(std::string(name), value);
  }
  std::string_view priority;
  for (const Header& h : headers) {
    std::string name = lower(h.name);
    if (name.empty() || name[0] == ':' || connection_specific(name)) continue;
    // Firefox's alt-used names the origin the request goes to (an empty value in the profile).
    const std::string_view value =
        name == "alt-used" && h.value.empty() ? authority : std::string_view(h.value);
    if (name == "priority") priority = value;
    fields.emplace_back(std::move(name), value);
  }
  std::vector<nghttp3_nv> nva;
  nva.reserve(fields.size());
  for (const auto& [name, value] : fields) {
    uint8_t flags = NGHTTP3_NV_FLAG_NONE;
    if (shape_.qpack_insert == QpackInsert::kAllButStatic) {
      flags = NGHTTP3_NV_FLAG_CTN_INSERT;
    } else if (shape_.qpack_insert == QpackInsert::kListedNames) {
      const auto& listed = shape_.qpack_insert_names;
      flags = std::find(listed.begin(), listed.end(), name) != listed.end() ? NGHTTP3_NV_FLAG_CTN_INSERT
                                                                            : NGHTTP3_NV_FLAG_CTN_NO_INSERT;
    }
    nva.push_back(nghttp3_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                             reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                             value.size(), flags});
  }
  auto request = std::make_unique<Request>();
  static constexpr nghttp3_data_reader kBodyReader{&Callbacks::read_data};
  int rv = nghttp3_conn_submit_request(conn_.get(), stream, nva.data(), nva.size(),
                                       with_body ? &kBodyReader : nullptr, request.get());
  if (rv != 0) {
    if (error) *error = std::string("nghttp3_conn_submit_request: ") + nghttp3_strerror(rv);
    return false;
  }
  requests_[stream] = std::move(request);
  // Chrome's PRIORITY_UPDATE goes out on the control stream, which nghttp3 writes before the
  // request's HEADERS: the two leave in the same packet.
  if (shape_.priority_update && !priority.empty()) {
    const std::string frame = encode_priority_update(static_cast<uint64_t>(stream), priority);
    rv = nghttp3_conn_write_control_raw(conn_.get(), reinterpret_cast<const uint8_t*>(frame.data()),
                                        frame.size());
    if (rv != 0) return fail(std::string("PRIORITY_UPDATE: ") + nghttp3_strerror(rv), kInternalError, error);
  }
  return true;
}

void ClientSession::add_body(int64_t stream, std::string chunk, bool end) {
  auto it = requests_.find(stream);
  if (it == requests_.end() || it->second->body_end) return;
  if (!chunk.empty()) it->second->body.push_back(std::move(chunk));
  it->second->body_end = end;
  if (conn_) nghttp3_conn_resume_stream(conn_.get(), stream);
}

std::optional<Output> ClientSession::next_output() {
  if (!conn_ || failed_) return std::nullopt;
  if (!update_qpack_streams(nullptr)) return std::nullopt;
  nghttp3_vec vec[kMaxSlices];
  int64_t stream = -1;
  int fin = 0;
  const nghttp3_ssize n = nghttp3_conn_writev_stream(conn_.get(), &stream, &fin, vec, kMaxSlices);
  if (n < 0) {
    fail(std::string("nghttp3_conn_writev_stream: ") + nghttp3_strerror(static_cast<int>(n)), kInternalError,
         nullptr);
    return std::nullopt;
  }
  if (stream < 0) return std::nullopt;
  for (nghttp3_ssize i = 0; i < n; ++i) {
    out_slices_[i] = std::string_view(reinterpret_cast<const char*>(vec[i].base), vec[i].len);
  }
  return Output{stream, fin != 0, std::span<const std::string_view>(out_slices_, static_cast<size_t>(n))};
}

bool ClientSession::sent(int64_t stream, size_t n) {
  return conn_ && nghttp3_conn_add_write_offset(conn_.get(), stream, n) == 0;
}

void ClientSession::block(int64_t stream) {
  if (conn_) nghttp3_conn_block_stream(conn_.get(), stream);
}

void ClientSession::unblock(int64_t stream) {
  if (conn_) nghttp3_conn_unblock_stream(conn_.get(), stream);
}

bool ClientSession::acked(int64_t stream, uint64_t n) {
  return conn_ && nghttp3_conn_add_ack_offset(conn_.get(), stream, n) == 0;
}

bool ClientSession::receive(int64_t stream, std::string_view bytes, bool fin, std::string* error) {
  if (!conn_ || failed_) return fail("the HTTP/3 session is not usable", kInternalError, error);
  const nghttp3_ssize n = nghttp3_conn_read_stream(
      conn_.get(), stream, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), fin ? 1 : 0);
  if (!callback_error_.empty()) return fail(std::move(callback_error_), kInternalError, error);
  auto it = requests_.find(stream);
  if (n < 0) {
    const int rv = static_cast<int>(n);
    // A malformed response (a bad header, a body longer or shorter than its content-length) is that
    // stream's error: it is reset, the other requests go on. Every other error is the connection's;
    // a QPACK failure among them (nghttp3 0.8.0 marks its decoder unusable after any, a header
    // section beyond max_field_section_size included).
    const bool stream_error =
        rv == NGHTTP3_ERR_MALFORMED_HTTP_HEADER || rv == NGHTTP3_ERR_MALFORMED_HTTP_MESSAGING;
    if (!stream_error || it == requests_.end()) {
      std::string why = nghttp3_strerror(rv);
      if (rv == NGHTTP3_ERR_QPACK_HEADER_TOO_LARGE) {
        why = "a response header section passed the limit (" + std::to_string(kMaxHeaderSectionBytes) +
              " bytes; " + why + ")";
      }
      return fail(std::move(why), nghttp3_err_infer_quic_app_error_code(rv), error);
    }
    if (it->second->reset_reason.empty()) {
      it->second->reset_reason = std::string("malformed HTTP/3 response (") + nghttp3_strerror(rv) + ")";
    }
    give_up(stream, nghttp3_err_infer_quic_app_error_code(rv));
    return true;
  }
  // Frame headers and QPACK bytes nghttp3 consumed itself (data it delivered was credited in recv_data).
  if (n > 0) listener_.on_consumed(stream, static_cast<size_t>(n));
  if (!update_qpack_streams(error)) return false;
  if (it != requests_.end() && !it->second->reset_reason.empty()) give_up(stream, kExcessiveLoad);
  return true;
}

void ClientSession::give_up(int64_t stream, uint64_t code) {
  nghttp3_conn_shutdown_stream_read(conn_.get(), stream);
  // Reported at once: the QUIC stream closes only when the server acknowledges the reset.
  report_closed(stream, code);
  listener_.on_reset_wanted(stream, code);
}

bool ClientSession::stream_closed(int64_t stream, uint64_t app_error_code, std::string* error) {
  if (!conn_) return true;
  const int rv = nghttp3_conn_close_stream(conn_.get(), stream, app_error_code);
  if (!callback_error_.empty()) return fail(std::move(callback_error_), kInternalError, error);
  if (rv == NGHTTP3_ERR_STREAM_NOT_FOUND) {
    report_closed(stream, app_error_code);  // a request nghttp3 never saw the end of
    return true;
  }
  if (rv != 0) {
    return fail(std::string("HTTP/3 stream closed: ") + nghttp3_strerror(rv),
                nghttp3_err_infer_quic_app_error_code(rv), error);
  }
  // A response head still waiting for QPACK inserts: nghttp3 reports the close only once the
  // inserts arrive, which they may never do. The request is over now (later callbacks find no
  // request and are ignored).
  report_closed(stream, app_error_code);
  return true;
}

void ClientSession::stream_reset(int64_t stream) {
  if (conn_) nghttp3_conn_shutdown_stream_read(conn_.get(), stream);
}

void ClientSession::report_closed(int64_t stream, uint64_t code) {
  auto it = requests_.find(stream);
  if (it == requests_.end()) return;
  std::unique_ptr<Request> r = std::move(it->second);
  requests_.erase(it);
  StreamClose close;
  close.error_code = code == kNoError ? 0 : code;
  close.response_complete = r->complete && close.error_code == 0;
  close.reset_reason = std::move(r->reset_reason);
  if (!close.reset_reason.empty() && close.error_code == 0) close.error_code = kExcessiveLoad;
  listener_.on_stream_closed(stream, close);
}

}  // namespace ctn::http3
