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
                    port = o.Get("port"), public_name = o.Get("publicName"), quic = o.Get("quic");
  if (!host.IsString() || !cert.IsString() || !key.IsString() || !mode.IsString() ||
      !(public_name.IsUndefined() || public_name.IsString()) || !(port.IsUndefined() || port.IsNumber()) ||
      !(quic.IsUndefined() || quic.IsBoolean())) {
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
  if ((m != "accept" && m != "retry" && m != "disable" && m != "rotate") || !(p >= 0 && p <= 65535) ||
      p != static_cast<double>(static_cast<uint16_t>(p))) {
    Napi::RangeError::New(env, "EchEchoServer: mode is accept, retry, disable or rotate; port 0-65535")
        .ThrowAsJavaScriptException();
    return;
  }
  options.port = static_cast<uint16_t>(p);
  options.mode = m == "accept"    ? ech_server::Mode::kAccept
                 : m == "retry"   ? ech_server::Mode::kRetry
                 : m == "disable" ? ech_server::Mode::kDisable
                                  : ech_server::Mode::kRotate;
  std::string error;
  server_ = ech_server::Server::start(io_, options, &error);
  if (server_ && quic.IsBoolean() && quic.As<Napi::Boolean>().Value() && !start_quic(options, &error)) {
    server_->close();
    server_.reset();
  }
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

// HTTP/3 on the same port number over UDP, holding the TCP side's keys: each request is answered
// here, natively, with the same JSON as over TCP (ech_server::answer_json).
bool EchEchoServer::start_quic(const ech_server::Options& tcp, std::string* error) {
  quic_server::Options options;
  std::error_code bad;
  options.listen = asio::ip::udp::endpoint(asio::ip::make_address(tcp.host, bad), server_->port());
  options.certificate_pem = tcp.cert_pem;
  options.private_key_pem = tcp.key_pem;
  options.max_connections = tcp.max_connections;
  options.report_hellos = true;
  // The TCP side's keys (both sides run on io_): a rotating echo rotates them for either.
  options.before_connection = [this](SSL_CTX* ctx, uint64_t) {
    if (SSL_ECH_KEYS* keys = server_->next_connection_keys()) SSL_CTX_set1_ech_keys(ctx, keys);
  };
  options.on_request = [this](quic_server::RequestEvent&& e) {
    std::string method, path;
    for (const Header& h : e.fields) {
      if (h.name == ":method") method = h.value;
      if (h.name == ":path") path = h.value;
    }
    quic_server::Reply reply;
    reply.headers = {{"content-type", "application/json"}};
    reply.body = ech_server::answer_json(method, path, e.client_hello, e.inner_client_hello, e.ech_accepted,
                                         e.server_name);
    quic_->respond(e.connection, e.stream, std::move(reply));
  };
  Error failed;
  quic_ = quic_server::Server::create(io_, std::move(options), &failed);
  if (!quic_) *error = "the ECH echo's HTTP/3 side: " + failed.message;
  return quic_ != nullptr;
}

EchEchoServer::~EchEchoServer() { stop(); }

void EchEchoServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (quic_) quic_->close();  // posts
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
