#include "share/hub_context.h"

namespace ctn::share {

namespace {
constexpr auto kWarningInterval = std::chrono::seconds(5);
}  // namespace

Event error_event(uint64_t id, ErrorCode code, Stage stage, std::string message) {
  Event e;
  e.kind = Event::Kind::kError;
  e.id = id;
  e.error = Error{code, stage, std::move(message)};
  return e;
}

Event notice_event(std::string notice, Error error) {
  Event e;
  e.kind = Event::Kind::kNotice;
  e.notice = std::move(notice);
  e.error = std::move(error);
  return e;
}

void HubContext::warn(const std::string& message) {
  std::string text = message;
  {
    std::lock_guard<std::mutex> lock(warn_mu_);
    const auto now = Clock::now();
    if (now - last_warning_ < kWarningInterval) {
      ++suppressed_warnings_;
      return;
    }
    if (suppressed_warnings_ > 0) {
      text += " (and " + std::to_string(suppressed_warnings_) + " similar since the last warning)";
    }
    suppressed_warnings_ = 0;
    last_warning_ = now;
  }
  sink.deliver(notice_event("warning", Error{ErrorCode::kProtocol, Stage::kLink, text}));
}

}  // namespace ctn::share
