// Tests of the request schema (native/core/request_fields.h) and of the link's REQUEST, which is
// encoded and decoded by it: every field set, round trip, and the bounds a hostile peer meets.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/request_fields.h"
#include "share/messages.h"

namespace {

using namespace ctn;

// Every field given a value other than its default, distinct per field.
RequestSpec every_field_set() {
  RequestSpec s;
  uint64_t n = 0;
  visit_request_fields(s, [&](const RequestField& field, auto& member) {
    using T = std::remove_cvref_t<decltype(member)>;
    ++n;
    if constexpr (std::is_same_v<T, bool>) {
      member = !member;
    } else if constexpr (std::is_same_v<T, uint16_t>) {
      member = static_cast<uint16_t>(8000 + n);
    } else if constexpr (std::is_same_v<T, uint64_t>) {
      member = std::min<uint64_t>(field.max, 1000 + n);
    } else if constexpr (std::is_same_v<T, HeaderList>) {
      member = {{"X-First", "1"}, {"x-empty", ""}, {"X-Last", std::string(300, 'v')}};
    } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      member = {"first of " + std::string(field.name), "", "::1"};
    } else if (field.kind == FieldKind::kHex) {
      member = std::string("\x00\xfe\x0d bytes", 9);  // raw bytes, NUL included
    } else {
      member = field.kind == FieldKind::kBody ? "" : "value of " + std::string(field.name);
    }
  });
  return s;
}

// Each field's value as text, by name: what two specs are compared by.
std::vector<std::pair<std::string, std::string>> describe(const RequestSpec& s, bool link_only) {
  std::vector<std::pair<std::string, std::string>> out;
  visit_request_fields(s, [&](const RequestField& field, const auto& member) {
    using T = std::remove_cvref_t<decltype(member)>;
    if (link_only && !field.on_link) return;
    std::string text;
    if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, uint16_t> || std::is_same_v<T, uint64_t>) {
      text = std::to_string(member);
    } else if constexpr (std::is_same_v<T, HeaderList>) {
      for (const auto& h : member) text += h.name + ": " + h.value + "\n";
    } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      for (const auto& one : member) text += one + "\n";
    } else {
      text = member;
    }
    out.emplace_back(std::string(field.name), text);
  });
  return out;
}

TEST(RequestFields, NamesAreUniqueAndKindsMatchTheirMembers) {
  std::set<std::string> names;
  RequestSpec s;
  visit_request_fields(s, [&](const RequestField& field, auto& member) {
    using T = std::remove_cvref_t<decltype(member)>;
    EXPECT_TRUE(names.insert(std::string(field.name)).second) << field.name;
    switch (field.kind) {
      case FieldKind::kString:
      case FieldKind::kHex:
      case FieldKind::kBody:
        EXPECT_TRUE((std::is_same_v<T, std::string>)) << field.name;
        break;
      case FieldKind::kBool:
        EXPECT_TRUE((std::is_same_v<T, bool>)) << field.name;
        break;
      case FieldKind::kPort:
        EXPECT_TRUE((std::is_same_v<T, uint16_t>)) << field.name;
        break;
      case FieldKind::kCount:
        EXPECT_TRUE((std::is_same_v<T, uint64_t>)) << field.name;
        break;
      case FieldKind::kHeaders:
        EXPECT_TRUE((std::is_same_v<T, HeaderList>)) << field.name;
        break;
      case FieldKind::kStrings:
        EXPECT_TRUE((std::is_same_v<T, std::vector<std::string>>)) << field.name;
        break;
    }
    EXPECT_NE(field_kind_name(field.kind), "unknown");
  });
  // The fields lib/ must send for a request to be taken at all.
  for (const char* name : {"method", "host", "port", "target"}) EXPECT_EQ(names.count(name), 1u) << name;
}

TEST(RequestFields, EveryLinkFieldRoundTripsOverTheLink) {
  RequestSpec s = every_field_set();
  ASSERT_TRUE(s.body_stream && s.upgrade);  // so the body travels as a stream: no size
  RequestSpec d;
  uint64_t body_size = 99;
  std::string why;
  ASSERT_TRUE(mux::decode_request(mux::encode_request(s), &d, &body_size, &why)) << why;
  EXPECT_EQ(body_size, 0u);
  EXPECT_EQ(describe(d, true), describe(s, true));
  // Fields that do not travel keep their defaults on the other side.
  const RequestSpec defaults;
  EXPECT_EQ(d.consumer_credit, defaults.consumer_credit);
  EXPECT_EQ(d.retry_on_host_gone, defaults.retry_on_host_gone);
}

TEST(RequestFields, TheBodyTravelsAsItsSize) {
  RequestSpec s = every_field_set();
  s.body_stream = s.upgrade = false;
  s.body = std::string(12345, 'b');
  RequestSpec d;
  uint64_t body_size = 0;
  std::string why;
  ASSERT_TRUE(mux::decode_request(mux::encode_request(s), &d, &body_size, &why)) << why;
  EXPECT_EQ(body_size, 12345u);
  EXPECT_TRUE(d.body.empty());
  s.body.clear();
  EXPECT_EQ(describe(d, true), describe(s, true));
}

// A deadline beyond the bound would overflow the engine's clock arithmetic: a peer that sends one
// loses its link (decode fails), whichever deadline it is. (Before the schema, any u64 passed.)
TEST(RequestFields, TheLinkRefusesACountBeyondItsBound) {
  const RequestSpec defaults;
  size_t bounded = 0;
  visit_request_fields(defaults, [&](const RequestField& field, const auto& member) {
    using T = std::remove_cvref_t<decltype(member)>;
    if constexpr (std::is_same_v<T, uint64_t>) {
      ++bounded;
      for (const uint64_t value : {field.max, field.max + 1, ~uint64_t{0}}) {
        RequestSpec s = every_field_set();
        // The same field of `s`, found by name (the visitor hands out members, not offsets).
        visit_request_fields(s, [&](const RequestField& f, auto& m) {
          if constexpr (std::is_same_v<std::remove_cvref_t<decltype(m)>, uint64_t>) {
            if (f.name == field.name) m = value;
          }
        });
        RequestSpec d;
        uint64_t body_size = 0;
        std::string why;
        const bool ok = mux::decode_request(mux::encode_request(s), &d, &body_size, &why);
        EXPECT_EQ(ok, value <= field.max) << field.name << " = " << value;
        if (!ok) {
          EXPECT_NE(why.find(std::string(field.name)), std::string::npos) << why;
        }
      }
    }
  });
  EXPECT_GE(bounded, 5u);
  EXPECT_EQ(kMaxTimeoutMs, uint64_t{365} * 24 * 3600 * 1000);
}

}  // namespace
