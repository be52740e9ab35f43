// The engine tests' shared harness: a sink that records every event per request id and checks
// their grammar, bounded waits, a watchdog against hangs, and the test environment (the test CA,
// SIGPIPE ignored). Used by engine_test.cc (HTTP/1.1) and engine_http2_test.cc.
#pragma once

#include <gtest/gtest.h>

#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/error.h"
#include "core/engine.h"
#include "core/request.h"
#include "profiles/profile.h"
#include "test_server.h"
#include "tls/tls_context.h"

namespace ctn_test {

using namespace std::chrono_literals;
using ctn::ConnectionInfo;
using ctn::Error;
using ctn::error_code_name;
using ctn::ErrorCode;
using ctn::Event;
using ctn::EventSink;
using ctn::ResponseHead;
using ctn::stage_name;
using Kind = Event::Kind;

constexpr auto kWait = 10s;

// Before anything builds a verifying TLS context: trust the test CA only. SIGPIPE would kill the
// process when the test server writes to a connection the engine has closed.
inline const bool kEnvironmentReady = [] {
  ::setenv("SSL_CERT_FILE", (cert_dir() / "ca.pem").c_str(), 1);
  ::signal(SIGPIPE, SIG_IGN);
  return true;
}();

// The TLS tests exercise the engine, not fingerprints: they use the default preset when this build
// can put it on the wire (nullptr), else (stock BoringSSL without the patch series) a small stock
// profile.
inline std::shared_ptr<const ctn::Profile> test_tls_profile() {
  static const std::shared_ptr<const ctn::Profile> profile = []() -> std::shared_ptr<const ctn::Profile> {
    std::string why;
    if (ctn::check_tls_profile(ctn::default_profile().tls, &why)) return nullptr;
    auto p = std::make_shared<ctn::Profile>();
    p->id = "engine-test-stock";
    p->tls.cipher_suites = {0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030};
    p->tls.groups = {29, 23};
    p->tls.signature_algorithms = {0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501};
    p->tls.alpn = {"h2", "http/1.1"};
    if (!ctn::check_tls_profile(p->tls, &why)) ADD_FAILURE() << "test profile: " << why;
    return p;
  }();
  return profile;
}

// An HTTP/1.1 200 response with a Content-Length.
inline std::string response(std::string_view body, std::string_view extra_headers = "") {
  return "HTTP/1.1 200 OK\r\n" + std::string(extra_headers) +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

inline std::string kind_name(Kind k) {
  switch (k) {
    case Kind::kHead:
      return "head";
    case Kind::kBody:
      return "body";
    case Kind::kEnd:
      return "end";
    case Kind::kError:
      return "error";
    case Kind::kNotice:
      return "notice";
    case Kind::kSent:
      return "sent";
  }
  return "?";
}

// Everything the engine reported for one request id.
struct Record {
  std::vector<Kind> kinds;
  bool has_head = false;
  ResponseHead head;
  ConnectionInfo connection;
  std::string body;
  size_t body_events = 0;
  uint64_t sent = 0;  // kSent: streamed request body bytes reported gone
  bool ended = false;
  std::optional<Error> error;
  int terminals = 0;
  std::thread::id thread;  // thread of the last event
  std::vector<std::string> violations;

  bool ok() const { return ended && !error; }
  std::string code() const { return error ? std::string(error_code_name(error->code)) : ""; }
  ErrorCode error_code() const { return error ? error->code : ErrorCode::kInternal; }
  std::string stage() const { return error ? std::string(stage_name(error->stage)) : ""; }
  std::string describe() const {
    std::ostringstream s;
    s << "events [";
    for (size_t i = 0; i < kinds.size(); ++i) s << (i ? " " : "") << kind_name(kinds[i]);
    s << "]";
    if (has_head) s << " status " << head.status;
    s << " body " << body.size() << " bytes";
    if (error) s << " error " << code() << " (" << stage() << "): " << error->message;
    return s.str();
  }
};

// Collects events (delivered on the engine's io thread) for the test thread to wait on. Checks the
// per-id event grammar: head? body* (end | error), nothing after the terminal event.
class Sink : public EventSink {
 public:
  // Runs on the delivering thread before the event is recorded, outside the lock. Set it only
  // while no request is in flight.
  std::function<void(const Event&)> hook;

  void deliver(Event&& e) override {
    if (hook) hook(e);
    std::lock_guard<std::mutex> lock(mu_);
    if (e.kind == Kind::kNotice) {  // not about a request: the share hub's role changes
      notices_.push_back(e.notice + (e.error.message.empty() ? "" : ": " + e.error.message));
      cv_.notify_all();
      return;
    }
    Record& r = records_[e.id];
    if (r.terminals > 0) r.violations.push_back("event after the terminal event");
    if (e.kind == Kind::kSent) {  // beside the response's grammar: any time before the terminal
      if (e.sent == 0) r.violations.push_back("empty sent event");
      r.sent += e.sent;
      cv_.notify_all();
      return;
    }
    switch (e.kind) {
      case Kind::kHead:
        if (r.has_head) r.violations.push_back("second head");
        r.has_head = true;
        r.head = std::move(e.head);
        r.connection = std::move(e.connection);
        break;
      case Kind::kBody:
        if (!r.has_head) r.violations.push_back("body before head");
        if (e.body.empty()) r.violations.push_back("empty body event");
        r.body += e.body;
        ++r.body_events;
        break;
      case Kind::kEnd:
        if (!r.has_head) r.violations.push_back("end without head");
        r.ended = true;
        ++r.terminals;
        ++terminal_total_;
        break;
      case Kind::kError:
        r.error = std::move(e.error);
        ++r.terminals;
        ++terminal_total_;
        break;
      case Kind::kNotice:
      case Kind::kSent:
        break;
    }
    r.kinds.push_back(e.kind);
    r.thread = std::this_thread::get_id();
    cv_.notify_all();
  }

  std::optional<Record> wait_terminal(uint64_t id, std::chrono::milliseconds timeout = kWait) {
    std::unique_lock<std::mutex> lock(mu_);
    const bool done = cv_.wait_for(lock, timeout, [&] {
      auto it = records_.find(id);
      return it != records_.end() && it->second.terminals > 0;
    });
    if (!done) return std::nullopt;
    return records_[id];
  }

  // Waits until `pred(record of id)` holds; false on timeout.
  bool wait_record(uint64_t id, const std::function<bool(const Record&)>& pred,
                   std::chrono::milliseconds timeout = kWait) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      auto it = records_.find(id);
      return it != records_.end() && pred(it->second);
    });
  }
  bool wait_head(uint64_t id) {
    return wait_record(id, [](const Record& r) { return r.has_head || r.terminals > 0; });
  }
  bool wait_body_bytes(uint64_t id, size_t n) {
    return wait_record(id, [n](const Record& r) { return r.body.size() >= n || r.terminals > 0; });
  }
  bool wait_terminal_total(size_t n, std::chrono::milliseconds timeout = kWait) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return terminal_total_ >= n; });
  }

  // Waits for the n-th notice (1-based) and returns it; "" on timeout.
  std::string wait_notice(size_t n, std::chrono::milliseconds timeout = kWait) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return notices_.size() >= n; })) return "";
    return notices_[n - 1];
  }
  std::vector<std::string> notices() {
    std::lock_guard<std::mutex> lock(mu_);
    return notices_;
  }

  size_t event_count(uint64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = records_.find(id);
    return it == records_.end() ? 0 : it->second.kinds.size();
  }
  size_t body_size(uint64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = records_.find(id);
    return it == records_.end() ? 0 : it->second.body.size();
  }
  Record snapshot(uint64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = records_.find(id);
    return it == records_.end() ? Record{} : it->second;
  }

  // Every id: at most one terminal event and a well-formed sequence.
  void expect_consistent() {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, r] : records_) {
      EXPECT_LE(r.terminals, 1) << "request " << id << ": " << r.describe();
      for (const auto& v : r.violations)
        ADD_FAILURE() << "request " << id << ": " << v << "; " << r.describe();
    }
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, Record> records_;
  std::vector<std::string> notices_;
  size_t terminal_total_ = 0;
};

