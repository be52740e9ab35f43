#include "quic/connection.h"

#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_boringssl.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <unordered_map>

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include "http3/session.h"
#include "quic/crypto_layout.h"
#include "quic/ngtcp2_support.h"

namespace ctn::quic {

namespace {

constexpr size_t kMaxDatagram = 65'536;
constexpr uint64_t kStreamWindow = 6 * 1024 * 1024;
constexpr uint64_t kConnectionWindow = 15 * 1024 * 1024;

// CTN_QUIC_CONNECTION_DUMP_DIR=<dir> (off by default; for tests and fingerprint checks): every datagram of
// the connection goes to <dir>/<first DCID hex>.datagrams, one hex line each marked "> " (sent) or "< "
// (received), and its TLS secrets to <dir>/<first DCID hex>.keys.log in NSS key-log format (SSLKEYLOGFILE),
// so an independent decoder (lib/echo/quic-conn.ts) can open the whole connection as it opens a browser's.
class ConnectionDump {
 public:
  // Null when the variable is unset or the files cannot be opened.
  static std::unique_ptr<ConnectionDump> open(const uint8_t* dcid, size_t dcid_length) {
    const char* dir = std::getenv("CTN_QUIC_CONNECTION_DUMP_DIR");
    if (!dir || !*dir) return nullptr;
    const std::filesystem::path base = std::filesystem::path(dir) / hex(dcid, dcid_length);
    auto dump = std::make_unique<ConnectionDump>();
    dump->datagrams_.open(base.string() + ".datagrams");
    dump->keys_.open(base.string() + ".keys.log");
    if (!dump->datagrams_ || !dump->keys_) return nullptr;
    return dump;
  }
  static bool enabled() {
    const char* dir = std::getenv("CTN_QUIC_CONNECTION_DUMP_DIR");
    return dir && *dir;
  }
  void datagram(bool sent, const uint8_t* data, size_t n) {
    datagrams_ << (sent ? "> " : "< ") << hex(data, n) << '\n' << std::flush;
  }
  void key_line(const char* line) { keys_ << line << '\n' << std::flush; }

