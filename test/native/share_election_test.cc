// Tests for share::Election alone: who hosts a port, decided by binding its socket under the lock.
// Each election has its own HubContext, as each process would; the listener records the outcome.
// One io_context per election, run on the test's thread; every test has its own socket directory.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "engine_harness.h"
#include "share/election.h"
#include "share/hub_context.h"
#include "share_harness.h"

namespace {

using namespace ctn;
using namespace ctn_test;
using namespace std::chrono_literals;
using share::Election;
using share::HubContext;

// What the election concluded, and what the listener does when it finds a live host.
class Outcome : public Election::Listener {
 public:
  void elected(share::LocalAcceptor acceptor, ino_t inode) override {
    ++decisions;
    hosted.emplace(std::move(acceptor));
    this->inode = inode;
  }
  void host_found() override {
    ++decisions;
    ++found;
    if (on_found) on_found();
  }
  void election_failed(ErrorCode code, const std::string& why) override {
    ++decisions;
    failed = code;
    failed_why = why;
  }

  int decisions = 0;
  int found = 0;
  std::optional<share::LocalAcceptor> hosted;
  ino_t inode = 0;
  std::optional<ErrorCode> failed;
  std::string failed_why;
  std::function<void()> on_found;
};

// One process's side of an election: its own context (io_context, counters) and listener.
struct Candidate {
  explicit Candidate(const std::string& dir, uint64_t handover_timeout_ms = 5000)
      : hub(options(handover_timeout_ms), sink), election(hub, outcome) {
    election.locate(dir);
  }
  static share::HubOptions options(uint64_t handover_timeout_ms) {
    share::HubOptions o;
    o.port = 9119;
    o.handover_timeout_ms = handover_timeout_ms;
    return o;
  }
  Sink sink;
  HubContext hub;
  Outcome outcome;
  Election election;
};

class ElectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ctn-election-test-XXXXXX";
    const char* dir = ::mkdtemp(tmpl);  // mode 0700
    ASSERT_NE(dir, nullptr);
    dir_ = dir;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  // A host holds the port, and candidate `c` begins an election: it finds that host live.
  void begin_beside_a_host(Candidate& c) {
    host_ = std::make_unique<Candidate>(dir_);
    host_->election.begin();
    ASSERT_TRUE(host_->outcome.hosted);
    c.election.begin();
    ASSERT_EQ(c.outcome.found, 1);
  }
  std::string dir_;
  std::unique_ptr<Candidate> host_;
};

TEST_F(ElectionTest, TheFirstCandidateHostsAndTheNextFindsItLive) {
  Candidate first(dir_);
  first.election.begin();
  ASSERT_TRUE(first.outcome.hosted) << first.outcome.failed_why;
  EXPECT_FALSE(first.election.running());  // decided at once
  EXPECT_TRUE(std::filesystem::is_socket(first.election.socket_path()));
  EXPECT_EQ(first.election.socket_path(), share::socket_path(dir_, 9119));
  EXPECT_EQ(first.election.lock_path(), dir_ + "/9119.lock");
  EXPECT_EQ(first.hub.counters.elections.load(), 1u);

  Candidate second(dir_);
  second.election.begin();
  EXPECT_EQ(second.outcome.found, 1);
  EXPECT_FALSE(second.outcome.hosted);
  // Finding a host does not end the election: the link's handshake does (conclude()).
  EXPECT_TRUE(second.election.running());
  second.election.begin();  // one election at a time
  EXPECT_EQ(second.outcome.decisions, 1);
  second.election.conclude();
  EXPECT_FALSE(second.election.running());
}

TEST_F(ElectionTest, AnUnsafeDirectoryFailsWithShareSecretAndTheReason) {
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  Candidate c(dir_);
  c.election.begin();
  ASSERT_TRUE(c.outcome.failed);
  EXPECT_EQ(*c.outcome.failed, ErrorCode::kShareSecret);
  EXPECT_NE(c.outcome.failed_why.find("mode 0755"), std::string::npos) << c.outcome.failed_why;
  EXPECT_FALSE(c.election.running());
}

TEST_F(ElectionTest, RetriesBackOffUntilTheHandoverDeadlineThenFailWithHostGone) {
  // A host that never answers: every attempt finds it live, and the listener asks to try again.
  Candidate c(dir_, 60);
  c.outcome.on_found = [&] { c.election.retry("it would not answer"); };
  begin_beside_a_host(c);
  ASSERT_TRUE(run_io_until(c.hub.io, [&] { return c.outcome.failed.has_value(); }));
  EXPECT_EQ(*c.outcome.failed, ErrorCode::kHostGone);
  EXPECT_NE(c.outcome.failed_why.find("within 60 ms (it would not answer)"), std::string::npos)
      << c.outcome.failed_why;
  EXPECT_GT(c.outcome.found, 1);  // tried more than once before giving up
  EXPECT_FALSE(c.election.running());
}

TEST_F(ElectionTest, ThreeSilentClosesAreForgivenPerElection) {
  Candidate c(dir_);
  begin_beside_a_host(c);
  EXPECT_TRUE(c.election.forgive_silent_close());
  EXPECT_TRUE(c.election.forgive_silent_close());
  EXPECT_TRUE(c.election.forgive_silent_close());
  EXPECT_FALSE(c.election.forgive_silent_close());
  c.election.conclude();
  c.election.begin();  // a new election starts counting again
  EXPECT_TRUE(c.election.forgive_silent_close());
}

TEST_F(ElectionTest, StoppedForGoodItNeverBeginsAgainAndAPendingRetryNeverRuns) {
  Candidate c(dir_);
  begin_beside_a_host(c);
  c.election.retry("later");
  c.election.stop(false);  // a graceful stop: no more attempts now, a later election may still run
  c.hub.io.run_for(150ms);
  EXPECT_EQ(c.outcome.found, 1);
  c.election.stop(true);
  c.election.begin();
  EXPECT_FALSE(c.election.running());
  EXPECT_EQ(c.outcome.found, 1);
  EXPECT_EQ(c.hub.counters.elections.load(), 1u);
}

}  // namespace
