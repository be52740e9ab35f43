#include "ech_server/ech_server.h"

#include <openssl/bytestring.h>
#include <openssl/hpke.h>
#include <openssl/ssl.h>

#include <chrono>
#include <cstdio>
#include <list>
#include <utility>

#include <asio/ssl.hpp>

namespace ctn::ech_server {

namespace {

constexpr size_t kMaxHeadBytes = 16 * 1024;
constexpr uint16_t kEncryptedClientHello = 0xfe0d;

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

// A JSON string literal of `s` (names and a request line: escape what JSON requires).
std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out + "\"";
}

int select_http11(SSL*, const uint8_t** out, uint8_t* out_len, const uint8_t* in, unsigned in_len, void*) {
  static const uint8_t kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  uint8_t* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, out_len, kHttp11, sizeof kHttp11, in, in_len) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

class ServerImpl;

// One accepted connection: handshake, request head, answer, close.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(asio::ip::tcp::socket socket, asio::ssl::context& tls, uint64_t deadline_ms)
      : stream_(std::move(socket), tls), deadline_(stream_.get_executor()), deadline_ms_(deadline_ms) {}

  void start() {
    SSL* ssl = stream_.native_handle();
    SSL_set_msg_callback(ssl, &Session::on_tls_message);
    SSL_set_msg_callback_arg(ssl, this);
    deadline_.expires_after(std::chrono::milliseconds(deadline_ms_));
    deadline_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      if (!ec) self->close();
    });
    stream_.async_handshake(
        asio::ssl::stream_base::server,
        [self = shared_from_this()](const asio::error_code& ec) { self->on_handshake(ec); });
  }

  void close() {
    asio::error_code ignored;
    deadline_.cancel();
    stream_.lowest_layer().close(ignored);
  }

 private:
  // The first ClientHello read (the outer one when ECH is offered) and a decrypted inner one.
  static void on_tls_message(int is_write, int, int content_type, const void* buf, size_t len, SSL*,
                             void* arg) {
    auto* self = static_cast<Session*>(arg);
    const std::string_view bytes(static_cast<const char*>(buf), len);
    if (is_write || bytes.empty() || bytes.size() > 64 * 1024) return;
    if (content_type == SSL3_RT_HANDSHAKE && bytes[0] == SSL3_MT_CLIENT_HELLO && self->outer_.empty()) {
      self->outer_.assign(bytes);
    } else if (content_type == SSL3_RT_CLIENT_HELLO_INNER && self->inner_.empty()) {
      self->inner_.assign(bytes);
    }
  }

  void on_handshake(const asio::error_code& ec) {
    SSL_set_msg_callback(stream_.native_handle(), nullptr);
    if (ec) {  // a rejected ECH offer ends here too: the client aborts with ech_required
      close();
      return;
    }
    asio::async_read_until(
        stream_, asio::dynamic_buffer(head_, kMaxHeadBytes), "\r\n\r\n",
        [self = shared_from_this()](const asio::error_code& ec, size_t) { self->on_head(ec); });
  }

  void on_head(const asio::error_code& ec) {
    if (ec) {
      close();
      return;
    }
    const std::string line = head_.substr(0, head_.find("\r\n"));
    const size_t sp1 = line.find(' ');
    const size_t sp2 = line.find(' ', sp1 == std::string::npos ? line.size() : sp1 + 1);
    const std::string method = line.substr(0, sp1);
    const std::string path =
        sp1 == std::string::npos
            ? ""
            : line.substr(sp1 + 1, sp2 == std::string::npos ? std::string::npos : sp2 - sp1 - 1);
    SSL* ssl = stream_.native_handle();
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    const std::string body =
        answer_json(method, path, outer_, inner_, SSL_ech_accepted(ssl) != 0, name ? name : "");
    response_ = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body;
    asio::async_write(stream_, asio::buffer(response_),
                      [self = shared_from_this()](const asio::error_code&, size_t) { self->close(); });
  }

  asio::ssl::stream<asio::ip::tcp::socket> stream_;
  asio::steady_timer deadline_;
  uint64_t deadline_ms_;
  std::string outer_, inner_, head_, response_;
};

