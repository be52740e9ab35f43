// The queue of events waiting for their crossing to JS: a head takes in its first body and its end
// when they follow it (in one batch, one event), and every request's own order stays as it came.
#include "core/event_queue.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ctn {
namespace {

Event head(uint64_t id, int status = 200) {
  Event e;
  e.kind = Event::Kind::kHead;
  e.id = id;
  e.head.status = status;
  e.head.headers.push_back(Header{"content-type", "text/plain"});
  return e;
}

Event body(uint64_t id, std::string bytes) {
  Event e;
  e.kind = Event::Kind::kBody;
  e.id = id;
  e.body = std::move(bytes);
  return e;
}

Event end(uint64_t id) {
  Event e;
  e.kind = Event::Kind::kEnd;
  e.id = id;
  return e;
}

Event error(uint64_t id) {
  Event e;
  e.kind = Event::Kind::kError;
  e.id = id;
  e.error = Error{ErrorCode::kTimeout, Stage::kBody, "late"};
  return e;
}

Event sent(uint64_t id, uint64_t bytes) {
  Event e;
  e.kind = Event::Kind::kSent;
  e.id = id;
  e.sent = bytes;
  return e;
}

// Each event as "<kind><id>[:body][!]" ('!': ended), to compare whole batches at a glance.
std::string spell(const std::vector<Event>& events) {
  std::string out;
  for (const Event& e : events) {
    if (!out.empty()) out += ' ';
    const char* kinds = "HBEXNS";
    out += kinds[static_cast<int>(e.kind)];
    out += std::to_string(e.id);
    if (!e.body.empty()) out += ":" + e.body;
    if (e.ended) out += '!';
  }
  return out;
}

TEST(EventQueue, BufferedResponseCrossesAsOneHeadWithItsBodyAndEnd) {
  EventQueue q;
  q.push(head(1));
  q.push(body(1, "hello"));
  q.push(end(1));
  std::vector<Event> batch = q.take();
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].kind, Event::Kind::kHead);
  EXPECT_EQ(batch[0].head.status, 200);
  ASSERT_EQ(batch[0].head.headers.size(), 1u);
  EXPECT_EQ(batch[0].head.headers[0].value, "text/plain");
  EXPECT_EQ(batch[0].body, "hello");
  EXPECT_TRUE(batch[0].ended);
  EXPECT_TRUE(q.empty());
}

TEST(EventQueue, EmptyBodyResponseIsAHeadThatEnded) {
  EventQueue q;
  q.push(head(4, 204));
  q.push(end(4));
  EXPECT_EQ(spell(q.take()), "H4!");
}

TEST(EventQueue, InterleavedRequestsEachMergeIntoTheirOwnHead) {
  // HTTP/2: several heads in one read, their bodies and ends when the streams close.
  EventQueue q;
  q.push(head(1));
  q.push(head(2));
  q.push(head(3));
  q.push(body(2, "b"));
  q.push(end(2));
  q.push(body(1, "a"));
  q.push(end(1));
  q.push(end(3));
  EXPECT_EQ(spell(q.take()), "H1:a! H2:b! H3!");
}

TEST(EventQueue, StreamedBurstsAfterTheFirstStayEventsOfTheirOwn) {
  EventQueue q;
  q.push(head(7));
  q.push(body(7, "one"));
  q.push(body(7, "two"));
  q.push(body(7, "three"));
  q.push(end(7));
  EXPECT_EQ(spell(q.take()), "H7:one B7:two B7:three E7");
}

TEST(EventQueue, AnythingElseOfTheRequestClosesItsHead) {
  EventQueue q;
  q.push(head(1));
  q.push(sent(1, 10));  // upload progress after the head: the body may not jump ahead of it
  q.push(body(1, "x"));
  q.push(end(1));
  q.push(head(2));
  q.push(error(2));
  EXPECT_EQ(spell(q.take()), "H1 S1 B1:x E1 H2 X2");
}

TEST(EventQueue, NothingJoinsAHeadOfAnEarlierCrossing) {
  EventQueue q;
  q.push(head(1));
  EXPECT_EQ(spell(q.take()), "H1");
  q.push(body(1, "late"));
  q.push(end(1));
  EXPECT_EQ(spell(q.take()), "B1:late E1");
}

TEST(EventQueue, HeadsPastTheBoundCrossUnmergedAndInOrder) {
  EventQueue q;
  const uint64_t n = EventQueue::kOpenHeadsMax + 3;
  for (uint64_t id = 1; id <= n; ++id) q.push(head(id));
  for (uint64_t id = 1; id <= n; ++id) q.push(end(id));
  std::vector<Event> batch = q.take();
  ASSERT_EQ(batch.size(), n + 3);  // the last three heads found no room: their ends follow them
  for (uint64_t id = 1; id <= EventQueue::kOpenHeadsMax; ++id) EXPECT_TRUE(batch[id - 1].ended) << id;
  for (uint64_t i = 0; i < 3; ++i) {
    const Event& h = batch[EventQueue::kOpenHeadsMax + i];
    EXPECT_EQ(h.kind, Event::Kind::kHead);
    EXPECT_FALSE(h.ended);
    EXPECT_EQ(batch[n + i].kind, Event::Kind::kEnd);
    EXPECT_EQ(batch[n + i].id, h.id);
  }
}

}  // namespace
}  // namespace ctn
