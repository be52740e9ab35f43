#include "binding/quic_echo_server.h"

#include <string>
#include <utility>
#include <variant>

namespace ctn::binding {

namespace {

// Events waiting for the JS thread, at most: beyond, the io thread drops them rather than grow.
constexpr size_t kMaxQueuedEvents = 1024;

using Event = std::variant<quic_server::RequestEvent, quic_server::LongHeaderDatagram>;

Napi::Buffer<char> buffer(Napi::Env env, const std::string& bytes) {
  return Napi::Buffer<char>::Copy(env, bytes.data(), bytes.size());
}

Napi::Value to_js(Napi::Env env, const Event& event) {
  Napi::Object o = Napi::Object::New(env);
  if (const auto* d = std::get_if<quic_server::LongHeaderDatagram>(&event)) {
    o.Set("type", "long-header");
    o.Set("client", d->client);
    o.Set("bytes", buffer(env, d->bytes));
    return o;
  }
  const auto& r = std::get<quic_server::RequestEvent>(event);
  o.Set("type", "request");
  o.Set("connection", Napi::Number::New(env, static_cast<double>(r.connection)));
  o.Set("stream", Napi::Number::New(env, static_cast<double>(r.stream)));
  o.Set("client", r.client);
  Napi::Array fields = Napi::Array::New(env, r.fields.size());
  for (size_t i = 0; i < r.fields.size(); ++i) {
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(0u, r.fields[i].name);
    pair.Set(1u, r.fields[i].value);
    fields.Set(static_cast<uint32_t>(i), pair);
  }
  o.Set("fields", fields);
  o.Set("body", buffer(env, r.body));
  Napi::Array datagrams = Napi::Array::New(env, r.datagrams.size());
  for (size_t i = 0; i < r.datagrams.size(); ++i) {
    Napi::Object d = Napi::Object::New(env);
    d.Set("sent", r.datagrams[i].sent);
    d.Set("bytes", buffer(env, r.datagrams[i].bytes));
    datagrams.Set(static_cast<uint32_t>(i), d);
  }
  o.Set("datagrams", datagrams);
  o.Set("keyLog", r.key_log);
  o.Set("recordingTruncated", r.recording_truncated);
  return o;
}

// A non-negative integer option, or `otherwise` when absent; false when present but not one.
bool count_option(const Napi::Object& o, const char* name, uint64_t max, uint64_t* out) {
  const Napi::Value v = o.Get(name);
  if (v.IsUndefined()) return true;
  if (!v.IsNumber()) return false;
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= static_cast<double>(max)) || d != static_cast<double>(static_cast<uint64_t>(d)))
    return false;
  *out = static_cast<uint64_t>(d);
  return true;
}

}  // namespace

Napi::Function QuicEchoServer::Define(Napi::Env env) {
  return DefineClass(
      env, "QuicEchoServer",
      {InstanceMethod<&QuicEchoServer::Port>("port"), InstanceMethod<&QuicEchoServer::Respond>("respond"),
       InstanceMethod<&QuicEchoServer::Close>("close")});
}

