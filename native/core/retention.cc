#include "retention.h"

#include <cassert>
#include <cstdint>

#include "log.h"

namespace commitlog {

size_t DecideRetention(const std::vector<SegmentView>& segs, const RetentionPolicy& policy,
                       uint64_t hold_seq, uint64_t now_ms) {
  assert(policy.max_bytes > 0 || policy.max_age_ms > 0);
  uint64_t total = 0;
  for (const SegmentView& s : segs) total += s.bytes;
  // A clock set before the epoch, or a bound longer than the clock reads:
  // nothing is that old.
  bool by_age = policy.max_age_ms > 0 && now_ms > policy.max_age_ms;
  uint64_t cutoff_ms = by_age ? now_ms - policy.max_age_ms : 0;
  size_t n = 0;
  // n + 1 < size: the last segment is the one being written.
  while (n + 1 < segs.size()) {
    assert(segs[n].base_seq < segs[n + 1].base_seq);
    // Segment n may hold every number below its successor's base.
    if (segs[n + 1].base_seq > hold_seq) break;
    bool too_big = policy.max_bytes > 0 && total > policy.max_bytes;
    bool too_old = by_age && segs[n].newest_ms < cutoff_ms;
    if (!too_big && !too_old) break;
    total -= segs[n].bytes;
    n++;
  }
  assert(n < segs.size() || segs.empty());
  return n;
}

Status Log::ApplyRetention(const RetentionPolicy& policy, uint64_t hold_seq, uint64_t now_ms,
                           RetentionResult* out) {
  *out = RetentionResult();
  // One pass or truncateBefore at a time: the decision is made on the list
  // the deletion then works on.
  std::lock_guard<std::mutex> serialize(truncate_mu_);
  std::vector<SegmentMeta> segs = segments_.List();
  out->first_seq = segs.empty() ? durable_seq() : segs.front().base_seq;
  std::vector<SegmentView> view;
  for (size_t i = 0; i < segs.size(); i++) {
    const SegmentMeta& m = segs[i];
    SegmentView v{m.base_seq, m.size_bytes, m.newest_ms};
    if (v.newest_ms == 0 && policy.max_age_ms > 0 && i + 1 < segs.size()) {
      // Version 1 batches carry no timestamp: the file's last change stands
      // in for its newest batch (README, "Retention").
      FileInfo info;
      Status s = io_->Stat(m.path, &info);
      if (!s.ok()) return s.WithStep("stat segment");
      v.newest_ms = info.mtime_ms;
    }
    view.push_back(v);
  }
  size_t n = DecideRetention(view, policy, hold_seq, now_ms);
  if (n == 0) return Status::OK();
  uint64_t new_first = view[n].base_seq;
  uint32_t unlinked = 0;
  Status s = DeleteSegmentsBefore(new_first, &unlinked);
  // They left the log once the checkpoint recorded new_first (before any
  // unlink); an error after that leaves files the next open removes.
  if (segments_.first_seq(0) == new_first) {
    out->segments_deleted = static_cast<uint32_t>(n);
    for (size_t i = 0; i < n; i++) out->bytes_deleted += view[i].bytes;
    out->records_deleted = new_first - out->first_seq;
    out->first_seq = new_first;
  }
  return s;
}

}  // namespace commitlog