class ServerImpl final : public Server, public std::enable_shared_from_this<ServerImpl> {
 public:
  ServerImpl(asio::io_context& io, const Options& options)
      : options_(options), tls_(asio::ssl::context::tls_server), acceptor_(io) {}

  bool listen(std::string* error) {
    asio::error_code ec;
    tls_.use_certificate_chain(asio::buffer(options_.cert_pem), ec);
    if (!ec) tls_.use_private_key(asio::buffer(options_.key_pem), asio::ssl::context::pem, ec);
    if (ec) {
      *error = "the ECH echo's certificate or key: " + ec.message();
      return false;
    }
    SSL_CTX* ctx = tls_.native_handle();
    SSL_CTX_set_alpn_select_cb(ctx, &select_http11, nullptr);
    EchKey offered, held;
    if (!make_ech_key(1, options_.public_name, &offered) || !make_ech_key(2, options_.public_name, &held)) {
      *error = "cannot make the ECH keys";
      return false;
    }
    config_list_ = offered.config_list;
    keys_ = std::move(options_.mode == Mode::kAccept ? offered.keys : held.keys);
    if (options_.mode == Mode::kDisable || options_.mode == Mode::kRotate) keys_.reset();
    if (keys_ && !SSL_CTX_set1_ech_keys(ctx, keys_.get())) {
      *error = "cannot set the ECH keys";
      return false;
    }
    const asio::ip::tcp::endpoint at(asio::ip::make_address(options_.host, ec), options_.port);
    if (!ec) acceptor_.open(at.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(at, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      *error = "the ECH echo cannot listen on " + options_.host + ": " + ec.message();
      return false;
    }
    port_ = acceptor_.local_endpoint().port();
    accept();
    return true;
  }

  uint16_t port() const override { return port_; }
  const std::string& ech_config_list() const override { return config_list_; }
  SSL_ECH_KEYS* next_connection_keys() override {
    if (options_.mode != Mode::kRotate) return keys_.get();
    EchKey fresh;
    // Config ids 1 and 2 are listen()'s; a new one for each connection after (a stale id is rejected
    // even before decryption is tried).
    const uint8_t id = next_config_id_ == 255 ? 3 : next_config_id_++;
    if (make_ech_key(id, options_.public_name, &fresh)) keys_ = std::move(fresh.keys);
    return keys_.get();
  }

  void close() override {
    asio::error_code ignored;
    acceptor_.close(ignored);
    for (auto& weak : sessions_)
      if (auto session = weak.lock()) session->close();
    sessions_.clear();
  }

 private:
  void accept() {
    acceptor_.async_accept(
        [self = shared_from_this()](const asio::error_code& ec, asio::ip::tcp::socket socket) {
          self->on_accept(ec, std::move(socket));
        });
  }

  void on_accept(const asio::error_code& ec, asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    sessions_.remove_if([](const std::weak_ptr<Session>& s) { return s.expired(); });
    if (!ec && sessions_.size() < options_.max_connections) {
      if (options_.mode == Mode::kRotate) {
        if (SSL_ECH_KEYS* keys = next_connection_keys()) SSL_CTX_set1_ech_keys(tls_.native_handle(), keys);
      }
      auto session = std::make_shared<Session>(std::move(socket), tls_, options_.connection_deadline_ms);
      sessions_.push_back(session);
      session->start();
    }  // beyond the bound the socket closes here
    accept();
  }

  Options options_;
  asio::ssl::context tls_;
  asio::ip::tcp::acceptor acceptor_;
  std::string config_list_;
  bssl::UniquePtr<SSL_ECH_KEYS> keys_;  // what the server decrypts with (none in kDisable)
  uint8_t next_config_id_ = 3;          // kRotate
  uint16_t port_ = 0;
  std::list<std::weak_ptr<Session>> sessions_;
};

}  // namespace

