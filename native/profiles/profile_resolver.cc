#include "profiles/profile_resolver.h"

namespace ctn {

bool ProfileResolver::resolve(const std::string& profile_id, const FingerprintInputs& fp,
                              std::shared_ptr<const Profile>* custom, std::string* why) {
  const Profile* base = find_profile(profile_id);
  if (!base) {
    *why = "unknown profile '" + profile_id + "'";
    return false;
  }
  if (fp.ja3.empty() && fp.ja4r.empty() && fp.http2_fingerprint.empty() && !fp.disable_grease &&
      fp.quic_fingerprint.empty()) {
    auto checked = checked_presets_.find(base->id);
    if (checked == checked_presets_.end()) {
      std::string reason;
      const bool ok = check_tls_(base->tls, &reason);
      checked = checked_presets_.emplace(base->id, ok ? "" : base->id + ": " + reason).first;
    }
    *why = checked->second;
    return why->empty();
  }
  const std::string key = base->id + "\n" + fp.ja3 + "\n" + fp.ja4r + "\n" + fp.http2_fingerprint +
                          (fp.disable_grease ? "\n1" : "\n0") + "\n" + fp.quic_fingerprint;
  auto it = composed_.find(key);
  if (it == composed_.end()) {
    auto profile = std::make_shared<Profile>();
    if (!compose_profile(*base, fp, profile.get(), why)) return false;
    if (!check_tls_(profile->tls, why)) return false;
    if (composed_.size() >= kMaxComposed) composed_.clear();  // bounds memory, not correctness
    it = composed_.emplace(key, std::move(profile)).first;
  }
  *custom = it->second;
  return true;
}

}  // namespace ctn
