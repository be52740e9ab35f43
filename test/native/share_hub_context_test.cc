// Tests for what the hub's parts share (share/hub_context.h): the batched hand-off to the hub's
// thread, the rate-limited warning, the containment of a throwing handler, and the two events the
// hub builds. No sockets, no threads but the test's.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "engine_harness.h"
#include "share/hub_context.h"

namespace {

using namespace ctn;
using namespace ctn_test;
using share::HubContext;

TEST(Handoff, ABurstCostsOneWakeUpAndArrivesWholeInOrder) {
  asio::io_context io;
  share::Handoff<int> handoff;
  int drains = 0;
  std::vector<int> seen;
  auto drain = [&] {
    ++drains;
    for (int v : handoff.take()) seen.push_back(v);
  };
  for (int v : {1, 2, 3}) handoff.push(int{v}, io, drain);
  io.run();
  EXPECT_EQ(drains, 1);
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3}));
  // Once drained, the next item schedules a drain of its own.
  io.restart();
  handoff.push(4, io, drain);
  io.run();
  EXPECT_EQ(drains, 2);
  EXPECT_EQ(seen.back(), 4);
}

TEST(HubContext, AWarningComesAtMostOncePerIntervalTheRestAreHeldBack) {
  Sink sink;
  HubContext hub(share::HubOptions{}, sink);
  hub.warn("first");
  hub.warn("second");
  hub.warn("third");
  const std::vector<std::string> notices = sink.notices();
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0], "warning: first");
}

TEST(HubContext, ContainedTurnsAnExceptionIntoAnInternalErrorText) {
  std::string why;
  share::contained([] { throw std::runtime_error("boom"); }, [&](const std::string& w) { why = w; });
  EXPECT_EQ(why, "internal error: boom");
  share::contained([] { throw 7; }, [&](const std::string& w) { why = w; });
  EXPECT_EQ(why, "internal error: unknown exception");
  bool failed = false;
  share::contained([] {}, [&](const std::string&) { failed = true; });
  EXPECT_FALSE(failed);
}

TEST(HubContext, ErrorAndNoticeEventsCarryWhatTheyAreGiven) {
  const Event e = share::error_event(9, ErrorCode::kHostGone, Stage::kLink, "gone");
  EXPECT_EQ(e.kind, Event::Kind::kError);
  EXPECT_EQ(e.id, 9u);
  EXPECT_EQ(e.error.code, ErrorCode::kHostGone);
  EXPECT_EQ(e.error.stage, Stage::kLink);
  EXPECT_EQ(e.error.message, "gone");
  const Event n = share::notice_event("host");
  EXPECT_EQ(n.kind, Event::Kind::kNotice);
  EXPECT_EQ(n.notice, "host");
}

}  // namespace
