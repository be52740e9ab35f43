#include "binding/ech_echo_server.h"

#include <string>

#include <asio/post.hpp>

namespace ctn::binding {

Napi::Function EchEchoServer::Define(Napi::Env env) {
  return DefineClass(env, "EchEchoServer",
                     {InstanceMethod<&EchEchoServer::Port>("port"),
                      InstanceMethod<&EchEchoServer::EchConfigList>("echConfigList"),
                      InstanceMethod<&EchEchoServer::Close>("close")});
}

EchEchoServer::EchEchoServer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EchEchoServer>(info) {
  Napi::Env env = info.Env();
  stopped_ = true;  // until the server runs
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, "EchEchoServer(options)").ThrowAsJavaScriptException();
    return;
  }
  const Napi::Object o = info[0].As<Napi::Object>();
  const Napi::Value host = o.Get("host"), cert = o.Get("cert"), key = o.Get("key"), mode = o.Get("mode"),
                    port = o.Get("port"), public_name = o.Get("publicName");
  if (!host.IsString() || !cert.IsString() || !key.IsString() || !mode.IsString() ||
      !(public_name.IsUndefined() || public_name.IsString()) || !(port.IsUndefined() || port.IsNumber())) {
    Napi::TypeError::New(env, "EchEchoServer: host, cert, key, mode and publicName must be strings")
        .ThrowAsJavaScriptException();
    return;
  }
  ech_server::Options options;
  options.host = host.As<Napi::String>().Utf8Value();
  options.cert_pem = cert.As<Napi::String>().Utf8Value();
  options.key_pem = key.As<Napi::String>().Utf8Value();
  if (public_name.IsString()) options.public_name = public_name.As<Napi::String>().Utf8Value();
  const std::string m = mode.As<Napi::String>().Utf8Value();
  const double p = port.IsNumber() ? port.As<Napi::Number>().DoubleValue() : 0;
  if ((m != "accept" && m != "retry" && m != "disable") || !(p >= 0 && p <= 65535) ||
      p != static_cast<double>(static_cast<uint16_t>(p))) {
    Napi::RangeError::New(env, "EchEchoServer: mode is accept, retry or disable; port 0-65535")
        .ThrowAsJavaScriptException();
    return;
  }
  options.port = static_cast<uint16_t>(p);
  options.mode = m == "accept"  ? ech_server::Mode::kAccept
                 : m == "retry" ? ech_server::Mode::kRetry
                                : ech_server::Mode::kDisable;
  std::string error;
  server_ = ech_server::Server::start(io_, options, &error);
  if (!server_) {
    Napi::Error::New(env, error).ThrowAsJavaScriptException();
    return;
  }
  stopped_ = false;
  thread_ = std::thread([this] {
    try {
      io_.run();
    } catch (...) {
      // a handler that throws ends the server's thread, never the process
    }
  });
}

EchEchoServer::~EchEchoServer() { stop(); }

void EchEchoServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  asio::post(io_, [server = server_] { server->close(); });
  work_.reset();
  if (thread_.joinable()) thread_.join();
}

Napi::Value EchEchoServer::Port(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), server_ ? server_->port() : 0);
}

Napi::Value EchEchoServer::EchConfigList(const Napi::CallbackInfo& info) {
  const std::string empty;
  const std::string& list = server_ ? server_->ech_config_list() : empty;
  return Napi::Buffer<char>::Copy(info.Env(), list.data(), list.size());
}

Napi::Value EchEchoServer::Close(const Napi::CallbackInfo& info) {
  stop();
  return info.Env().Undefined();
}

}  // namespace ctn::binding
