// EchEchoServer: the echo's ECH endpoint (ech_server::Server) for lib/echo, on its own io thread.
// JS sees:
//   new EchEchoServer({ host, port, cert, key, mode: 'accept' | 'retry' | 'disable', publicName, quic })
//   .port() · .echConfigList() (a Buffer: the ECHConfigList clients should offer) · .close()
// It answers every connection natively (ech_server.h); it does not keep the Node loop alive. With
// `quic: true` the same port number over UDP is an HTTP/3 endpoint (quic_server) holding the same
// keys, answering each request with the same JSON.
#pragma once

#include <napi.h>

#include <memory>
#include <thread>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include "ech_server/ech_server.h"
#include "quic_server/server.h"

namespace ctn::binding {

class EchEchoServer final : public Napi::ObjectWrap<EchEchoServer> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit EchEchoServer(const Napi::CallbackInfo& info);
  ~EchEchoServer() override;

 private:
  Napi::Value Port(const Napi::CallbackInfo& info);
  Napi::Value EchConfigList(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  bool start_quic(const ech_server::Options& tcp, std::string* error);
  void stop();

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::shared_ptr<ech_server::Server> server_;
  std::shared_ptr<quic_server::Server> quic_;  // with `quic: true`
  std::thread thread_;
  bool stopped_ = false;
};

}  // namespace ctn::binding
