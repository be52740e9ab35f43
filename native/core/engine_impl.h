// Internal to the engine: the exchange (one request's state), the connection (one socket, Beast
// style: stage-named handlers, one operation per direction at a time) and the engine's io state.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <asio.hpp>
#include <asio/ssl.hpp>

#include "core/engine.h"
#include "http1/response_parser.h"
#include "profiles/profile.h"
#include "tls/tls_context.h"

namespace ctn {

class Connection;

// Connection identity: never cookies, user agent, timeouts or redirect policy.
struct PoolKey {
  bool tls = true;
  std::string host;
  uint16_t port = 0;
  std::string server_name;
  std::string profile;
  bool verify = true;
  bool http1_only = false;
  auto tie() const { return std::tie(tls, host, port, server_name, profile, verify, http1_only); }
  bool operator<(const PoolKey& o) const { return tie() < o.tie(); }
};

struct Exchange {
  explicit Exchange(asio::io_context& io) : deadline(io) {}
  RequestSpec spec;
  const Profile* profile = nullptr;
  PoolKey key;
  asio::steady_timer deadline;
  Stage stage = Stage::kQueue;
  bool done = false;
  bool paused = false;
  bool retried = false;
  std::shared_ptr<Connection> connection;
};

class Connection : public std::enable_shared_from_this<Connection>, http1::ResponseListener {
 public:
  Connection(Engine::Impl& engine, PoolKey key, uint64_t id);
  ~Connection() override;

  const PoolKey& key() const { return key_; }
  uint64_t id() const { return id_; }
  // Established, unused, and not closed by the server (checked with the kernel).
  bool idle() const;

  // Resolves, connects and (for https) handshakes, then runs `exchange` on this connection.
  void open(std::shared_ptr<Exchange> exchange);
  // Runs `exchange` on this established, idle connection.
  void run(std::shared_ptr<Exchange> exchange);
  void resume();
  // Closes the socket; pending handlers complete with operation_aborted and find nothing to do.
  void close();
  // Idle in the pool: any byte or EOF from the server now means the connection is finished.
  void park(uint64_t idle_timeout_ms);

 private:
  void on_resolve(const asio::error_code& ec, asio::ip::tcp::resolver::results_type results);
  void on_connect(const asio::error_code& ec);
  void on_handshake(const asio::error_code& ec);
  void write_request();
  void on_write(const asio::error_code& ec, size_t bytes);
  void read_more();
  void on_read(const asio::error_code& ec, size_t bytes);
  void on_idle_timeout(const asio::error_code& ec);
  void fail(Error error, bool nothing_received);
  void finish_exchange();
  void flush_body();
  bool more_readable_now();
  ConnectionInfo info() const;

  // http1::ResponseListener
  void on_head(ResponseHead&& head) override;
  void on_body(std::string_view bytes) override;
  void on_complete() override;

  template <class Fn>
  void with_stream(Fn&& fn) {
    if (tls_) fn(*tls_); else fn(socket_);
  }

  Engine::Impl& engine_;
  PoolKey key_;
  uint64_t id_;
  asio::ip::tcp::resolver resolver_;
  asio::ip::tcp::socket socket_;
  std::shared_ptr<asio::ssl::context> tls_context_;
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket&>> tls_;
  asio::steady_timer idle_timer_;
  std::shared_ptr<Exchange> exchange_;
  http1::ResponseParser parser_;
  std::string request_head_;
  std::vector<char> read_buffer_;
  std::string pending_body_;
  bool established_ = false;
  bool reused_ = false;
  bool reading_ = false;
  bool closed_ = false;
  bool response_started_ = false;
  bool response_complete_ = false;
  bool trailing_garbage_ = false;
  bool tcp_open_ = false;
};

class Engine::Impl {
 public:
  Impl(EngineOptions options, EventSink& sink);
  ~Impl();

  // io thread only, below.
  void start(RequestSpec&& spec);
  void cancel(uint64_t id, Error error);
  void set_paused(uint64_t id, bool paused);
  void stop_all();

  // Called by connections.
  void emit(Event&& event);
  void exchange_failed(const std::shared_ptr<Exchange>& ex, Error error, bool retryable);
  void exchange_succeeded(const std::shared_ptr<Exchange>& ex);
  void connection_reusable(const std::shared_ptr<Connection>& conn);
  void connection_closed(Connection* conn, bool was_open);
  void connection_established(bool tls);
  void count_io(uint64_t in, uint64_t out);
  TlsContextCache& tls_contexts() { return tls_contexts_; }

  // Declared first: destroyed last, after every object that holds one of its sockets or timers.
  asio::io_context io;
  EngineOptions options;
  EventSink& sink;
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::function<void()> on_stopped;

  std::atomic<uint64_t> requests_started{0}, requests_in_flight{0}, connections_opened{0},
      tls_handshakes{0}, connections_reused{0}, connections_open{0}, connections_idle{0},
      bytes_in{0}, bytes_out{0};

 private:
  void dispatch(const std::shared_ptr<Exchange>& ex);
  void settle(const std::shared_ptr<Exchange>& ex);
  std::shared_ptr<Connection> take_idle(const PoolKey& key);

  asio::executor_work_guard<asio::io_context::executor_type> work_;
  TlsContextCache tls_contexts_;
  std::unordered_map<uint64_t, std::shared_ptr<Exchange>> exchanges_;
  std::map<PoolKey, std::vector<std::shared_ptr<Connection>>> idle_;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> open_;
  uint64_t next_connection_id_ = 1;
};

}  // namespace ctn
