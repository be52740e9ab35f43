// Client WebSocket frames (RFC 6455 §5.3) masked while they are copied for the engine: JS memory
// never crosses threads, so the copy happens anyway, and XORing during it spares JavaScript two
// passes over large messages. Node-free.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ctn::binding {

// `header` then `payload` XORed with the mask key (the header's last 4 bytes). Nothing when the
// header is shorter than the smallest masked frame header (6 bytes).
std::optional<std::string> masked_frame(std::string_view header, std::string_view payload);

}  // namespace ctn::binding
