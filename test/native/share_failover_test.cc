// Tests for share::Failover alone: the requests of a process waiting for a host (their deadline,
// the body pieces written meanwhile, cancelling one, failing them all) and the rule for which
// requests run again when their host goes away. One io_context on the test's thread; no sockets.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine_harness.h"
#include "share/failover.h"
#include "share/hub_context.h"
#include "share_harness.h"

namespace {

using namespace ctn;
using namespace ctn_test;
using namespace std::chrono_literals;
using share::Failover;
using share::HubContext;

share::HubOptions options(uint64_t handover_timeout_ms = 5000) {
  share::HubOptions o;
  o.port = 4242;
  o.handover_timeout_ms = handover_timeout_ms;
  return o;
}

RequestSpec request(uint64_t id, std::string method = "GET") {
  RequestSpec r;
  r.id = id;
  r.method = std::move(method);
  return r;
}

// A failover with its own hub context and recording sink; `handover_timeout_ms` for its deadline.
class FailoverTest : public ::testing::Test {
 protected:
  void make(uint64_t handover_timeout_ms = 5000) {
    failover_.reset();  // its timer belongs to the old context's io_context: gone first
    hub_ = std::make_unique<HubContext>(options(handover_timeout_ms), sink_);
    failover_ = std::make_unique<Failover>(*hub_);
  }
  void SetUp() override { make(); }
  template <class Done>
  bool run_until(Done&& done) {
    return run_io_until(hub_->io, std::forward<Done>(done));
  }

  Sink sink_;
  std::unique_ptr<HubContext> hub_;
  std::unique_ptr<Failover> failover_;
};

TEST_F(FailoverTest, WaitingRequestsSettleWithHostGoneAtTheirDeadlineInOrder) {
  make(30);
  failover_->wait(request(1));
  failover_->wait(request(2));
  EXPECT_TRUE(failover_->any());
  EXPECT_EQ(hub_->counters.pending.load(), 2u);
  ASSERT_TRUE(run_until([&] { return !failover_->any(); }));
  for (uint64_t id : {1, 2}) {
    auto rec = sink_.wait_terminal(id, 0ms);
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->code(), "ERR_HOST_GONE") << rec->describe();
    EXPECT_NE(rec->describe().find("no engine host became available on port 4242 within 30 ms"),
              std::string::npos)
        << rec->describe();
  }
  EXPECT_EQ(hub_->counters.host_gone.load(), 2u);
  EXPECT_EQ(hub_->counters.pending.load(), 0u);
}

TEST_F(FailoverTest, TakeAllHandsOverInArrivalOrderAndTheDeadlineNoLongerApplies) {
  make(30);
  for (uint64_t id : {3, 1, 2}) failover_->wait(request(id));
  std::vector<RequestSpec> all = failover_->take_all();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].id, 3u);
  EXPECT_EQ(all[1].id, 1u);
  EXPECT_EQ(all[2].id, 2u);
  EXPECT_FALSE(failover_->any());
  EXPECT_EQ(hub_->counters.pending.load(), 0u);
  hub_->io.run_for(80ms);
  EXPECT_FALSE(sink_.wait_terminal_total(1, 0ms));
}

TEST_F(FailoverTest, PiecesWrittenWhileWaitingReplayInOrderWithTheEndOnTheLast) {
  failover_->wait(request(7, "POST"));
  failover_->wait(request(8, "POST"));
  EXPECT_TRUE(failover_->hold_upload(7, "ab", false));
  EXPECT_TRUE(failover_->hold_upload(7, "", false));  // an empty piece keeps nothing
  EXPECT_TRUE(failover_->hold_upload(7, "cd", true));
  EXPECT_TRUE(failover_->hold_upload(7, "late", false));  // after the end: ignored
  EXPECT_TRUE(failover_->hold_upload(8, "", true));       // the end alone
  EXPECT_FALSE(failover_->hold_upload(9, "x", false));    // not waiting here
  failover_->take_all();

  std::vector<std::pair<std::string, bool>> seven, eight;
  failover_->replay_upload(7,
                           [&](std::string&& piece, bool end) { seven.emplace_back(std::move(piece), end); });
  failover_->replay_upload(8,
                           [&](std::string&& piece, bool end) { eight.emplace_back(std::move(piece), end); });
  EXPECT_EQ(seven, (std::vector<std::pair<std::string, bool>>{{"ab", false}, {"cd", true}}));
  EXPECT_EQ(eight, (std::vector<std::pair<std::string, bool>>{{"", true}}));
  // Replayed once: the pieces are gone.
  failover_->replay_upload(7, [&](std::string&&, bool) { ADD_FAILURE() << "replayed twice"; });
}

TEST_F(FailoverTest, CancelSettlesOnlyThatRequestAsAbortedAndDropsItsPieces) {
  failover_->wait(request(1));
  failover_->wait(request(2));
  failover_->hold_upload(1, "x", false);
  EXPECT_TRUE(failover_->cancel(1));
  EXPECT_FALSE(failover_->cancel(5));
  auto rec = sink_.wait_terminal(1, 0ms);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->code(), "ERR_ABORTED");
  EXPECT_EQ(hub_->counters.pending.load(), 1u);
  EXPECT_FALSE(failover_->hold_upload(1, "y", false));
  failover_->replay_upload(1, [&](std::string&&, bool) { ADD_FAILURE() << "a cancelled request's pieces"; });
  EXPECT_FALSE(sink_.wait_terminal(2, 0ms));
}

TEST_F(FailoverTest, FailAllSettlesEveryWaitingRequestWithTheCodeGiven) {
  failover_->wait(request(1));
  failover_->wait(request(2));
  failover_->fail_all(ErrorCode::kShareSecret, "unsafe directory");
  EXPECT_EQ(sink_.wait_terminal(1, 0ms)->code(), "ERR_SHARE_SECRET");
  EXPECT_EQ(sink_.wait_terminal(2, 0ms)->code(), "ERR_SHARE_SECRET");
  EXPECT_EQ(hub_->counters.host_gone.load(), 0u);  // counted only when the code is ERR_HOST_GONE
  failover_->wait(request(3));
  failover_->fail_all(ErrorCode::kHostGone, "gone");
  EXPECT_EQ(hub_->counters.host_gone.load(), 1u);
  EXPECT_FALSE(failover_->any());
}

TEST(Failover, OnlyIdempotentRequestsThatAskForItAndSentNothingForGoodRunAgain) {
  RequestSpec r = request(1, "GET");
  EXPECT_FALSE(share::may_run_again(r));  // not asked for
  r.retry_on_host_gone = true;
  EXPECT_TRUE(share::may_run_again(r));
  for (const char* method : {"HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"}) {
    r.method = method;
    EXPECT_TRUE(share::may_run_again(r)) << method;
  }
  r.method = "POST";
  EXPECT_FALSE(share::may_run_again(r));
  r.method = "PATCH";
  EXPECT_FALSE(share::may_run_again(r));
  r.method = "PUT";
  r.body_stream = true;  // what left is gone
  EXPECT_FALSE(share::may_run_again(r));
  r.body_stream = false;
  r.upgrade = true;
  EXPECT_FALSE(share::may_run_again(r));
}

}  // namespace
