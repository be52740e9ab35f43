// The echo's HTTP/3 endpoint (quic_server::Server) on its own io thread, for the native tests: start()
// creates it with the options given, stop() (or the destructor) closes it and joins the thread.
#pragma once

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <thread>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include "quic_server/server.h"

namespace ctn_test {

class QuicServerThread {
 public:
  QuicServerThread() = default;
  QuicServerThread(const QuicServerThread&) = delete;
  QuicServerThread& operator=(const QuicServerThread&) = delete;
  ~QuicServerThread() { stop(); }

  void start(ctn::quic_server::Options options) {
    ctn::Error error;
    server = ctn::quic_server::Server::create(io, std::move(options), &error);
    EXPECT_TRUE(server) << error.message;
    thread_ = std::thread([this] { io.run(); });
  }
  // A fixture whose own members the server's handlers use stops it in its destructor, before they go.
  void stop() {
    if (!thread_.joinable()) return;
    if (server) server->close();
    work_.reset();
    thread_.join();
  }
  uint16_t port() const { return server ? server->port() : 0; }
  // The server's counters, read on its thread.
  ctn::quic_server::Stats stats() {
    std::promise<ctn::quic_server::Stats> p;
    asio::post(io, [&] { p.set_value(server->stats()); });
    return p.get_future().get();
  }

  asio::io_context io;
  std::shared_ptr<ctn::quic_server::Server> server;

 private:
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io);
  std::thread thread_;
};

}  // namespace ctn_test
