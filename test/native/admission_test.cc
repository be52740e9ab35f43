// Admission alone (no engine, no pool, no sockets): each client's in-flight limit, the queue-full
// answers of a client's and of the engine's max_queued, round-robin between clients with retries
// first in their client's line, release out of the queue and out of flight, the queued gauge, and a
// closed client's limits going once nothing of it is left.
#include "core/admission.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <vector>

namespace ctn {
namespace {

class AdmissionTest : public ::testing::Test {
 protected:
  std::shared_ptr<Exchange> exchange(uint64_t client_id, uint64_t id) {
    auto ex = std::make_shared<Exchange>(io);
    ex->spec.client_id = client_id;
    ex->spec.id = id;
    return ex;
  }
  // Takes every waiting request (all eligible), in the order served.
  std::vector<uint64_t> take_all(Admission& a) {
    std::vector<uint64_t> ids;
    while (auto ex = a.take([](const std::shared_ptr<Exchange>&) { return true; }))
      ids.push_back(ex->spec.id);
    return ids;
  }

  asio::io_context io;
  EngineOptions options;
  std::atomic<uint64_t> queued{0};
};

TEST_F(AdmissionTest, AClientsInFlightLimitHoldsUntilARequestIsReleased) {
  options.max_in_flight_per_client = 2;
  Admission a(options, queued);
  auto first = exchange(1, 1), second = exchange(1, 2);
  EXPECT_TRUE(a.has_room(1));
  a.admit(*first);
  a.admit(*first);  // once only
  EXPECT_TRUE(a.has_room(1));
  a.admit(*second);
  EXPECT_FALSE(a.has_room(1));
  EXPECT_TRUE(a.has_room(2));  // another client has its own
  EXPECT_TRUE(a.release(*first));
  EXPECT_TRUE(a.has_room(1));
  EXPECT_FALSE(first->admitted);
  EXPECT_FALSE(a.release(*first));  // released already: no slot freed twice
}

TEST_F(AdmissionTest, QueueFullNamesTheLimitThatIsReached) {
  options.max_queued = 3;
  Admission a(options, queued);
  a.set_limits(7, ClientLimits{0, 1});
  EXPECT_FALSE(a.queue_full(7));
  a.enqueue(exchange(7, 1), false);
  EXPECT_EQ(a.queue_full(7), "this client's max_queued (1)");
  EXPECT_FALSE(a.queue_full(8));
  a.enqueue(exchange(8, 2), false);
  a.enqueue(exchange(8, 3), false);
  EXPECT_EQ(a.queue_full(8), "max_queued (3)");
  EXPECT_EQ(queued.load(), 3u);
}

TEST_F(AdmissionTest, ClientsAreServedInTurnAndRetriesFirstInTheirLine) {
  Admission a(options, queued);
  a.enqueue(exchange(1, 11), false);
  a.enqueue(exchange(1, 12), false);
  a.enqueue(exchange(2, 21), false);
  auto retry = exchange(1, 10);
  retry->stage = Stage::kHeaders;
  a.enqueue(retry, true);
  EXPECT_EQ(retry->stage, Stage::kQueue);
  EXPECT_TRUE(retry->queued.has_value());
  const std::vector<uint64_t> order = take_all(a);
  ASSERT_EQ(order.size(), 4u);
  EXPECT_EQ(order[0], 10u);  // the retry, before its client's newcomers
  EXPECT_EQ(order[1], 21u);  // then the other client
  EXPECT_EQ(order[2], 11u);
  EXPECT_EQ(order[3], 12u);
  EXPECT_TRUE(a.nobody_waiting());
  EXPECT_EQ(queued.load(), 0u);
}

TEST_F(AdmissionTest, ABlockedRequestDoesNotBlockItsClientsOthers) {
  Admission a(options, queued);
  a.enqueue(exchange(1, 1), false);
  a.enqueue(exchange(1, 2), false);
  auto ex = a.take([](const std::shared_ptr<Exchange>& e) { return e->spec.id != 1; });
  ASSERT_TRUE(ex);
  EXPECT_EQ(ex->spec.id, 2u);
  EXPECT_FALSE(ex->queued.has_value());
  EXPECT_EQ(queued.load(), 1u);
}

TEST_F(AdmissionTest, ReleasingAWaitingRequestTakesItOutOfTheQueue) {
  Admission a(options, queued);
  auto waiting = exchange(1, 1);
  a.enqueue(waiting, false);
  a.enqueue(exchange(1, 2), false);
  EXPECT_FALSE(a.release(*waiting));  // it was never on a connection
  EXPECT_FALSE(waiting->queued.has_value());
  EXPECT_EQ(take_all(a), std::vector<uint64_t>{2});
}

TEST_F(AdmissionTest, AClosedClientsLimitsGoOnceNothingOfItIsLeft) {
  Admission a(options, queued);
  a.set_limits(5, ClientLimits{1, 0});
  auto ex = exchange(5, 1);
  a.admit(*ex);
  EXPECT_FALSE(a.has_room(5));
  a.drop_limits(5);
  EXPECT_FALSE(a.has_room(5));  // its request is still in flight: the entry stays
  a.release(*ex);
  EXPECT_TRUE(a.has_room(5));  // forgotten: the engine's default (unlimited) applies again
}

}  // namespace
}  // namespace ctn
