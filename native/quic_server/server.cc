#include "quic_server/server.h"

#include <nghttp3/nghttp3.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_boringssl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <exception>
#include <map>
#include <unordered_map>

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include "quic/ngtcp2_support.h"

namespace ctn::quic_server {

namespace {

using quic::ConnDeleter;
using quic::kPacketBuffer;
using quic::now_ns;
using quic::set_crypto_callbacks;
using quic::SslCtxDeleter;
using quic::SslDeleter;

constexpr size_t kMaxDatagram = 65'536;
// Our connection IDs: long enough to be unguessable; a short header carries no length, so every
// connection ID this server issues has this length.
constexpr size_t kCidLength = 18;
constexpr size_t kFirstFlightDatagrams = 16;
// The client's unidirectional streams: control, QPACK encoder and decoder, and room for reserved
// (GREASE) stream types, which nghttp3 reads and discards.
constexpr uint64_t kClientUniStreams = 8;
constexpr uint64_t kStreamWindow = 256 * 1024;
constexpr uint64_t kConnectionWindow = 1024 * 1024;
constexpr uint64_t kH3NoError = 0x100;
constexpr uint64_t kH3ExcessiveLoad = 0x107;

struct H3Deleter {
  void operator()(nghttp3_conn* c) const noexcept { nghttp3_conn_del(c); }
};

std::string cid_key(const uint8_t* data, size_t n) {
  return std::string(reinterpret_cast<const char*>(data), n);
}

std::string endpoint_text(const asio::ip::udp::endpoint& e) {
  const asio::ip::address a = e.address();
  // Appended piece by piece: GCC 12 warns falsely (-Wrestrict) on "[" + string + "]".
  std::string text;
  if (a.is_v6()) text += '[';
  text += a.to_string();
  if (a.is_v6()) text += ']';
  text += ':';
  text += std::to_string(e.port());
  return text;
}

// Fields a response over HTTP/3 must not carry (RFC 9114 §4.2).
bool connection_specific(std::string_view n) {
  return n == "connection" || n == "keep-alive" || n == "proxy-connection" || n == "transfer-encoding" ||
         n == "upgrade";
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  return out;
}

class ServerImpl;

// One client connection: its ngtcp2 and nghttp3 state, TLS, its record, its open requests.
class Connection final : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<ServerImpl> server, uint64_t id, asio::ip::udp::endpoint local,
             asio::ip::udp::endpoint remote);

  // Creates the ngtcp2 server connection for the client's first Initial (`hd`); false on failure.
  bool open(const ngtcp2_pkt_hd& hd, SSL_CTX* tls);
  // A datagram for this connection, from `from`.
  void on_datagram(const uint8_t* data, size_t n, const asio::ip::udp::endpoint& from);
  void respond(int64_t stream, Reply reply);
  // Sends CONNECTION_CLOSE (H3_NO_ERROR) and forgets the connection.
  void shut_down();

  uint64_t id() const { return id_; }
  bool wants_first_flight_datagram() {
    if (first_flight_seen_ >= kFirstFlightDatagrams) return false;
    ++first_flight_seen_;
    return true;
  }
  const std::string& client() const { return client_; }

 private:
  struct Request {
    HeaderList fields;
    size_t field_bytes = 0;
    std::string body;
    bool too_large = false;
    bool dispatched = false;  // handed to on_request
    bool responded = false;
    std::string response_body;  // kept until the stream closes: nghttp3 sends from it
    bool body_offered = false;
  };

  // ---- ngtcp2 callbacks ----
  static Connection& of(void* user) { return *static_cast<Connection*>(user); }
  template <typename F>
  static int guarded(void* user, F&& f) {
    try {
      return f(of(user));
    } catch (...) {
      return NGTCP2_ERR_CALLBACK_FAILURE;  // the connection closes; nothing crosses the C frames
    }
  }
  static int on_handshake_completed(ngtcp2_conn*, void* user);
  static int on_rx_key(ngtcp2_conn*, ngtcp2_crypto_level level, void* user);
  static int on_stream_data(ngtcp2_conn*, uint32_t flags, int64_t stream, uint64_t, const uint8_t* data,
                            size_t len, void* user, void*);
  static int on_stream_data_acked(ngtcp2_conn*, int64_t stream, uint64_t, uint64_t len, void* user, void*);
  static int on_stream_close(ngtcp2_conn*, uint32_t flags, int64_t stream, uint64_t code, void* user, void*);
  static int on_stream_reset(ngtcp2_conn*, int64_t stream, uint64_t, uint64_t, void* user, void*);
  static int on_stream_stop_sending(ngtcp2_conn*, int64_t stream, uint64_t, void* user, void*);
  static int on_extend_max_stream_data(ngtcp2_conn*, int64_t stream, uint64_t, void* user, void*);
  static int on_extend_max_remote_streams_bidi(ngtcp2_conn*, uint64_t max_streams, void* user);
  static int on_new_connection_id(ngtcp2_conn*, ngtcp2_cid* cid, uint8_t* token, size_t len, void* user);
  static int on_remove_connection_id(ngtcp2_conn*, const ngtcp2_cid* cid, void* user);
  static void random_bytes(uint8_t* dest, size_t len, const ngtcp2_rand_ctx*) { RAND_bytes(dest, len); }
  // BoringSSL's message callback (Options::report_hellos): the first ClientHello read (the outer one
  // under ECH) and the ClientHelloInner it decrypted.
  static void on_tls_message(int is_write, int, int content_type, const void* buf, size_t len, SSL*,
                             void* arg);