// Aborts the process when a test runs for longer than `limit` (a hang must not stall CI).
class Watchdog {
 public:
  void arm(std::chrono::seconds limit) {
    armed_ = true;
    thread_ = std::thread([this, limit] {
      std::unique_lock<std::mutex> lock(mu_);
      if (!cv_.wait_for(lock, limit, [this] { return !armed_; })) {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        fprintf(stderr, "\nWATCHDOG: %s.%s still running after %lld s; aborting\n",
                info ? info->test_suite_name() : "?", info ? info->name() : "?",
                static_cast<long long>(limit.count()));
        std::abort();
      }
    });
  }
  void disarm() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      armed_ = false;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false;
  std::thread thread_;
};

// A request to a loopback server, with the TLS tests' profile (test_tls_profile()).
inline ctn::RequestSpec loopback_request(uint64_t id, bool tls, std::string host, uint16_t port,
                                         std::string method = "GET", std::string target = "/") {
  ctn::RequestSpec r;
  r.id = id;
  r.method = std::move(method);
  r.tls = tls;
  r.host = std::move(host);
  r.port = port;
  r.target = std::move(target);
  r.custom_profile = test_tls_profile();
  return r;
}

// The engine tests' fixture: a watchdog against hangs, a sink that checks the event grammar on
// teardown, and an engine with default options.
class EngineFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    watchdog_.arm(std::chrono::seconds(60));
    engine_ = std::make_unique<ctn::Engine>(ctn::EngineOptions{}, sink_);
  }
  void TearDown() override {
    engine_.reset();  // destructor path: shuts down and joins
    sink_.hook = nullptr;
    sink_.expect_consistent();
    watchdog_.disarm();
  }
  uint64_t submit(ctn::RequestSpec s) {
    const uint64_t id = s.id;
    engine_->submit(std::move(s));
    return id;
  }

  Watchdog watchdog_;
  Sink sink_;
  std::unique_ptr<ctn::Engine> engine_;
  uint64_t next_id_ = 1;
};

#define AWAIT(var, id)                                                                              \
  auto var##_opt_ = sink_.wait_terminal(id);                                                        \
  ASSERT_TRUE(var##_opt_.has_value()) << "no terminal event for request " << (id)                   \
                                      << " within 10 s; so far: " << sink_.snapshot(id).describe(); \
  const Record& var = *var##_opt_

}  // namespace ctn_test