bool make_ech_key(uint8_t config_id, const std::string& public_name, EchKey* out) {
  bssl::UniquePtr<EVP_HPKE_KEY> key(EVP_HPKE_KEY_new());
  uint8_t* config = nullptr;
  size_t config_len = 0;
  if (!key || !EVP_HPKE_KEY_generate(key.get(), EVP_hpke_x25519_hkdf_sha256()) ||
      !SSL_marshal_ech_config(&config, &config_len, config_id, key.get(), public_name.c_str(), 32)) {
    return false;
  }
  bssl::UniquePtr<uint8_t> owned(config);
  out->keys.reset(SSL_ECH_KEYS_new());
  uint8_t* list = nullptr;
  size_t list_len = 0;
  if (!out->keys || !SSL_ECH_KEYS_add(out->keys.get(), 1, config, config_len, key.get()) ||
      !SSL_ECH_KEYS_marshal_retry_configs(out->keys.get(), &list, &list_len)) {
    return false;
  }
  out->config_list.assign(reinterpret_cast<const char*>(list), list_len);
  OPENSSL_free(list);
  return true;
}

std::string answer_json(std::string_view method, std::string_view path, std::string_view outer_hello,
                        std::string_view inner_hello, bool accepted, std::string_view server_name) {
  HelloFacts outer;
  hello_facts(outer_hello, &outer);
  return "{\"method\":" + json_string(method) + ",\"path\":" + json_string(path) +
         ",\"ech\":{\"offered\":" + (outer.ech ? "true" : "false") +
         ",\"accepted\":" + (accepted ? "true" : "false") + "}" +
         ",\"outerSni\":" + json_string(outer.server_name) +
         ",\"innerSni\":" + (accepted && !server_name.empty() ? json_string(server_name) : "null") +
         ",\"outerHello\":\"" + hex(outer_hello) + "\"" +
         ",\"innerHello\":" + (inner_hello.empty() ? "null" : "\"" + hex(inner_hello) + "\"") + "}";
}

bool hello_facts(std::string_view client_hello, HelloFacts* out) {
  *out = HelloFacts{};
  CBS in, body, skip, extensions;
  uint8_t type = 0;
  CBS_init(&in, reinterpret_cast<const uint8_t*>(client_hello.data()), client_hello.size());
  if (!CBS_get_u8(&in, &type) || type != SSL3_MT_CLIENT_HELLO || !CBS_get_u24_length_prefixed(&in, &body) ||
      !CBS_skip(&body, 2 + 32) || !CBS_get_u8_length_prefixed(&body, &skip) ||
      !CBS_get_u16_length_prefixed(&body, &skip) || !CBS_get_u8_length_prefixed(&body, &skip) ||
      !CBS_get_u16_length_prefixed(&body, &extensions)) {
    return false;
  }
  while (CBS_len(&extensions) > 0) {
    uint16_t id = 0;
    CBS data, list, name;
    uint8_t name_type = 0;
    if (!CBS_get_u16(&extensions, &id) || !CBS_get_u16_length_prefixed(&extensions, &data)) {
      *out = HelloFacts{};  // a hello cut short says nothing, not what its first extensions said
      return false;
    }
    if (id == kEncryptedClientHello) out->ech = true;
    if (id == TLSEXT_TYPE_server_name && CBS_get_u16_length_prefixed(&data, &list) &&
        CBS_get_u8(&list, &name_type) && name_type == TLSEXT_NAMETYPE_host_name &&
        CBS_get_u16_length_prefixed(&list, &name)) {
      out->server_name.assign(reinterpret_cast<const char*>(CBS_data(&name)), CBS_len(&name));
    }
  }
  return true;
}

std::shared_ptr<Server> Server::start(asio::io_context& io, const Options& options, std::string* error) {
  auto server = std::make_shared<ServerImpl>(io, options);
  if (!server->listen(error)) return nullptr;
  return server;
}

}  // namespace ctn::ech_server