  // ---- nghttp3 callbacks ----
  struct H3;

  bool start_http3();
  void consumed(int64_t stream, size_t n) {
    ngtcp2_conn_extend_max_stream_offset(conn_.get(), stream, n);
    ngtcp2_conn_extend_max_offset(conn_.get(), n);
  }
  void record(bool sent, const uint8_t* data, size_t n);
  void dispatch_completed();
  void flush();
  void send_datagram(const uint8_t* data, size_t n);
  void arm_expiry();
  void on_expiry();
  void on_read_error(int rv);
  void send_close(const ngtcp2_connection_close_error& cc);
  void finish();  // forgets the connection (no more datagrams are sent)
  ngtcp2_path path();

  std::shared_ptr<ServerImpl> server_;
  const uint64_t id_;
  asio::ip::udp::endpoint local_, remote_;
  std::string client_;
  asio::steady_timer expiry_timer_;
  std::unique_ptr<SSL, SslDeleter> ssl_;
  std::unique_ptr<ngtcp2_conn, ConnDeleter> conn_;
  std::unique_ptr<nghttp3_conn, H3Deleter> h3_;
  ngtcp2_crypto_conn_ref conn_ref_{};
  std::map<int64_t, Request> requests_;
  std::vector<int64_t> completed_;  // requests whose FIN arrived during this datagram
  std::vector<RecordedDatagram> datagrams_;
  size_t recorded_bytes_ = 0;
  bool recording_truncated_ = false;
  std::string key_log_;
  std::string client_hello_, inner_client_hello_;  // Options::report_hellos
  std::string app_error_;                          // why the HTTP/3 layer failed
  uint64_t app_error_code_ = kH3NoError;
  size_t first_flight_seen_ = 0;
  bool finished_ = false;

 public:
  std::vector<std::string> cids;  // the server's keys that route to this connection
  void add_key_log_line(const char* line) {
    if (key_log_.size() < 64 * 1024) key_log_.append(line).push_back('\n');
  }
};

class ServerImpl final : public Server, public std::enable_shared_from_this<ServerImpl> {
 public:
  ServerImpl(asio::io_context& io, Options options) : io_(io), options_(std::move(options)), socket_(io) {}