 private:
  static std::string hex(const uint8_t* data, size_t n) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out(2 * n, '0');
    for (size_t i = 0; i < n; ++i) {
      out[2 * i] = kDigits[data[i] >> 4];
      out[2 * i + 1] = kDigits[data[i] & 0x0f];
    }
    return out;
  }
  std::ofstream datagrams_;
  std::ofstream keys_;
};

// TLS alerts that mean the certificate was refused (RFC 8446 §6.2), as the TCP path reports them.
bool certificate_alert(uint8_t alert) {
  return alert == SSL_AD_BAD_CERTIFICATE || alert == SSL_AD_UNSUPPORTED_CERTIFICATE ||
         alert == SSL_AD_CERTIFICATE_REVOKED || alert == SSL_AD_CERTIFICATE_EXPIRED ||
         alert == SSL_AD_CERTIFICATE_UNKNOWN || alert == SSL_AD_UNKNOWN_CA;
}

class Connection final : public ClientConnection,
                         public std::enable_shared_from_this<Connection>,
                         private http3::SessionListener {
 public:
  Connection(asio::io_context& io, Options options)
      : options_(std::move(options)),
        socket_(io),
        expiry_timer_(io),
        handshake_timer_(io),
        settings_timer_(io),
        session_(*this, options_.http3) {
    conn_ref_.get_conn = [](ngtcp2_crypto_conn_ref* ref) {
      return static_cast<Connection*>(ref->user_data)->conn_.get();
    };
    conn_ref_.user_data = this;
  }

  void start() override {
    if (started_) return;
    started_ = true;
    if (Error e; !open(&e)) return fail_connection(std::move(e));
    handshake_timer_.expires_after(std::chrono::milliseconds(options_.handshake_timeout_ms));
    handshake_timer_.async_wait([self = shared_from_this()](const std::error_code& ec) {
      if (!ec) self->on_handshake_deadline();
    });
    read_next_datagram();
    flush();
  }

  void fetch(Request request, ResponseHandler done) override {
    open_stream(std::move(request), std::make_shared<Buffered>(std::move(done)));
  }

  uint64_t open_stream(Request request, std::shared_ptr<StreamListener> listener) override {
    auto p = std::make_unique<Pending>(io(), std::move(request), std::move(listener), next_handle_++);
    const uint64_t handle = p->handle;
    if (closed_) {
      settle(*p, &closed_error_);
      return handle;
    }
    p->body_ended = !p->request.body_stream;
    handles_[handle] = p.get();
    waiting_.push_back(std::move(p));
    if (established_) {
      if (reading_) {
        post_send_waiting();  // not from inside ngtcp2's packet processing (a listener's callback)
      } else {
        send_waiting();
        flush();
      }
    }
    return handle;
  }

  void write_body(uint64_t handle, std::string chunk, bool end) override {
    Pending* p = find(handle);
    if (!p || p->body_ended) return;
    p->body_ended = end;
    if (p->stream < 0) {  // still waiting for a stream: kept with the request
      p->request.body += chunk;
      return;
    }
    session_.add_body(p->stream, std::move(chunk), end);
    flush();
  }

  void set_paused(uint64_t handle, bool paused) override {
    Pending* p = find(handle);
    if (!p || p->paused == paused) return;
    p->paused = paused;
    if (paused || p->stream < 0 || !conn_) return;
    // The credit held back while paused goes back to the server now.
    ngtcp2_conn_extend_max_stream_offset(conn_.get(), p->stream, p->held);
    ngtcp2_conn_extend_max_offset(conn_.get(), p->held);
    p->held = 0;
    flush();
  }

  void cancel_stream(uint64_t handle) override {
    Pending* p = find(handle);
    if (!p) return;
    handles_.erase(handle);
    if (p->stream < 0) {
      std::erase_if(waiting_, [&](const std::unique_ptr<Pending>& w) { return w.get() == p; });
      return;
    }
    const int64_t stream = p->stream;
    open_.erase(stream);  // the session's close of the stream later finds nothing to report
    // RESET_STREAM and STOP_SENDING with H3_REQUEST_CANCELLED (RFC 9114 §4.1.1); from inside
    // ngtcp2's packet processing, once that is over.
    if (reading_) {
      asio::post(socket_.get_executor(), [self = shared_from_this(), stream] { self->reset_stream(stream); });
    } else {
      reset_stream(stream);
    }
  }

  void reset_stream(int64_t stream) {
    if (!conn_ || closed_) return;
    ngtcp2_conn_shutdown_stream(conn_.get(), stream, http3::kRequestCancelled);
    flush();
  }

  size_t open_streams() const override { return waiting_.size() + open_.size(); }
  bool closed() const override { return closed_; }
  void set_listener(std::weak_ptr<ConnectionListener> listener) override { listener_ = std::move(listener); }
  const SSL* tls() const override { return established_ ? ssl_.get() : nullptr; }
  const std::string& ech_retry_configs() const override { return ech_retry_configs_; }

  void close() override {
    if (closed_) return;
    if (reading_) {
      // Called from a listener inside ngtcp2's packet processing: once that is over.
      asio::post(socket_.get_executor(), [self = shared_from_this()] { self->close(); });
      return;
    }
    write_connection_close(http3::kNoError, "closed by the client");
    fail_connection(
        Error{ErrorCode::kAborted, Stage::kEngine, "the QUIC connection was closed by the client"});
  }

  bool established() const override { return established_; }

 private:
  // fetch()'s listener: the whole response, then the handler.
  struct Buffered final : StreamListener {
    explicit Buffered(ResponseHandler d) : done(std::move(d)) {}
    void on_head(ResponseHead&& head) override { response.head = std::move(head); }
    void on_body(std::string_view bytes) override { response.body.append(bytes); }
    void on_end(const Error* error) override { done(error, std::move(response)); }
    ResponseHandler done;
    Response response;
  };

  // A request from open_stream() to its settlement.
  struct Pending {
    Pending(asio::io_context& io, Request r, std::shared_ptr<StreamListener> l, uint64_t h)
        : request(std::move(r)), listener(std::move(l)), handle(h), read_timer(io) {}
    Request request;
    std::shared_ptr<StreamListener> listener;
    uint64_t handle;
    int64_t stream = -1;  // the QUIC stream, once it has one
    bool head_seen = false;
    bool body_ended = true;         // the whole request body is known
    bool paused = false;            // the consumer holds the body back
    uint64_t held = 0;              // flow-control credit not given back while paused
    asio::steady_timer read_timer;  // the read deadline: head, then between body bytes
  };

  Pending* find(uint64_t handle) {
    auto it = handles_.find(handle);
    return it == handles_.end() ? nullptr : it->second;
  }

  asio::io_context& io() { return static_cast<asio::io_context&>(socket_.get_executor().context()); }

  // ---- start: the socket, TLS and the ngtcp2 connection ----

  bool open(Error* error) {
    std::error_code ec;
    socket_.open(options_.server.protocol(), ec);
    if (!ec) socket_.non_blocking(true, ec);
    if (!ec) socket_.connect(options_.server, ec);  // the kernel drops datagrams from anyone else
    asio::ip::udp::endpoint local;
    if (!ec) local = socket_.local_endpoint(ec);
    if (ec) {
      *error =
          Error{ErrorCode::kConnect, Stage::kConnect, "QUIC: cannot open the UDP socket: " + ec.message()};
      return false;
    }
    local_ = local;
    remote_ = options_.server;
    const uint32_t datagram_size =
        options_.datagram_size ? options_.datagram_size : options_.transport.datagram_size;
    if (datagram_size && (datagram_size < 1200 || datagram_size > kPacketBuffer)) {
      *error = Error{ErrorCode::kInvalidOption, Stage::kConnect,
                     "QUIC datagram_size must be 1200.." + std::to_string(kPacketBuffer)};
      return false;
    }
    if (const TransportShape& t = options_.transport;
        t.dcid_min < NGTCP2_MIN_INITIAL_DCIDLEN || t.dcid_max > NGTCP2_MAX_CIDLEN ||
        t.dcid_min > t.dcid_max || t.scid_length > NGTCP2_MAX_CIDLEN) {
      *error = Error{ErrorCode::kInvalidOption, Stage::kConnect,
                     "QUIC connection IDs: the first DCID takes 8..20 bytes, the SCID 0..20"};
      return false;
    }
    if (!valid_first_packet_numbers(options_.transport)) {
      *error = Error{ErrorCode::kInvalidOption, Stage::kConnect,
                     "QUIC first packet number: ranges need min <= max < 2^30 and a weight; PN length 0..4"};
      return false;
    }
    if (!open_tls(error)) return false;

    const TransportShape& shape = options_.transport;
    ngtcp2_cid dcid, scid;
    dcid.datalen = draw_dcid_length(shape, &fill_random);
    scid.datalen = shape.scid_length;
    RAND_bytes(dcid.data, dcid.datalen);
    RAND_bytes(scid.data, scid.datalen);
    dump_ = ConnectionDump::open(dcid.data, dcid.datalen);
    scid_.assign(reinterpret_cast<const char*>(scid.data), scid.datalen);
    // Firefox's Initials grow with its random DCID: each carries half the ClientHello.
    if (shape.initial_packet_size) initial_packet_size_ = shape.initial_packet_size + dcid.datalen;
    ngtcp2_settings settings;
    ngtcp2_settings_default(&settings);
    settings.initial_ts = now_ns();
    // Our own timer reports the handshake deadline with a code; ngtcp2's would only close.
    settings.handshake_timeout = UINT64_MAX;
    if (datagram_size) {
      settings.max_tx_udp_payload_size = datagram_size;
      settings.no_tx_udp_payload_size_shaping = 1;  // no 1200-byte cap before path MTU discovery
    }
    ngtcp2_transport_params params;
    ngtcp2_transport_params_default(&params);
    params.grease_quic_bit = 0;  // no browser sends 0x2ab2 or greases the fixed bit
    if (shape.parameters.empty()) {
      params.initial_max_streams_uni = 3;  // the server's control and QPACK streams
      params.initial_max_stream_data_bidi_local = kStreamWindow;
      params.initial_max_stream_data_uni = kStreamWindow;
      params.initial_max_data = kConnectionWindow;
      params.max_idle_timeout = uint64_t{options_.idle_timeout_ms} * NGTCP2_MILLISECONDS;
    } else {
      // What the shape announces is what ngtcp2 must enforce: an absent parameter takes its RFC
      // default (0 for the limits), exactly as the server reads it.
      namespace tp = transport_param;
      const auto value = [&](uint64_t id, uint64_t otherwise) {
        return transport_value(shape, id, otherwise);
      };
      params.max_idle_timeout = value(tp::kMaxIdleTimeout, 0) * NGTCP2_MILLISECONDS;
      params.max_udp_payload_size = value(tp::kMaxUdpPayloadSize, NGTCP2_DEFAULT_MAX_RECV_UDP_PAYLOAD_SIZE);
      params.initial_max_data = value(tp::kInitialMaxData, 0);
      params.initial_max_stream_data_bidi_local = value(tp::kInitialMaxStreamDataBidiLocal, 0);
      params.initial_max_stream_data_bidi_remote = value(tp::kInitialMaxStreamDataBidiRemote, 0);
      params.initial_max_stream_data_uni = value(tp::kInitialMaxStreamDataUni, 0);
      params.initial_max_streams_bidi = value(tp::kInitialMaxStreamsBidi, 0);
      params.initial_max_streams_uni = value(tp::kInitialMaxStreamsUni, 0);
      params.max_ack_delay =
          value(tp::kMaxAckDelay, NGTCP2_DEFAULT_MAX_ACK_DELAY / NGTCP2_MILLISECONDS) * NGTCP2_MILLISECONDS;
      params.active_connection_id_limit =
          value(tp::kActiveConnectionIdLimit, NGTCP2_DEFAULT_ACTIVE_CONNECTION_ID_LIMIT);
      params.max_datagram_frame_size = value(tp::kMaxDatagramFrameSize, 0);
    }

    ngtcp2_callbacks callbacks{};
    set_crypto_callbacks(callbacks);
    callbacks.client_initial = &on_client_initial;
    callbacks.recv_retry = ngtcp2_crypto_recv_retry_cb;
    callbacks.handshake_completed = &on_handshake_completed;
    callbacks.recv_stream_data = &on_stream_data;
    callbacks.acked_stream_data_offset = &on_stream_data_acked;
    callbacks.stream_close = &on_stream_close;
    callbacks.stream_reset = &on_stream_reset;
    callbacks.stream_stop_sending = &on_stream_stop_sending;
    callbacks.extend_max_stream_data = &on_extend_max_stream_data;
    callbacks.extend_max_local_streams_bidi = &on_extend_max_streams_bidi;
    callbacks.rand = &random_bytes;
    callbacks.get_new_connection_id = &new_connection_id;

    ngtcp2_conn* conn = nullptr;
    const ngtcp2_path path = current_path();
    const int rv = ngtcp2_conn_client_new(&conn, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1, &callbacks,
                                          &settings, &params, nullptr, this);
    if (rv != 0) {
      *error = Error{ErrorCode::kInternal, Stage::kConnect,
                     std::string("ngtcp2_conn_client_new: ") + ngtcp2_strerror(rv)};
      return false;
    }
    conn_.reset(conn);
    first_flight_header_ = {dcid.datalen,
                            scid.datalen,
                            0,
                            shape.packet_number_length_after_first,
                            shape.length_field_width == 2 ? 2u : 4u,
                            datagram_size};
    if (shape.length_field_width == 2) ngtcp2_conn_set_long_header_length_width(conn, 2);
    // The first write plans the layout (on_client_initial) and needs the whole datagram for it.
    if (shape.crypto_layout != CryptoLayout::kNgtcp2) first_flight_packets_left_ = 2;
    if (!shape.first_packet_number.empty() || shape.packet_number_length_after_first) {
      const uint32_t first = draw_first_packet_number(shape, &fill_random);
      first_flight_header_.first_packet_number = first;
      if (const int set =
              ngtcp2_conn_set_initial_pkt_num(conn, first, shape.packet_number_length_after_first);
          set != 0) {  // cannot happen after valid_first_packet_numbers()
        *error = Error{ErrorCode::kInternal, Stage::kConnect,
                       std::string("ngtcp2_conn_set_initial_pkt_num: ") + ngtcp2_strerror(set)};
        return false;
      }
    }
    ngtcp2_conn_set_tls_native_handle(conn, ssl_.get());
    return true;
  }

  bool open_tls(Error* error) {
    ctx_.reset(SSL_CTX_new(TLS_client_method()));
    if (!ctx_ || ngtcp2_crypto_boringssl_configure_client_context(ctx_.get()) != 0) {
      *error = Error{ErrorCode::kInternal, Stage::kTls, "QUIC: cannot set up the TLS context"};
      return false;
    }
    if (options_.verify) {
      SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
      const bool loaded = options_.ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx_.get()) == 1
                                                   : SSL_CTX_load_verify_locations(
                                                         ctx_.get(), options_.ca_file.c_str(), nullptr) == 1;
      if (!loaded) {
        *error = Error{ErrorCode::kInvalidOption, Stage::kTls, "QUIC: cannot load the CA certificates"};
        return false;
      }
    }
    if (options_.shape_client_hello && !options_.shape_client_hello(ctx_.get(), error)) return false;
    if (ConnectionDump::enabled()) SSL_CTX_set_keylog_callback(ctx_.get(), &on_key_log_line);
    ssl_.reset(SSL_new(ctx_.get()));
    if (!ssl_) {
      *error = Error{ErrorCode::kInternal, Stage::kTls, "QUIC: SSL_new failed"};
      return false;
    }
    SSL_set_app_data(ssl_.get(), &conn_ref_);
    SSL_set_connect_state(ssl_.get());
    static constexpr uint8_t kAlpnH3[] = {2, 'h', '3'};
    SSL_set_alpn_protos(ssl_.get(), kAlpnH3, sizeof kAlpnH3);
    if (options_.shape_client_hello_ssl && !options_.shape_client_hello_ssl(ssl_.get(), error)) return false;
    if (options_.server_name.empty()) return true;
    // As over TCP (native/tls prepare_connection): no SNI for an IP literal, whose certificate must
    // then name the address.
    std::error_code not_ip;
    asio::ip::make_address(options_.server_name, not_ip);
    const std::string& name = options_.server_name;
    if (not_ip) SSL_set_tlsext_host_name(ssl_.get(), name.c_str());
    if (options_.verify) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl_.get());
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      const int ok = not_ip ? X509_VERIFY_PARAM_set1_host(param, name.data(), name.size())
                            : X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
      if (!ok) {
        *error = Error{ErrorCode::kInvalidOption, Stage::kTls, "QUIC: cannot check the name " + name};
        return false;
      }
    }
    return true;
  }

  ngtcp2_path current_path() {
    return ngtcp2_path{{const_cast<sockaddr*>(local_.data()), static_cast<ngtcp2_socklen>(local_.size())},
                       {const_cast<sockaddr*>(remote_.data()), static_cast<ngtcp2_socklen>(remote_.size())},
                       nullptr};
  }

  // ---- ngtcp2 callbacks (C): each forwards to the connection, catching what a handler throws ----

  static Connection& of(void* user) { return *static_cast<Connection*>(user); }

  template <typename F>
  static int guarded(void* user, F&& f) {
    try {
      return f(of(user));
    } catch (const std::exception& e) {
      of(user).callback_error_ = e.what();
    } catch (...) {
      of(user).callback_error_ = "unknown exception in a QUIC handler";
    }
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }

  static int on_handshake_completed(ngtcp2_conn*, void* user) {
    return guarded(user, [](Connection& c) { return c.on_handshake_done(); });
  }

  static int on_stream_data(ngtcp2_conn*, uint32_t flags, int64_t stream, uint64_t, const uint8_t* data,
                            size_t len, void* user, void*) {
    return guarded(user, [&](Connection& c) {
      std::string message;
      if (!c.session_.receive(stream, {reinterpret_cast<const char*>(data), len},
                              (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0, &message)) {
        c.http3_failure_ = std::move(message);
        return NGTCP2_ERR_CALLBACK_FAILURE;
      }
      c.release_if_peer_settings_read();
      return 0;
    });
  }

  static int on_stream_data_acked(ngtcp2_conn*, int64_t stream, uint64_t, uint64_t len, void* user, void*) {
    return guarded(
        user, [&](Connection& c) { return c.session_.acked(stream, len) ? 0 : NGTCP2_ERR_CALLBACK_FAILURE; });
  }

  static int on_stream_close(ngtcp2_conn*, uint32_t flags, int64_t stream, uint64_t code, void* user, void*) {
    return guarded(user, [&](Connection& c) {
      if (!(flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET)) code = http3::kNoError;
      std::string message;
      if (!c.session_.stream_closed(stream, code, &message)) {
        c.http3_failure_ = std::move(message);
        return NGTCP2_ERR_CALLBACK_FAILURE;
      }
      return 0;
    });
  }

  static int on_stream_reset(ngtcp2_conn*, int64_t stream, uint64_t, uint64_t, void* user, void*) {
    return guarded(user, [&](Connection& c) {
      c.session_.stream_reset(stream);
      return 0;
    });
  }

  static int on_stream_stop_sending(ngtcp2_conn*, int64_t stream, uint64_t, void* user, void*) {
    return guarded(user, [&](Connection& c) {
      c.session_.stream_reset(stream);
      return 0;
    });
  }

  static int on_extend_max_stream_data(ngtcp2_conn*, int64_t stream, uint64_t, void* user, void*) {
    return guarded(user, [&](Connection& c) {
      c.session_.unblock(stream);
      return 0;
    });
  }

  // The server's MAX_STREAMS lets more requests out: those waiting go once this packet is processed.
  static int on_extend_max_streams_bidi(ngtcp2_conn*, uint64_t, void* user) {
    return guarded(user, [](Connection& c) {
      if (c.established_ && !c.waiting_.empty()) c.post_send_waiting();
      return 0;
    });
  }

  // BoringSSL's key log: the SSL's app data is conn_ref_, whose user_data is this connection.
  static void on_key_log_line(const SSL* ssl, const char* line) {
    const auto* ref = static_cast<const ngtcp2_crypto_conn_ref*>(SSL_get_app_data(ssl));
    if (auto* self = ref ? static_cast<Connection*>(ref->user_data) : nullptr; self && self->dump_)
      self->dump_->key_line(line);
  }

  static void random_bytes(uint8_t* dest, size_t len, const ngtcp2_rand_ctx*) { RAND_bytes(dest, len); }
  static void fill_random(uint8_t* dest, size_t len) { RAND_bytes(dest, len); }

  // ngtcp2_crypto_client_initial_cb, except that a shaped connection's transport parameters are
  // encoded by us (transport_shape.h): their order, GREASE and ids ngtcp2's encoder cannot write.
  static int on_client_initial(ngtcp2_conn* conn, void* user) {
    auto* self = static_cast<Connection*>(user);
    if (self->options_.transport.parameters.empty()) return ngtcp2_crypto_client_initial_cb(conn, user);
    if (ngtcp2_crypto_derive_and_install_initial_key(
            conn, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
            ngtcp2_conn_get_client_chosen_version(conn), ngtcp2_conn_get_dcid(conn)) != 0) {
      return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    const std::string encoded =
        encode_transport_parameters(self->options_.transport, self->scid_, &fill_random);
    if (ngtcp2_crypto_set_local_transport_params(
            self->ssl_.get(), reinterpret_cast<const uint8_t*>(encoded.data()), encoded.size()) != 0 ||
        ngtcp2_crypto_read_write_crypto_data(conn, NGTCP2_CRYPTO_LEVEL_INITIAL, nullptr, 0) != 0) {
      return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    // The browser's frame layout for the hello just queued (crypto_layout.h).
    const int shaped =
        shape_first_flight(conn, self->options_.transport, self->first_flight_header_, &fill_random);
    if (shaped < 0) return NGTCP2_ERR_CALLBACK_FAILURE;
    self->first_flight_packets_left_ = static_cast<size_t>(shaped);
    return 0;
  }

  static int new_connection_id(ngtcp2_conn*, ngtcp2_cid* cid, uint8_t* token, size_t len, void*) {
    cid->datalen = len;
    RAND_bytes(cid->data, len);
    RAND_bytes(token, NGTCP2_STATELESS_RESET_TOKENLEN);
    return 0;
  }

  // ---- stage: handshake ----

  int on_handshake_done() {
    established_ = true;
    handshake_timer_.cancel();
    int64_t control = -1, encoder = -1, decoder = -1;
    // A shape may open the QPACK streams later (Chrome: once the server allows a dynamic table).
    const bool qpack_now = session_.qpack_streams_at_start();
    if (ngtcp2_conn_open_uni_stream(conn_.get(), &control, nullptr) != 0 ||
        (qpack_now && (ngtcp2_conn_open_uni_stream(conn_.get(), &encoder, nullptr) != 0 ||
                       ngtcp2_conn_open_uni_stream(conn_.get(), &decoder, nullptr) != 0))) {
      http3_failure_ = "the server allows too few unidirectional streams for HTTP/3";
      return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    std::string message;
    if (!session_.start(control, encoder, decoder, &message)) {
      http3_failure_ = std::move(message);
      return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    // Requests go out after the packet that carried the handshake is processed, and once the
    // server's SETTINGS are read (hold_for_peer_settings).
    hold_for_peer_settings();
    post_send_waiting();
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      if (self->closed_) return;
      if (auto l = self->listener_.lock()) l->on_established();
    });
    return 0;
  }

  // The first requests wait for the server's SETTINGS, which a server sends in 0.5-RTT data right
  // after its handshake flight, often in a later datagram than the one that completes our
  // handshake. Sent before them, a request could use no QPACK dynamic table and Chrome's lazy QPACK
  // streams would open only with the next one; in the ground truth (shared/fingerprints/quic)
  // Chromium and Firefox had read ngtcp2-server's SETTINGS before their first request, whose header
  // block already used the table. Bounded: after two smoothed RTTs (25..100 ms) the requests go
  // anyway, and a server whose SETTINGS never come costs that once per connection.
  void hold_for_peer_settings() {
    if (session_.peer_settings_received()) return;
    ngtcp2_conn_stat stat;
    ngtcp2_conn_get_conn_stat(conn_.get(), &stat);
    const auto bound = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::nanoseconds(2 * stat.smoothed_rtt));
    settings_hold_ = true;
    settings_timer_.expires_after(std::clamp(bound, kMinSettingsWait, kMaxSettingsWait));
    settings_timer_.async_wait([self = shared_from_this()](const std::error_code& ec) {
      if (!ec) self->on_settings_wait_expired();
    });
  }

  // Read from inside ngtcp2's packet processing: the held requests go once it is done.
  void release_if_peer_settings_read() {
    if (!settings_hold_ || !session_.peer_settings_received()) return;
    settings_hold_ = false;
    settings_timer_.cancel();
    if (!waiting_.empty()) post_send_waiting();
  }

  void on_settings_wait_expired() {
    if (closed_ || !settings_hold_) return;
    settings_hold_ = false;  // the server's SETTINGS are late: the requests go without them
    send_waiting();
    flush();
  }

  // Opens streams for waiting requests from the io loop, not from inside ngtcp2's packet processing.
  void post_send_waiting() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      self->send_waiting();
      self->flush();
    });
  }

  void on_handshake_deadline() {
    if (closed_ || established_) return;
    fail_connection(
        Error{ErrorCode::kTimeout, Stage::kTls,
              "QUIC handshake timed out after " + std::to_string(options_.handshake_timeout_ms) + " ms"});
  }

  // ---- stage: requests ----

  void send_waiting() {
    while (!closed_ && !settings_hold_ && !waiting_.empty()) {
      int64_t stream = -1;
      const int rv = ngtcp2_conn_open_bidi_stream(conn_.get(), &stream, nullptr);
      if (rv == NGTCP2_ERR_STREAM_ID_BLOCKED) return;  // more once the server raises MAX_STREAMS
      std::unique_ptr<Pending> p = std::move(waiting_.front());
      waiting_.pop_front();
      std::string message;
      Request& r = p->request;
      const bool with_body = !r.body.empty() || r.body_stream;
      if (rv != 0 || !session_.submit_request(stream, r.method, "https", r.authority, r.path, r.headers,
                                              &message, with_body)) {
        Error e{ErrorCode::kProtocol, Stage::kWrite, rv != 0 ? ngtcp2_strerror(rv) : message};
        handles_.erase(p->handle);
        settle(*p, &e);
        continue;
      }
      p->stream = stream;
      if (with_body) session_.add_body(stream, std::move(r.body), p->body_ended);
      r.body.clear();
      arm_read_deadline(stream, *p, Stage::kHeaders);
      open_[stream] = std::move(p);
    }
  }

  void arm_read_deadline(int64_t stream, Pending& p, Stage stage) {
    if (options_.read_timeout_ms == 0) return;
    p.read_timer.expires_after(std::chrono::milliseconds(options_.read_timeout_ms));
    p.read_timer.async_wait([self = shared_from_this(), stream, stage](const std::error_code& ec) {
      if (!ec) self->on_read_deadline(stream, stage);
    });
  }

  void on_read_deadline(int64_t stream, Stage stage) {
    auto it = open_.find(stream);
    if (it == open_.end()) return;
    std::unique_ptr<Pending> p = std::move(it->second);
    open_.erase(it);
    handles_.erase(p->handle);
    ngtcp2_conn_shutdown_stream(conn_.get(), stream, http3::kRequestCancelled);
    Error e{ErrorCode::kTimeout, stage,
            std::string("no response ") + (stage == Stage::kHeaders ? "head" : "body bytes") + " for " +
                std::to_string(options_.read_timeout_ms) + " ms over QUIC"};
    settle(*p, &e);
    flush();
  }

  // http3::SessionListener
  int64_t open_uni_stream() override {
    int64_t stream = -1;
    return ngtcp2_conn_open_uni_stream(conn_.get(), &stream, nullptr) == 0 ? stream : -1;
  }
  void on_head(int64_t stream, ResponseHead&& head) override {
    auto it = open_.find(stream);
    if (it == open_.end()) return;
    Pending& p = *it->second;
    p.head_seen = true;
    arm_read_deadline(stream, p, Stage::kBody);
    p.listener->on_head(std::move(head));
  }

  void on_data(int64_t stream, std::string_view bytes) override {
    auto it = open_.find(stream);
    if (it == open_.end()) return;
    Pending& p = *it->second;
    arm_read_deadline(stream, p, Stage::kBody);
    p.listener->on_body(bytes);
  }

  void on_stream_closed(int64_t stream, const http3::StreamClose& close) override {
    auto it = open_.find(stream);
    if (it == open_.end()) return;
    std::unique_ptr<Pending> p = std::move(it->second);
    open_.erase(it);
    handles_.erase(p->handle);
    if (close.response_complete) return settle(*p, nullptr);
    const bool mid_body = p->head_seen;
    std::string why = !close.reset_reason.empty() ? close.reset_reason
                      : close.error_code != 0
                          ? "the server reset the stream (HTTP/3 error 0x" + hex(close.error_code) + ")"
                          : "the stream ended before a complete response";
    Error e{mid_body ? ErrorCode::kBodyTruncated : ErrorCode::kProtocol,
            mid_body ? Stage::kBody : Stage::kHeaders, std::move(why)};
    settle(*p, &e);
  }

  void on_consumed(int64_t stream, size_t n) override {
    if (auto it = open_.find(stream); it != open_.end() && it->second->paused) {
      it->second->held += n;  // back-pressure: the server may send only what the window still allows
      return;
    }
    ngtcp2_conn_extend_max_stream_offset(conn_.get(), stream, n);
    ngtcp2_conn_extend_max_offset(conn_.get(), n);
  }

  void on_body_acked(int64_t stream, uint64_t n) override {
    if (auto it = open_.find(stream); it != open_.end()) it->second->listener->on_body_sent(n);
  }

  void on_reset_wanted(int64_t stream, uint64_t code) override {
    ngtcp2_conn_shutdown_stream(conn_.get(), stream, code);
  }

  static std::string hex(uint64_t v) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
    return buf;
  }

  // ---- I/O: datagrams in ----

  void read_next_datagram() {
    socket_.async_receive(
        asio::buffer(rx_),
        [self = shared_from_this()](const std::error_code& ec, size_t n) { self->on_datagram(ec, n); });
  }

  void on_datagram(const std::error_code& ec, size_t n) {
    if (closed_) return;
    if (ec) {
      // ICMP port unreachable shows as connection_refused on a connected UDP socket. Other errors
      // end the connection.
      // Before anything came from the server it means nothing listens on that UDP port: the attempt
      // fails now (as a TCP connect would), so a fallback to TCP need not wait for a deadline. Later
      // it is a stray ICMP message: QUIC's own timers decide.
      if (ec == asio::error::connection_refused) {
        if (heard_from_server_) return read_next_datagram();
        return fail_port_unreachable();
      }
      if (ec == asio::error::operation_aborted) return;
      return fail_connection(Error{ErrorCode::kConnectionClosed, stage(), "QUIC socket: " + ec.message()});
    }
    if (dump_) dump_->datagram(false, rx_.data(), n);
    const ngtcp2_path path = current_path();
    ngtcp2_pkt_info pi{};
    reading_ = true;
    const int rv = ngtcp2_conn_read_pkt(conn_.get(), &path, &pi, rx_.data(), n, now_ns());
    reading_ = false;
    if (rv != 0) return on_read_error(rv);
    heard_from_server_ = true;
    read_next_datagram();
    flush();
  }

  void on_read_error(int rv) {
    if (rv == NGTCP2_ERR_DRAINING || rv == NGTCP2_ERR_CLOSING) {
      // The server sent CONNECTION_CLOSE.
      ngtcp2_connection_close_error cc{};
      ngtcp2_conn_get_connection_close_error(conn_.get(), &cc);
      std::string why = "the server closed the QUIC connection (error 0x" + hex(cc.error_code) + ")";
      if (cc.reasonlen) why += ": " + std::string(reinterpret_cast<const char*>(cc.reason), cc.reasonlen);
      return fail_connection(Error{ErrorCode::kConnectionClosed, stage(), std::move(why)});
    }
    if (rv == NGTCP2_ERR_CRYPTO) {
      const uint8_t alert = ngtcp2_conn_get_tls_alert(conn_.get());
      if (options_.ech_rejected && options_.ech_rejected(ssl_.get(), &ech_retry_configs_)) {
        write_connection_close_tls(alert);  // ech_required (RFC 9849 §6.1.6)
        return fail_connection(
            Error{ErrorCode::kEchRejected, Stage::kTls, "the server rejected the Encrypted ClientHello"});
      }
      const long verify = SSL_get_verify_result(ssl_.get());
      const bool cert = certificate_alert(alert) || verify != X509_V_OK;
      std::string why = "QUIC TLS handshake failed";
      if (verify != X509_V_OK)
        why += ": " + std::string(X509_verify_cert_error_string(verify));
      else if (alert)
        why += std::string(": alert ") + SSL_alert_desc_string_long(alert);
      write_connection_close_tls(alert);
      return fail_connection(
          Error{cert ? ErrorCode::kTlsCert : ErrorCode::kTlsHandshake, Stage::kTls, std::move(why)});
    }
    std::string why = !http3_failure_.empty()    ? "HTTP/3: " + http3_failure_
                      : !callback_error_.empty() ? callback_error_
                                                 : std::string("QUIC: ") + ngtcp2_strerror(rv);
    if (!http3_failure_.empty())
      write_connection_close(session_.error_code(), why);
    else
      write_connection_close_liberr(rv);
    fail_connection(Error{ErrorCode::kProtocol, stage(), std::move(why)});
  }

  // ---- I/O: datagrams out ----

  // Writes every packet ngtcp2 and the HTTP/3 session have ready, then re-arms the expiry timer.
  void flush() {
    // Inside ngtcp2_conn_read_pkt (a listener acting from a callback) nothing is written: the read
    // handler flushes once the datagram is processed.
    if (closed_ || !conn_ || reading_) return;
    std::array<uint8_t, kPacketBuffer> packet;
    const size_t max_size = std::min(kPacketBuffer, ngtcp2_conn_get_max_tx_udp_payload_size(conn_.get()));
    // Firefox's first flight: a shorter Initial, then zero bytes to the datagram size.
    const size_t initial_packet_size = initial_packet_size_;
    const bool zero_fill = initial_packet_size && initial_packet_size < max_size && !heard_from_server_;
    // A shaped first-flight packet sizes itself (its frames end it); only the datagram is filled.
    for (;;) {
      std::optional<http3::Output> out = established_ ? session_.next_output() : std::nullopt;
      std::array<ngtcp2_vec, 16> vec{};
      size_t veccnt = 0;
      int64_t stream = -1;
      uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
      if (out) {
        stream = out->stream;
        for (const std::string_view d : out->data) {
          vec[veccnt++] = ngtcp2_vec{reinterpret_cast<uint8_t*>(const_cast<char*>(d.data())), d.size()};
        }
        if (out->fin) flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
      }
      ngtcp2_ssize accepted = -1;
      ngtcp2_path_storage ps;
      ngtcp2_path_storage_zero(&ps);
      ngtcp2_pkt_info pi{};
      const size_t limit = zero_fill && first_flight_packets_left_ == 0 ? initial_packet_size : max_size;
      const ngtcp2_ssize n =
          ngtcp2_conn_writev_stream(conn_.get(), &ps.path, &pi, packet.data(), limit, &accepted, flags,
                                    stream, vec.data(), veccnt, now_ns());
      if (n < 0) {
        if (n == NGTCP2_ERR_WRITE_MORE) {
          session_.sent(stream, static_cast<size_t>(accepted));
          continue;
        }
        if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED || n == NGTCP2_ERR_STREAM_SHUT_WR) {
          session_.block(stream);
          continue;
        }
        std::string why = std::string("QUIC write: ") + ngtcp2_strerror(static_cast<int>(n));
        write_connection_close_liberr(static_cast<int>(n));
        return fail_connection(Error{ErrorCode::kProtocol, stage(), std::move(why)});
      }
      if (accepted >= 0 && stream >= 0) session_.sent(stream, static_cast<size_t>(accepted));
      if (session_.failed()) {
        write_connection_close(session_.error_code(), "HTTP/3 failure");
        return fail_connection(Error{ErrorCode::kProtocol, stage(), "HTTP/3 output failed"});
      }
      if (n == 0) break;
      size_t size = static_cast<size_t>(n);
      if (zero_fill && (packet[0] & 0xf0) == 0xc0) {  // a long header, type Initial (RFC 9000 §17.2.2)
        std::fill(packet.begin() + size, packet.begin() + max_size, 0);
        size = max_size;
        if (first_flight_packets_left_) --first_flight_packets_left_;
      }
      send_datagram(packet.data(), size);
    }
    if (port_unreachable_) return fail_port_unreachable();
    arm_expiry();
  }

  // A datagram the kernel cannot take now is dropped: QUIC's loss recovery sends it again. The
  // kernel reports an ICMP port unreachable to whichever call comes next on the socket, a send too.
  void send_datagram(const uint8_t* data, size_t n) {
    if (dump_) dump_->datagram(true, data, n);
    std::error_code ec;
    socket_.send(asio::buffer(data, n), 0, ec);
    if (ec == asio::error::connection_refused && !heard_from_server_) port_unreachable_ = true;
  }

  void fail_port_unreachable() {
    fail_connection(Error{ErrorCode::kConnectRefused, Stage::kConnect,
                          "QUIC: nothing listens on the server's UDP port (ICMP port unreachable)"});
  }

  void arm_expiry() {
    const ngtcp2_tstamp expiry = ngtcp2_conn_get_expiry(conn_.get());
    if (expiry == UINT64_MAX) return;
    const ngtcp2_tstamp now = now_ns();
    const auto wait = std::chrono::nanoseconds(expiry > now ? expiry - now : 0);
    expiry_timer_.expires_after(wait);
    expiry_timer_.async_wait([self = shared_from_this()](const std::error_code& ec) {
      if (!ec) self->on_expiry();
    });
  }

  // Loss detection, ACK delay and the idle timeout.
  void on_expiry() {
    if (closed_) return;
    const int rv = ngtcp2_conn_handle_expiry(conn_.get(), now_ns());
    if (rv == NGTCP2_ERR_IDLE_CLOSE) {
      return fail_connection(
          Error{ErrorCode::kConnectionClosed, stage(),
                "the QUIC connection was idle for " + std::to_string(options_.idle_timeout_ms) + " ms"});
    }
    if (rv != 0) {
      write_connection_close_liberr(rv);
      return fail_connection(
          Error{ErrorCode::kProtocol, stage(), std::string("QUIC: ") + ngtcp2_strerror(rv)});
    }
    flush();
  }

  // ---- closing ----

  void write_connection_close(uint64_t app_code, std::string_view reason) {
    ngtcp2_connection_close_error cc;
    ngtcp2_connection_close_error_set_application_error(
        &cc, app_code, reinterpret_cast<const uint8_t*>(reason.data()), reason.size());
    send_connection_close(cc);
  }
  void write_connection_close_liberr(int rv) {
    ngtcp2_connection_close_error cc;
    ngtcp2_connection_close_error_set_transport_error_liberr(&cc, rv, nullptr, 0);
    send_connection_close(cc);
  }
  void write_connection_close_tls(uint8_t alert) {
    ngtcp2_connection_close_error cc;
    ngtcp2_connection_close_error_set_transport_error_tls_alert(&cc, alert, nullptr, 0);
    send_connection_close(cc);
  }
  void send_connection_close(const ngtcp2_connection_close_error& cc) {
    if (!conn_ || closed_ || !socket_.is_open()) return;
    std::array<uint8_t, kPacketBuffer> packet;
    ngtcp2_path_storage ps;
    ngtcp2_path_storage_zero(&ps);
    ngtcp2_pkt_info pi{};
    const ngtcp2_ssize n = ngtcp2_conn_write_connection_close(conn_.get(), &ps.path, &pi, packet.data(),
                                                              packet.size(), &cc, now_ns());
    if (n > 0) send_datagram(packet.data(), static_cast<size_t>(n));
  }

  // The stage requests are in, for errors that hit the connection as a whole.
  Stage stage() const { return established_ ? Stage::kHeaders : Stage::kTls; }

  // Every request still open or waiting fails; a request whose head arrived fails as truncated.
  void fail_connection(Error error) {
    if (closed_) return;
    closed_ = true;
    closed_error_ = error;
    std::error_code ignored;
    expiry_timer_.cancel();
    handshake_timer_.cancel();
    settings_timer_.cancel();
    socket_.close(ignored);
    std::map<int64_t, std::unique_ptr<Pending>> open = std::move(open_);
    std::deque<std::unique_ptr<Pending>> waiting = std::move(waiting_);
    open_.clear();
    waiting_.clear();
    handles_.clear();
    for (auto& [id, p] : open) {
      Error e = error;
      if (p->head_seen && (e.code == ErrorCode::kConnectionClosed || e.code == ErrorCode::kProtocol)) {
        e.code = ErrorCode::kBodyTruncated;
        e.stage = Stage::kBody;
      }
      settle(*p, &e);
    }
    for (auto& p : waiting) settle(*p, &error);
    if (auto l = listener_.lock()) l->on_closed(error);
  }

  void settle(Pending& p, const Error* error) {
    p.read_timer.cancel();
    std::shared_ptr<StreamListener> listener = std::move(p.listener);
    if (!listener) return;
    try {
      listener->on_end(error);
    } catch (...) {
      // A handler that throws must not unwind through Asio; the request is settled either way.
    }
  }

  Options options_;
  asio::ip::udp::socket socket_;
  asio::steady_timer expiry_timer_;
  asio::steady_timer handshake_timer_;
  // The first requests wait for the server's SETTINGS (hold_for_peer_settings), this long at most.
  static constexpr std::chrono::milliseconds kMinSettingsWait{25}, kMaxSettingsWait{100};
  asio::steady_timer settings_timer_;
  bool settings_hold_ = false;
  asio::ip::udp::endpoint local_, remote_;
  std::unique_ptr<SSL_CTX, SslCtxDeleter> ctx_;
  std::unique_ptr<SSL, SslDeleter> ssl_;
  std::unique_ptr<ngtcp2_conn, ConnDeleter> conn_;
  bool heard_from_server_ = false;        // a packet of the server's was processed
  size_t initial_packet_size_ = 0;        // TransportShape::initial_packet_size plus this DCID's length
  InitialHeader first_flight_header_;     // what the first Initials' headers take (crypto_layout.h)
  size_t first_flight_packets_left_ = 0;  // shaped first-flight packets not yet written
  std::string scid_;                      // our Source Connection ID, for initial_source_connection_id
  ngtcp2_crypto_conn_ref conn_ref_{};
  http3::ClientSession session_;
  std::unique_ptr<ConnectionDump> dump_;  // CTN_QUIC_CONNECTION_DUMP_DIR only
  std::array<uint8_t, kMaxDatagram> rx_{};
  std::deque<std::unique_ptr<Pending>> waiting_;
  std::map<int64_t, std::unique_ptr<Pending>> open_;
  std::unordered_map<uint64_t, Pending*> handles_;  // waiting_ and open_ by handle
  uint64_t next_handle_ = 1;
  std::weak_ptr<ConnectionListener> listener_;
  std::string http3_failure_;
  std::string callback_error_;
  std::string ech_retry_configs_;  // Options::ech_rejected's
  Error closed_error_;
  bool started_ = false;
  bool established_ = false;
  bool reading_ = false;           // inside ngtcp2_conn_read_pkt
  bool port_unreachable_ = false;  // a send saw ICMP port unreachable before the server answered
  bool closed_ = false;
};

}  // namespace

std::shared_ptr<ClientConnection> ClientConnection::create(asio::io_context& io, Options options) {
  return std::make_shared<Connection>(io, std::move(options));
}

}  // namespace ctn::quic
