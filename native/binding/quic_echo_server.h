// QuicEchoServer: the echo server's HTTP/3 endpoint (quic_server::Server) for lib/echo, on its own io
// thread. JS sees:
//   new QuicEchoServer({ host, port, cert, key, maxConnections, maxStreams, qpackMaxTableCapacity,
//                        handshakeTimeoutMs, idleTimeoutMs }, onEvent)
//   .port() · .respond(connection, stream, status, [[name, value], ...], body) · .close()
// onEvent(event) on the JS thread, one of
//   { type: 'request', connection, stream, client, fields: [[name, value], ...], body: Buffer,
//     datagrams: [{ sent, bytes: Buffer }], keyLog, recordingTruncated }
//   { type: 'long-header', client, bytes: Buffer }   (a first-flight datagram, for /quic's views)
// Events beyond the queue's bound are dropped (a request then gets 503 natively). The server keeps
// the Node loop alive until close().
#pragma once

#include <napi.h>

#include <memory>
#include <thread>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include "quic_server/server.h"

namespace ctn::binding {

class QuicEchoServer final : public Napi::ObjectWrap<QuicEchoServer> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit QuicEchoServer(const Napi::CallbackInfo& info);
  ~QuicEchoServer() override;

 private:
  Napi::Value Port(const Napi::CallbackInfo& info);
  Napi::Value Respond(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  void stop();

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::shared_ptr<quic_server::Server> server_;
  Napi::ThreadSafeFunction events_;
  std::thread thread_;
  bool stopped_ = false;
};

}  // namespace ctn::binding