  bool open(Error* error) {
    ctx_.reset(SSL_CTX_new(TLS_server_method()));
    if (!ctx_ || ngtcp2_crypto_boringssl_configure_server_context(ctx_.get()) != 0) {
      *error = Error{ErrorCode::kInternal, Stage::kTls, "QUIC server: cannot set up the TLS context"};
      return false;
    }
    SSL_CTX_set_min_proto_version(ctx_.get(), TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(ctx_.get(), TLS1_3_VERSION);
    if (!load_certificate(options_.certificate_pem, options_.private_key_pem)) {
      *error = Error{ErrorCode::kInvalidOption, Stage::kTls,
                     "QUIC server: the certificate chain and private key (PEM) do not load or do not match"};
      return false;
    }
    SSL_CTX_set_alpn_select_cb(ctx_.get(), &select_h3, nullptr);
    SSL_CTX_set_keylog_callback(ctx_.get(), &on_key_log_line);
    std::error_code ec;
    socket_.open(options_.listen.protocol(), ec);
    if (!ec) socket_.bind(options_.listen, ec);
    if (!ec) local_ = socket_.local_endpoint(ec);
    if (ec) {
      *error = Error{ErrorCode::kConnect, Stage::kConnect, "QUIC server: cannot bind UDP: " + ec.message()};
      return false;
    }
    read_next();
    return true;
  }

  uint16_t port() const override { return local_.port(); }

  void respond(uint64_t connection, int64_t stream, Reply reply) override {
    asio::post(io_, [self = shared_from_this(), connection, stream, reply = std::move(reply)]() mutable {
      auto it = self->connections_.find(connection);
      if (it != self->connections_.end()) it->second->respond(stream, std::move(reply));
    });
  }

  void close() override {
    asio::post(io_, [self = shared_from_this()] { self->close_now(); });
  }

  Stats stats() const override {
    Stats s = stats_;
    s.connections_open = connections_.size();
    return s;
  }

  void receive(std::string_view datagram, const asio::ip::udp::endpoint& from) override {
    if (closed_ || datagram.size() > kMaxDatagram) return;
    try {
      handle(reinterpret_cast<const uint8_t*>(datagram.data()), datagram.size(), from);
    } catch (...) {
      ++stats_.datagrams_dropped;
    }
  }

  const Options& options() const { return options_; }
  asio::io_context& io() { return io_; }
  Stats& counters() { return stats_; }

  void send_to(const uint8_t* data, size_t n, const asio::ip::udp::endpoint& to) {
    std::error_code ec;  // a datagram the kernel cannot take is lost: QUIC sends it again
    socket_.send_to(asio::buffer(data, n), to, 0, ec);
  }

  void route(const std::string& cid, uint64_t connection) { routes_[cid] = connection; }
  void unroute(const std::string& cid) { routes_.erase(cid); }

  void forget(uint64_t connection) {
    auto it = connections_.find(connection);
    if (it == connections_.end()) return;
    for (const std::string& cid : it->second->cids) routes_.erase(cid);
    connections_.erase(it);
  }

  void deliver(RequestEvent&& event) {
    ++stats_.requests;
    if (options_.on_request) options_.on_request(std::move(event));
  }

 private:
  bool load_certificate(const std::string& chain_pem, const std::string& key_pem) {
    bssl::UniquePtr<BIO> chain(
        BIO_new_mem_buf(chain_pem.data(), static_cast<ossl_ssize_t>(chain_pem.size())));
    bssl::UniquePtr<BIO> key(BIO_new_mem_buf(key_pem.data(), static_cast<ossl_ssize_t>(key_pem.size())));
    if (!chain || !key) return false;
    bssl::UniquePtr<X509> leaf(PEM_read_bio_X509(chain.get(), nullptr, nullptr, nullptr));
    if (!leaf || SSL_CTX_use_certificate(ctx_.get(), leaf.get()) != 1) return false;
    while (bssl::UniquePtr<X509> next{PEM_read_bio_X509(chain.get(), nullptr, nullptr, nullptr)}) {
      if (SSL_CTX_add1_chain_cert(ctx_.get(), next.get()) != 1) return false;
    }
    ERR_clear_error();  // the end of the chain reads as an error
    bssl::UniquePtr<EVP_PKEY> pkey(PEM_read_bio_PrivateKey(key.get(), nullptr, nullptr, nullptr));
    return pkey && SSL_CTX_use_PrivateKey(ctx_.get(), pkey.get()) == 1 &&
           SSL_CTX_check_private_key(ctx_.get()) == 1;
  }

  static int select_h3(SSL*, const uint8_t** out, uint8_t* out_len, const uint8_t* in, unsigned in_len,
                       void*) {
    for (unsigned i = 0; i < in_len;) {
      const unsigned len = in[i];
      if (i + 1 + len > in_len) break;
      if (len == 2 && in[i + 1] == 'h' && in[i + 2] == '3') {
        *out = in + i + 1;
        *out_len = 2;
        return SSL_TLSEXT_ERR_OK;
      }
      i += 1 + len;
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;  // no_application_protocol: we speak h3 only
  }

  static void on_key_log_line(const SSL* ssl, const char* line) {
    const auto* ref = static_cast<const ngtcp2_crypto_conn_ref*>(SSL_get_app_data(ssl));
    if (ref && ref->user_data) static_cast<Connection*>(ref->user_data)->add_key_log_line(line);
  }

  void read_next() {
    socket_.async_receive_from(
        asio::buffer(rx_), sender_,
        [self = shared_from_this()](const std::error_code& ec, size_t n) { self->on_datagram(ec, n); });
  }

  void on_datagram(const std::error_code& ec, size_t n) {
    if (closed_) return;
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      try {
        handle(rx_.data(), n, sender_);
      } catch (...) {
        ++stats_.datagrams_dropped;  // (allocation failure) the datagram is lost, the server goes on
      }
    }
    read_next();
  }

  void handle(const uint8_t* data, size_t n, const asio::ip::udp::endpoint& from) {
    ngtcp2_version_cid vc;
    if (n == 0 || ngtcp2_pkt_decode_version_cid(&vc, data, n, kCidLength) != 0) {
      ++stats_.datagrams_dropped;
      return;
    }
    const bool long_header = (data[0] & 0x80) != 0;
    if (auto route = routes_.find(cid_key(vc.dcid, vc.dcidlen)); route != routes_.end()) {
      std::shared_ptr<Connection> c = connections_.at(route->second);
      // The first flight is what the client sends to its own first DCID; later Initials (ACKs) go to ours.
      if (long_header && route->first == c->cids.front()) first_flight(*c, data, n);
      c->on_datagram(data, n, from);
      return;
    }
    // A long header for no connection of ours is a first flight too, even one the server will not take
    // (truncated, under 1200 bytes, beyond max_connections): the view says what is wrong with it.
    if (long_header && options_.on_long_header_datagram) {
      options_.on_long_header_datagram(
          LongHeaderDatagram{std::string(reinterpret_cast<const char*>(data), n), endpoint_text(from)});
    }
    ngtcp2_pkt_hd hd;
    if (!long_header || ngtcp2_accept(&hd, data, n) != 0) {
      ++stats_.datagrams_dropped;
      return;
    }
    if (connections_.size() >= options_.max_connections) {
      ++stats_.connections_refused;
      return;
    }
    const uint64_t id = ++last_connection_;
    auto c = std::make_shared<Connection>(shared_from_this(), id, local_, from);
    if (options_.before_connection) options_.before_connection(ctx_.get(), id);
    if (!c->open(hd, ctx_.get())) {
      for (const std::string& cid : c->cids) routes_.erase(cid);
      ++stats_.datagrams_dropped;
      return;
    }
    ++stats_.connections_accepted;
    connections_[id] = c;
    // The client's chosen DCID routes its retransmitted Initials and 0-RTT here too.
    c->cids.insert(c->cids.begin(), cid_key(hd.dcid.data, hd.dcid.datalen));  // cids.front(): see above
    route(c->cids.front(), id);
    c->wants_first_flight_datagram();  // offered above
    c->on_datagram(data, n, from);
  }

  void first_flight(Connection& c, const uint8_t* data, size_t n) {
    if (!options_.on_long_header_datagram || !c.wants_first_flight_datagram()) return;
    options_.on_long_header_datagram(
        LongHeaderDatagram{std::string(reinterpret_cast<const char*>(data), n), c.client()});
  }

  void close_now() {
    if (closed_) return;
    closed_ = true;
    std::map<uint64_t, std::shared_ptr<Connection>> open = connections_;
    for (auto& [id, c] : open) c->shut_down();
    connections_.clear();
    routes_.clear();
    std::error_code ignored;
    socket_.close(ignored);
  }

  asio::io_context& io_;
  Options options_;
  asio::ip::udp::socket socket_;
  asio::ip::udp::endpoint local_, sender_;
  std::unique_ptr<SSL_CTX, SslCtxDeleter> ctx_;
  std::array<uint8_t, kMaxDatagram> rx_{};
  std::map<uint64_t, std::shared_ptr<Connection>> connections_;
  std::unordered_map<std::string, uint64_t> routes_;  // connection ID -> connection
  uint64_t last_connection_ = 0;
  Stats stats_;
  bool closed_ = false;
};

// ---- Connection ----

Connection::Connection(std::shared_ptr<ServerImpl> server, uint64_t id, asio::ip::udp::endpoint local,
                       asio::ip::udp::endpoint remote)
    : server_(std::move(server)),
      id_(id),
      local_(local),
      remote_(remote),
      client_(endpoint_text(remote)),
      expiry_timer_(server_->io()) {
  conn_ref_.get_conn = [](ngtcp2_crypto_conn_ref* ref) {
    return static_cast<Connection*>(ref->user_data)->conn_.get();
  };
  conn_ref_.user_data = this;
}

ngtcp2_path Connection::path() {
  return ngtcp2_path{{const_cast<sockaddr*>(local_.data()), static_cast<ngtcp2_socklen>(local_.size())},
                     {const_cast<sockaddr*>(remote_.data()), static_cast<ngtcp2_socklen>(remote_.size())},
                     nullptr};
}

bool Connection::open(const ngtcp2_pkt_hd& hd, SSL_CTX* tls) {
  const Options& o = server_->options();
  ngtcp2_settings settings;
  ngtcp2_settings_default(&settings);
  settings.initial_ts = now_ns();
  settings.handshake_timeout = uint64_t{o.handshake_timeout_ms} * NGTCP2_MILLISECONDS;
  ngtcp2_transport_params params;
  ngtcp2_transport_params_default(&params);
  params.initial_max_streams_bidi = o.max_streams_per_connection;
  params.initial_max_streams_uni = kClientUniStreams;
  params.initial_max_stream_data_bidi_remote = kStreamWindow;
  params.initial_max_stream_data_uni = kStreamWindow;
  params.initial_max_data = kConnectionWindow;
  params.max_idle_timeout = uint64_t{o.idle_timeout_ms} * NGTCP2_MILLISECONDS;
  params.original_dcid = hd.dcid;
  params.stateless_reset_token_present = 1;
  RAND_bytes(params.stateless_reset_token, sizeof params.stateless_reset_token);

  ngtcp2_callbacks cb{};
  set_crypto_callbacks(cb);
  cb.recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
  cb.handshake_completed = &on_handshake_completed;
  cb.recv_rx_key = &on_rx_key;
  cb.recv_stream_data = &on_stream_data;
  cb.acked_stream_data_offset = &on_stream_data_acked;
  cb.stream_close = &on_stream_close;
  cb.stream_reset = &on_stream_reset;
  cb.stream_stop_sending = &on_stream_stop_sending;
  cb.extend_max_stream_data = &on_extend_max_stream_data;
  cb.extend_max_remote_streams_bidi = &on_extend_max_remote_streams_bidi;
  cb.rand = &random_bytes;
  cb.get_new_connection_id = &on_new_connection_id;
  cb.remove_connection_id = &on_remove_connection_id;

  ngtcp2_cid scid;
  scid.datalen = kCidLength;
  RAND_bytes(scid.data, scid.datalen);
  const ngtcp2_path p = path();
  ngtcp2_conn* conn = nullptr;
  if (ngtcp2_conn_server_new(&conn, &hd.scid, &scid, &p, hd.version, &cb, &settings, &params, nullptr,
                             this) != 0) {
    return false;
  }
  conn_.reset(conn);
  ssl_.reset(SSL_new(tls));
  if (!ssl_) return false;
  SSL_set_app_data(ssl_.get(), &conn_ref_);
  SSL_set_accept_state(ssl_.get());
  if (o.report_hellos) {
    SSL_set_msg_callback(ssl_.get(), &Connection::on_tls_message);
    SSL_set_msg_callback_arg(ssl_.get(), this);
  }
  ngtcp2_conn_set_tls_native_handle(conn, ssl_.get());
  cids.push_back(cid_key(scid.data, scid.datalen));
  server_->route(cids.back(), id_);
  return true;
}

void Connection::record(bool sent, const uint8_t* data, size_t n) {
  const Options& o = server_->options();
  if (recording_truncated_ || recorded_bytes_ + n > o.max_recorded_bytes ||
      datagrams_.size() >= o.max_recorded_datagrams) {
    recording_truncated_ = true;
    return;
  }
  recorded_bytes_ += n;
  datagrams_.push_back(RecordedDatagram{sent, std::string(reinterpret_cast<const char*>(data), n)});
}

void Connection::on_datagram(const uint8_t* data, size_t n, const asio::ip::udp::endpoint& from) {
  if (finished_) return;
  auto self = shared_from_this();  // forget() may drop the server's reference meanwhile
  record(false, data, n);
  remote_ = from;
  const ngtcp2_path p = path();
  ngtcp2_pkt_info pi{};
  const int rv = ngtcp2_conn_read_pkt(conn_.get(), &p, &pi, data, n, now_ns());
  if (rv != 0) return on_read_error(rv);
  dispatch_completed();
  flush();
}

void Connection::on_read_error(int rv) {
  if (rv == NGTCP2_ERR_DRAINING || rv == NGTCP2_ERR_DROP_CONN) return finish();  // the client closed
  ngtcp2_connection_close_error cc;
  if (rv == NGTCP2_ERR_CRYPTO) {
    ngtcp2_connection_close_error_set_transport_error_tls_alert(&cc, ngtcp2_conn_get_tls_alert(conn_.get()),
                                                                nullptr, 0);
  } else if (!app_error_.empty()) {
    ngtcp2_connection_close_error_set_application_error(&cc, app_error_code_,
                                                        reinterpret_cast<const uint8_t*>(app_error_.data()),
                                                        std::min<size_t>(app_error_.size(), 256));
  } else {
    ngtcp2_connection_close_error_set_transport_error_liberr(&cc, rv, nullptr, 0);
  }
  send_close(cc);
  finish();
}

void Connection::send_close(const ngtcp2_connection_close_error& cc) {
  if (finished_ || !conn_) return;
  std::array<uint8_t, kPacketBuffer> packet;
  ngtcp2_path_storage ps;
  ngtcp2_path_storage_zero(&ps);
  ngtcp2_pkt_info pi{};
  const ngtcp2_ssize n = ngtcp2_conn_write_connection_close(conn_.get(), &ps.path, &pi, packet.data(),
                                                            packet.size(), &cc, now_ns());
  if (n > 0) send_datagram(packet.data(), static_cast<size_t>(n));
}

void Connection::shut_down() {
  ngtcp2_connection_close_error cc;
  ngtcp2_connection_close_error_set_application_error(&cc, kH3NoError, nullptr, 0);
  send_close(cc);
  finish();
}

void Connection::finish() {
  if (finished_) return;
  finished_ = true;
  expiry_timer_.cancel();
  server_->forget(id_);
}

// ---- stage: handshake, then HTTP/3 ----

int Connection::on_handshake_completed(ngtcp2_conn*, void* user) {
  return guarded(user, [](Connection& c) {
    SSL_set_msg_callback(c.ssl_.get(), nullptr);  // both hellos are in by now
    return c.start_http3() ? 0 : NGTCP2_ERR_CALLBACK_FAILURE;
  });
}

void Connection::on_tls_message(int is_write, int, int content_type, const void* buf, size_t len, SSL*,
                                void* arg) {
  auto& c = *static_cast<Connection*>(arg);
  const std::string_view bytes(static_cast<const char*>(buf), len);
  if (is_write || bytes.empty() || bytes.size() > 64 * 1024) return;
  if (content_type == SSL3_RT_HANDSHAKE && bytes[0] == SSL3_MT_CLIENT_HELLO && c.client_hello_.empty()) {
    c.client_hello_.assign(bytes);
  } else if (content_type == SSL3_RT_CLIENT_HELLO_INNER && c.inner_client_hello_.empty()) {
    c.inner_client_hello_.assign(bytes);
  }
}

// The 1-RTT keys exist as soon as our handshake flight is written: HTTP/3 starts there, so its
// SETTINGS leave as 0.5-RTT data with that flight, as the servers in the captures sent them; a
// client then knows the QPACK table it may use before its first request (as Chrome and Firefox did).
int Connection::on_rx_key(ngtcp2_conn*, ngtcp2_crypto_level level, void* user) {
  if (level != NGTCP2_CRYPTO_LEVEL_APPLICATION) return 0;
  return guarded(user, [](Connection& c) { return c.start_http3() ? 0 : NGTCP2_ERR_CALLBACK_FAILURE; });
}

struct Connection::H3 {
  static Connection& of(void* user) { return *static_cast<Connection*>(user); }
  template <typename F>
  static int guarded(void* user, F&& f) {
    try {
      f(of(user));
      return 0;
    } catch (...) {
      return NGHTTP3_ERR_CALLBACK_FAILURE;
    }
  }
  static int begin_headers(nghttp3_conn*, int64_t stream, void* user, void*) {
    return guarded(user, [&](Connection& c) { c.requests_.try_emplace(stream); });
  }
  static int recv_header(nghttp3_conn*, int64_t stream, int32_t, nghttp3_rcbuf* name, nghttp3_rcbuf* value,
                         uint8_t, void* user, void*) {
    return guarded(user, [&](Connection& c) {
      auto it = c.requests_.find(stream);
      if (it == c.requests_.end()) return;
      Request& r = it->second;
      const nghttp3_vec n = nghttp3_rcbuf_get_buf(name), v = nghttp3_rcbuf_get_buf(value);
      r.field_bytes += n.len + v.len + 32;
      if (r.fields.size() >= kMaxHeaderFields || r.field_bytes > kMaxHeaderSectionBytes) {
        r.too_large = true;
        return;
      }
      r.fields.push_back(Header{std::string(reinterpret_cast<const char*>(n.base), n.len),
                                std::string(reinterpret_cast<const char*>(v.base), v.len)});
    });
  }
  static int recv_data(nghttp3_conn*, int64_t stream, const uint8_t* data, size_t len, void* user, void*) {
    return guarded(user, [&](Connection& c) {
      if (auto it = c.requests_.find(stream); it != c.requests_.end()) {
        Request& r = it->second;
        if (r.body.size() + len > c.server_->options().max_request_body_bytes)
          r.too_large = true;
        else
          r.body.append(reinterpret_cast<const char*>(data), len);
      }
      c.consumed(stream, len);
    });
  }
  static int deferred_consume(nghttp3_conn*, int64_t stream, size_t n, void* user, void*) {
    return guarded(user, [&](Connection& c) { c.consumed(stream, n); });
  }
  static int end_stream(nghttp3_conn*, int64_t stream, void* user, void*) {
    return guarded(user, [&](Connection& c) { c.completed_.push_back(stream); });
  }
  static int stream_close(nghttp3_conn*, int64_t stream, uint64_t, void* user, void*) {
    return guarded(user, [&](Connection& c) { c.requests_.erase(stream); });
  }
  static int stop_sending(nghttp3_conn*, int64_t stream, uint64_t code, void* user, void*) {
    return guarded(user,
                   [&](Connection& c) { ngtcp2_conn_shutdown_stream_read(c.conn_.get(), stream, code); });
  }
  static int reset_stream(nghttp3_conn*, int64_t stream, uint64_t code, void* user, void*) {
    return guarded(user,
                   [&](Connection& c) { ngtcp2_conn_shutdown_stream_write(c.conn_.get(), stream, code); });
  }
  static nghttp3_ssize read_body(nghttp3_conn*, int64_t stream, nghttp3_vec* vec, size_t veccnt,
                                 uint32_t* flags, void* user, void*) {
    Connection& c = of(user);
    *flags |= NGHTTP3_DATA_FLAG_EOF;
    auto it = c.requests_.find(stream);
    if (it == c.requests_.end() || it->second.body_offered || veccnt == 0) return 0;
    it->second.body_offered = true;
    std::string& body = it->second.response_body;
    vec[0] = nghttp3_vec{reinterpret_cast<uint8_t*>(body.data()), body.size()};
    return 1;
  }
};

bool Connection::start_http3() {
  if (h3_) return true;
  const Options& o = server_->options();
  nghttp3_callbacks cb{};
  cb.begin_headers = &H3::begin_headers;
  cb.recv_header = &H3::recv_header;
  cb.recv_data = &H3::recv_data;
  cb.deferred_consume = &H3::deferred_consume;
  cb.end_stream = &H3::end_stream;
  cb.stream_close = &H3::stream_close;
  cb.stop_sending = &H3::stop_sending;
  cb.reset_stream = &H3::reset_stream;
  nghttp3_settings settings;
  nghttp3_settings_default(&settings);
  settings.max_field_section_size = kMaxHeaderSectionBytes;
  settings.qpack_max_dtable_capacity = o.qpack_max_table_capacity;
  settings.qpack_blocked_streams = o.qpack_max_table_capacity ? o.qpack_blocked_streams : 0;
  nghttp3_conn* h3 = nullptr;
  if (nghttp3_conn_server_new(&h3, &cb, &settings, nullptr, this) != 0) return false;
  h3_.reset(h3);
  nghttp3_conn_set_max_client_streams_bidi(h3, o.max_streams_per_connection);
  int64_t control = -1, encoder = -1, decoder = -1;
  return ngtcp2_conn_open_uni_stream(conn_.get(), &control, nullptr) == 0 &&
         ngtcp2_conn_open_uni_stream(conn_.get(), &encoder, nullptr) == 0 &&
         ngtcp2_conn_open_uni_stream(conn_.get(), &decoder, nullptr) == 0 &&
         nghttp3_conn_bind_control_stream(h3, control) == 0 &&
         nghttp3_conn_bind_qpack_streams(h3, encoder, decoder) == 0;
}

int Connection::on_stream_data(ngtcp2_conn*, uint32_t flags, int64_t stream, uint64_t, const uint8_t* data,
                               size_t len, void* user, void*) {
  return guarded(user, [&](Connection& c) {
    if (!c.start_http3()) return NGTCP2_ERR_CALLBACK_FAILURE;
    const nghttp3_ssize n = nghttp3_conn_read_stream(c.h3_.get(), stream, data, len,
                                                     (flags & NGTCP2_STREAM_DATA_FLAG_FIN) ? 1 : 0);
    if (n < 0) {
      c.app_error_ = std::string("HTTP/3: ") + nghttp3_strerror(static_cast<int>(n));
      c.app_error_code_ = nghttp3_err_infer_quic_app_error_code(static_cast<int>(n));
      return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    c.consumed(stream, static_cast<size_t>(n));
    // A request past a bound is refused at once: the stream is reset both ways.
    if (auto it = c.requests_.find(stream); it != c.requests_.end() && it->second.too_large) {
      c.requests_.erase(it);
      nghttp3_conn_shutdown_stream_read(c.h3_.get(), stream);
      ngtcp2_conn_shutdown_stream(c.conn_.get(), stream, kH3ExcessiveLoad);
    }
    return 0;
  });
}

int Connection::on_stream_data_acked(ngtcp2_conn*, int64_t stream, uint64_t, uint64_t len, void* user,
                                     void*) {
  return guarded(user, [&](Connection& c) {
    return !c.h3_ || nghttp3_conn_add_ack_offset(c.h3_.get(), stream, len) == 0 ? 0
                                                                                : NGTCP2_ERR_CALLBACK_FAILURE;
  });
}

int Connection::on_stream_close(ngtcp2_conn*, uint32_t flags, int64_t stream, uint64_t code, void* user,
                                void*) {
  return guarded(user, [&](Connection& c) {
    if (!(flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET)) code = kH3NoError;
    c.requests_.erase(stream);
    if (!c.h3_) return 0;
    const int rv = nghttp3_conn_close_stream(c.h3_.get(), stream, code);
    if (rv != 0 && rv != NGHTTP3_ERR_STREAM_NOT_FOUND) {
      c.app_error_ = std::string("HTTP/3: ") + nghttp3_strerror(rv);
      c.app_error_code_ = nghttp3_err_infer_quic_app_error_code(rv);
      return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    // A client bidirectional stream ended: the client may open another (max_streams_per_connection
    // open at once).
    if ((stream & 0x3) == 0) ngtcp2_conn_extend_max_streams_bidi(c.conn_.get(), 1);
    return 0;
  });
}

int Connection::on_stream_reset(ngtcp2_conn*, int64_t stream, uint64_t, uint64_t, void* user, void*) {
  return guarded(user, [&](Connection& c) {
    if (c.h3_) nghttp3_conn_shutdown_stream_read(c.h3_.get(), stream);
    return 0;
  });
}

int Connection::on_stream_stop_sending(ngtcp2_conn*, int64_t stream, uint64_t, void* user, void*) {
  return guarded(user, [&](Connection& c) {
    if (c.h3_) nghttp3_conn_shutdown_stream_read(c.h3_.get(), stream);
    return 0;
  });
}

int Connection::on_extend_max_stream_data(ngtcp2_conn*, int64_t stream, uint64_t, void* user, void*) {
  return guarded(user, [&](Connection& c) {
    if (c.h3_) nghttp3_conn_unblock_stream(c.h3_.get(), stream);
    return 0;
  });
}

int Connection::on_extend_max_remote_streams_bidi(ngtcp2_conn*, uint64_t max_streams, void* user) {
  return guarded(user, [&](Connection& c) {
    if (c.h3_) nghttp3_conn_set_max_client_streams_bidi(c.h3_.get(), max_streams);
    return 0;
  });
}

int Connection::on_new_connection_id(ngtcp2_conn*, ngtcp2_cid* cid, uint8_t* token, size_t len, void* user) {
  return guarded(user, [&](Connection& c) {
    cid->datalen = kCidLength;  // every ID this server issues has the length short headers assume
    (void)len;
    RAND_bytes(cid->data, cid->datalen);
    RAND_bytes(token, NGTCP2_STATELESS_RESET_TOKENLEN);
    c.cids.push_back(cid_key(cid->data, cid->datalen));
    c.server_->route(c.cids.back(), c.id_);
    return 0;
  });
}

int Connection::on_remove_connection_id(ngtcp2_conn*, const ngtcp2_cid* cid, void* user) {
  return guarded(user, [&](Connection& c) {
    const std::string key = cid_key(cid->data, cid->datalen);
    c.server_->unroute(key);
    c.cids.erase(std::remove(c.cids.begin(), c.cids.end(), key), c.cids.end());
    return 0;
  });
}

// ---- stage: requests ----

// Hands the requests completed by the datagram just read to on_request, with the record so far (the
// datagram that completed them included).
void Connection::dispatch_completed() {
  std::vector<int64_t> done = std::move(completed_);
  completed_.clear();
  for (int64_t stream : done) {
    auto it = requests_.find(stream);
    if (it == requests_.end() || it->second.dispatched || it->second.too_large) continue;
    it->second.dispatched = true;
    RequestEvent e;
    e.connection = id_;
    e.stream = stream;
    e.client = client_;
    e.fields = std::move(it->second.fields);
    e.body = std::move(it->second.body);
    e.datagrams = datagrams_;
    e.key_log = key_log_;
    e.recording_truncated = recording_truncated_;
    if (server_->options().report_hellos) {
      e.client_hello = client_hello_;
      e.ech_accepted = SSL_ech_accepted(ssl_.get()) != 0;
      if (e.ech_accepted) e.inner_client_hello = inner_client_hello_;
      const char* name = SSL_get_servername(ssl_.get(), TLSEXT_NAMETYPE_host_name);
      e.server_name = name ? name : "";
    }
    server_->deliver(std::move(e));
    if (finished_) return;
  }
}

void Connection::respond(int64_t stream, Reply reply) {
  if (finished_ || !h3_) return;
  auto it = requests_.find(stream);
  if (it == requests_.end() || it->second.responded) return;
  Request& r = it->second;
  r.responded = true;
  r.response_body = std::move(reply.body);
  std::vector<std::pair<std::string, std::string>> fields;
  fields.emplace_back(":status", std::to_string(std::clamp(reply.status, 100, 999)));
  for (Header& h : reply.headers) {
    std::string name = lower(h.name);
    if (name.empty() || name[0] == ':' || connection_specific(name)) continue;
    fields.emplace_back(std::move(name), std::move(h.value));
  }
  std::vector<nghttp3_nv> nva;
  nva.reserve(fields.size());
  for (auto& [name, value] : fields) {
    nva.push_back(nghttp3_nv{reinterpret_cast<uint8_t*>(name.data()),
                             reinterpret_cast<uint8_t*>(value.data()), name.size(), value.size(),
                             NGHTTP3_NV_FLAG_NONE});
  }
  nghttp3_data_reader reader{&H3::read_body};
  if (nghttp3_conn_submit_response(h3_.get(), stream, nva.data(), nva.size(),
                                   r.response_body.empty() ? nullptr : &reader) != 0) {
    ngtcp2_conn_shutdown_stream(conn_.get(), stream, 0x102);  // H3_INTERNAL_ERROR
  }
  flush();
}

// ---- I/O out ----

void Connection::send_datagram(const uint8_t* data, size_t n) {
  record(true, data, n);
  server_->send_to(data, n, remote_);
}

void Connection::flush() {
  if (finished_) return;
  std::array<uint8_t, kPacketBuffer> packet;
  const size_t max_size = std::min(kPacketBuffer, ngtcp2_conn_get_max_tx_udp_payload_size(conn_.get()));
  for (;;) {
    int64_t stream = -1;
    int fin = 0;
    std::array<nghttp3_vec, 16> h3vec{};
    nghttp3_ssize count = 0;
    if (h3_) {
      count = nghttp3_conn_writev_stream(h3_.get(), &stream, &fin, h3vec.data(), h3vec.size());
      if (count < 0) {
        ngtcp2_connection_close_error cc;
        ngtcp2_connection_close_error_set_application_error(
            &cc, nghttp3_err_infer_quic_app_error_code(static_cast<int>(count)), nullptr, 0);
        send_close(cc);
        return finish();
      }
    }
    uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
    if (fin) flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
    ngtcp2_ssize accepted = -1;
    ngtcp2_path_storage ps;
    ngtcp2_path_storage_zero(&ps);
    ngtcp2_pkt_info pi{};
    const ngtcp2_ssize n = ngtcp2_conn_writev_stream(
        conn_.get(), &ps.path, &pi, packet.data(), max_size, &accepted, flags, stream,
        reinterpret_cast<const ngtcp2_vec*>(h3vec.data()), static_cast<size_t>(count), now_ns());
    if (n < 0) {
      if (n == NGTCP2_ERR_WRITE_MORE) {
        if (nghttp3_conn_add_write_offset(h3_.get(), stream, static_cast<size_t>(accepted)) != 0)
          return finish();
        continue;
      }
      if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED) {
        nghttp3_conn_block_stream(h3_.get(), stream);
        continue;
      }
      if (n == NGTCP2_ERR_STREAM_SHUT_WR) {
        nghttp3_conn_shutdown_stream_write(h3_.get(), stream);
        continue;
      }
      ngtcp2_connection_close_error cc;
      ngtcp2_connection_close_error_set_transport_error_liberr(&cc, static_cast<int>(n), nullptr, 0);
      send_close(cc);
      return finish();
    }
    if (accepted >= 0 && stream >= 0 &&
        nghttp3_conn_add_write_offset(h3_.get(), stream, static_cast<size_t>(accepted)) != 0) {
      return finish();
    }
    if (n == 0) break;
    send_datagram(packet.data(), static_cast<size_t>(n));
  }
  arm_expiry();
}

void Connection::arm_expiry() {
  const ngtcp2_tstamp expiry = ngtcp2_conn_get_expiry(conn_.get());
  if (expiry == UINT64_MAX) return;
  const ngtcp2_tstamp now = now_ns();
  expiry_timer_.expires_after(std::chrono::nanoseconds(expiry > now ? expiry - now : 0));
  expiry_timer_.async_wait([self = shared_from_this()](const std::error_code& ec) {
    if (!ec) self->on_expiry();
  });
}

// Loss detection, ACK delay, the handshake deadline and the idle timeout.
void Connection::on_expiry() {
  if (finished_) return;
  const int rv = ngtcp2_conn_handle_expiry(conn_.get(), now_ns());
  if (rv == NGTCP2_ERR_IDLE_CLOSE) return finish();  // silently, as QUIC's idle timeout wants
  if (rv != 0) {
    ngtcp2_connection_close_error cc;
    ngtcp2_connection_close_error_set_transport_error_liberr(&cc, rv, nullptr, 0);
    send_close(cc);
    return finish();
  }
  flush();
}

}  // namespace

std::shared_ptr<Server> Server::create(asio::io_context& io, Options options, Error* error) {
  auto server = std::make_shared<ServerImpl>(io, std::move(options));
  Error ignored;
  if (!server->open(error ? error : &ignored)) return nullptr;
  return server;
}

}  // namespace ctn::quic_server
