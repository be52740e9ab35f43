// What becomes of this process's requests while no host serves them. They wait here, in the order
// they came and each at most handover_timeout_ms, for the next host (elected or found), together
// with the pieces of a streamed body written meanwhile; and may_run_again() says which of those in
// flight on a host that went away run again on the next one (the client link asks it).
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include <asio.hpp>

#include "core/request.h"
#include "share/hub_context.h"

namespace ctn::share {

// A request may run again on another host only when asked for (retry_on_host_gone), when running
// it twice is harmless (an idempotent method), and when nothing of it is gone for good (a streamed
// body or an upgraded pipe cannot be sent twice).
bool may_run_again(const RequestSpec& spec);

class Failover {
 public:
  explicit Failover(HubContext& hub);
  Failover(const Failover&) = delete;
  Failover& operator=(const Failover&) = delete;

  // `spec` waits for a host; it is settled with ERR_HOST_GONE if none comes in time.
  void wait(RequestSpec&& spec);
  bool any() const { return !waiting_.empty(); }
  // Everything waiting, in the order it came, for the host that is ready now. Bodies written for
  // them stay here until replay_upload().
  std::vector<RequestSpec> take_all();
  // A piece of the streamed body of request `id` while it waits: kept in order. False when `id`
  // does not wait here.
  bool hold_upload(uint64_t id, std::string&& piece, bool end);
  // Hands the pieces held for request `id` to `write(piece, end)`, in order, the end with the last
  // one (or alone when there were none), and forgets them.
  template <class Write>
  void replay_upload(uint64_t id, Write&& write);
  // Settles a waiting request as aborted. False when `id` does not wait here.
  bool cancel(uint64_t id);
  // Drops whatever is held for request `id`, without a word (the caller settles it).
  void forget(uint64_t id);
  // Settles everything waiting with `code` (the election failed, or the hub stops).
  void fail_all(ErrorCode code, const std::string& why);
  void stop() { deadline_timer_.cancel(); }

 private:
  struct Waiting {
    RequestSpec spec;
    Clock::time_point deadline;
  };
  // A streamed body written while its request still waits for a host.
  struct EarlyUpload {
    std::deque<std::string> pieces;
    bool ended = false;
  };

  void arm_deadline();
  void on_deadline(const asio::error_code& ec);

  HubContext& hub_;
  std::deque<Waiting> waiting_;
  std::unordered_map<uint64_t, EarlyUpload> early_uploads_;
  asio::steady_timer deadline_timer_;
};

template <class Write>
void Failover::replay_upload(uint64_t id, Write&& write) {
  auto early = early_uploads_.find(id);
  if (early == early_uploads_.end()) return;
  EarlyUpload upload = std::move(early->second);
  early_uploads_.erase(early);
  for (size_t i = 0; i < upload.pieces.size(); ++i) {
    write(std::move(upload.pieces[i]), upload.ended && i + 1 == upload.pieces.size());
  }
  if (upload.ended && upload.pieces.empty()) write(std::string(), true);
}

}  // namespace ctn::share
