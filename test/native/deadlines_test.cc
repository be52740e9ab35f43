// The exchange deadlines alone, on an io_context of the test's own (no engine, no sockets): which
// phase each stage runs under, the codes and messages a passed deadline gives, one deadline for
// DNS, connect and proxy together, no phase deadline while writing, a paused exchange waiting
// again, and nothing reported for a settled or cancelled exchange.
#include "core/deadlines.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ctn {
namespace {

struct RecordingListener : DeadlineListener {
  std::vector<Error> errors;
  void deadline_passed(const std::shared_ptr<Exchange>& ex, Error error) override {
    ex->done = true;  // as the engine's exchange_failed settles it
    errors.push_back(std::move(error));
  }
};

class DeadlinesTest : public ::testing::Test {
 protected:
  std::shared_ptr<Exchange> exchange() { return std::make_shared<Exchange>(io); }
  // Runs until a deadline was reported (bounded), or until nothing is left to run.
  void run_until_reported() {
    io.restart();
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (listener.errors.empty() && std::chrono::steady_clock::now() < give_up) {
      if (io.run_one_for(std::chrono::milliseconds(50)) == 0 && io.stopped()) break;
    }
  }

  asio::io_context io;
  RecordingListener listener;
  Deadlines deadlines{listener};
};

TEST_F(DeadlinesTest, TheConnectPhaseCoversDnsConnectAndProxyAsOneDeadline) {
  auto ex = exchange();
  ex->spec.connect_timeout_ms = 1;
  deadlines.enter_stage(ex, Stage::kDns);
  EXPECT_EQ(ex->phase, Phase::kConnect);
  deadlines.enter_stage(ex, Stage::kConnect);
  deadlines.enter_stage(ex, Stage::kProxy);
  EXPECT_EQ(ex->stage, Stage::kProxy);
  run_until_reported();
  ASSERT_EQ(listener.errors.size(), 1u);
  EXPECT_EQ(listener.errors[0].code, ErrorCode::kConnectTimeout);
  EXPECT_EQ(listener.errors[0].stage, Stage::kProxy);
  EXPECT_EQ(listener.errors[0].message, "connect timeout of 1 ms exceeded");
}

TEST_F(DeadlinesTest, TlsHeadersAndBodyIdleAreTimeouts) {
  struct Case {
    Stage stage;
    uint64_t RequestSpec::*field;
    Phase phase;
    const char* message;
  };
  const Case cases[] = {
      {Stage::kTls, &RequestSpec::tls_timeout_ms, Phase::kTls, "TLS handshake timeout of 1 ms exceeded"},
      {Stage::kHeaders, &RequestSpec::headers_timeout_ms, Phase::kHeaders,
       "headers timeout of 1 ms exceeded"},
      {Stage::kBody, &RequestSpec::body_idle_timeout_ms, Phase::kBody, "body idle timeout of 1 ms exceeded"},
  };
  for (const Case& c : cases) {
    listener.errors.clear();
    auto ex = exchange();
    ex->spec.*c.field = 1;
    deadlines.enter_stage(ex, c.stage);
    EXPECT_EQ(ex->phase, c.phase);
    run_until_reported();
    ASSERT_EQ(listener.errors.size(), 1u) << c.message;
    EXPECT_EQ(listener.errors[0].code, ErrorCode::kTimeout);
    EXPECT_EQ(listener.errors[0].stage, c.stage);
    EXPECT_EQ(listener.errors[0].message, c.message);
  }
}

TEST_F(DeadlinesTest, WritingTheRequestRunsNoPhaseDeadline) {
  auto ex = exchange();
  ex->spec.connect_timeout_ms = 1;
  deadlines.enter_stage(ex, Stage::kConnect);
  deadlines.enter_stage(ex, Stage::kWrite);
  EXPECT_EQ(ex->phase, Phase::kNone);
  io.run();  // the cancelled timer's handler, and nothing else
  EXPECT_TRUE(listener.errors.empty());
}

TEST_F(DeadlinesTest, TheWholeExchangeTimeoutNamesItsStage) {
  // While connecting it is a connect timeout; later a plain timeout.
  const std::pair<Stage, ErrorCode> cases[] = {{Stage::kDns, ErrorCode::kConnectTimeout},
                                               {Stage::kBody, ErrorCode::kTimeout}};
  for (const auto& [stage, code] : cases) {
    listener.errors.clear();
    auto ex = exchange();
    ex->spec.timeout_ms = 1;
    ex->stage = stage;
    deadlines.start_total(ex);
    run_until_reported();
    ASSERT_EQ(listener.errors.size(), 1u);
    EXPECT_EQ(listener.errors[0].code, code);
    EXPECT_EQ(listener.errors[0].stage, stage);
    EXPECT_EQ(listener.errors[0].message, "timed out after 1 ms (" + std::string(stage_name(stage)) + ")");
  }
}

TEST_F(DeadlinesTest, APausedExchangeWaitsAnotherPeriodUntilItResumes) {
  auto ex = exchange();
  ex->spec.headers_timeout_ms = 1;
  ex->paused = true;
  deadlines.enter_stage(ex, Stage::kHeaders);
  // Several periods pass while paused: the deadline is armed again each time.
  for (int i = 0; i < 5; ++i) io.run_one();
  EXPECT_TRUE(listener.errors.empty());
  EXPECT_EQ(ex->phase, Phase::kHeaders);
  ex->paused = false;
  run_until_reported();
  ASSERT_EQ(listener.errors.size(), 1u);
  EXPECT_EQ(listener.errors[0].code, ErrorCode::kTimeout);
}

TEST_F(DeadlinesTest, NothingIsReportedForACancelledOrSettledExchange) {
  auto cancelled = exchange();
  cancelled->spec.timeout_ms = 1;
  cancelled->spec.connect_timeout_ms = 1;
  deadlines.start_total(cancelled);
  deadlines.enter_stage(cancelled, Stage::kConnect);
  Deadlines::cancel(*cancelled);
  EXPECT_EQ(cancelled->phase, Phase::kNone);

  auto settled = exchange();
  settled->spec.timeout_ms = 1;
  settled->spec.headers_timeout_ms = 1;
  deadlines.start_total(settled);
  deadlines.enter_stage(settled, Stage::kHeaders);
  settled->done = true;

  io.run();  // every timer fires or is cancelled; none reports
  EXPECT_TRUE(listener.errors.empty());
}

}  // namespace
}  // namespace ctn