QuicEchoServer::QuicEchoServer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<QuicEchoServer>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
    Napi::TypeError::New(env, "QuicEchoServer(options, onEvent)").ThrowAsJavaScriptException();
    return;
  }
  const Napi::Object o = info[0].As<Napi::Object>();
  quic_server::Options options;
  const Napi::Value host = o.Get("host"), cert = o.Get("cert"), key = o.Get("key");
  if (!host.IsString() || !cert.IsString() || !key.IsString()) {
    Napi::TypeError::New(env, "QuicEchoServer: host, cert and key must be strings")
        .ThrowAsJavaScriptException();
    return;
  }
  std::error_code bad_address;
  const asio::ip::address address = asio::ip::make_address(host.As<Napi::String>().Utf8Value(), bad_address);
  uint64_t port = 0, max_connections = options.max_connections,
           max_streams = options.max_streams_per_connection;
  uint64_t qpack = options.qpack_max_table_capacity, handshake = options.handshake_timeout_ms;
  uint64_t idle = options.idle_timeout_ms;
  if (bad_address || !count_option(o, "port", 65535, &port) ||
      !count_option(o, "maxConnections", 100'000, &max_connections) || max_connections == 0 ||
      !count_option(o, "maxStreams", 1000, &max_streams) || max_streams == 0 ||
      !count_option(o, "qpackMaxTableCapacity", 1 << 20, &qpack) ||
      !count_option(o, "handshakeTimeoutMs", 3'600'000, &handshake) || handshake == 0 ||
      !count_option(o, "idleTimeoutMs", 3'600'000, &idle) || idle == 0) {
    Napi::RangeError::New(env, "QuicEchoServer: an option is out of range").ThrowAsJavaScriptException();
    return;
  }
  options.listen = asio::ip::udp::endpoint(address, static_cast<uint16_t>(port));
  options.certificate_pem = cert.As<Napi::String>().Utf8Value();
  options.private_key_pem = key.As<Napi::String>().Utf8Value();
  options.max_connections = static_cast<size_t>(max_connections);
  options.max_streams_per_connection = max_streams;
  options.qpack_max_table_capacity = qpack;
  options.handshake_timeout_ms = static_cast<uint32_t>(handshake);
  options.idle_timeout_ms = static_cast<uint32_t>(idle);

  events_ = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "cycletls-native quic echo",
                                          kMaxQueuedEvents, 1);
  // io thread: the event goes to the JS thread; a full queue drops it (a request is answered 503).
  const auto post = [this](Event&& event) {
    auto* boxed = new Event(std::move(event));
    const napi_status status = events_.NonBlockingCall(boxed, [](Napi::Env e, Napi::Function f, Event* ev) {
      std::unique_ptr<Event> owned(ev);
      if (e && f) f.Call({to_js(e, *owned)});
    });
    if (status == napi_ok) return;
    std::unique_ptr<Event> dropped(boxed);
    if (auto* r = std::get_if<quic_server::RequestEvent>(dropped.get()); r && server_) {
      server_->respond(r->connection, r->stream, quic_server::Reply{503, {}, "the echo is overloaded\n"});
    }
  };
  options.on_request = [post](quic_server::RequestEvent&& e) { post(Event(std::move(e))); };
  options.on_long_header_datagram = [post](quic_server::LongHeaderDatagram&& d) {
    post(Event(std::move(d)));
  };

  Error error;
  server_ = quic_server::Server::create(io_, std::move(options), &error);
  if (!server_) {
    events_.Release();
    stopped_ = true;
    Napi::Error e = Napi::Error::New(env, error.message);
    e.Set("code", std::string(error_code_name(error.code)));
    e.ThrowAsJavaScriptException();
    return;
  }
  thread_ = std::thread([this] {
    try {
      io_.run();
    } catch (...) {
      // a handler that throws ends the server's thread, never the process
    }
  });
}

QuicEchoServer::~QuicEchoServer() { stop(); }

void QuicEchoServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  server_->close();
  work_.reset();
  if (thread_.joinable()) thread_.join();
  events_.Release();
}

Napi::Value QuicEchoServer::Port(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), server_ ? server_->port() : 0);
}

Napi::Value QuicEchoServer::Respond(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber() ||
      !info[3].IsArray() || !(info[4].IsBuffer() || info[4].IsString())) {
    Napi::TypeError::New(env, "respond(connection, stream, status, headers, body)")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (stopped_) return env.Undefined();
  quic_server::Reply reply;
  reply.status = info[2].As<Napi::Number>().Int32Value();
  const Napi::Array headers = info[3].As<Napi::Array>();
  for (uint32_t i = 0; i < headers.Length(); ++i) {
    const Napi::Value pair = headers.Get(i);
    if (!pair.IsArray() || pair.As<Napi::Array>().Length() != 2) continue;
    const Napi::Value n = pair.As<Napi::Array>().Get(0u), v = pair.As<Napi::Array>().Get(1u);
    if (n.IsString() && v.IsString())
      reply.headers.push_back(Header{n.As<Napi::String>().Utf8Value(), v.As<Napi::String>().Utf8Value()});
  }
  if (info[4].IsBuffer()) {
    const auto b = info[4].As<Napi::Buffer<char>>();
    reply.body.assign(b.Data(), b.Length());
  } else {
    reply.body = info[4].As<Napi::String>().Utf8Value();
  }
  server_->respond(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value()),
                   info[1].As<Napi::Number>().Int64Value(), std::move(reply));
  return env.Undefined();
}

Napi::Value QuicEchoServer::Close(const Napi::CallbackInfo& info) {
  stop();
  return info.Env().Undefined();
}

}  // namespace ctn::binding
