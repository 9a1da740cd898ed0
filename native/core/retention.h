// Retention: which of the oldest segments a background pass deletes.
//
// DecideRetention is a pure function of the segment list (no I/O), tested on
// hand-made lists (core_test); Log::ApplyRetention (retention.cc) discovers
// the list, decides, and applies the decision through the same path as
// truncateBefore: the new first sequence number is made durable in the
// CHECKPOINT before any file is unlinked, so an interrupted pass is finished
// (or found undone) by the next open, exactly as an interrupted
// truncateBefore is.
#ifndef COMMITLOG_CORE_RETENTION_H_
#define COMMITLOG_CORE_RETENTION_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace commitlog {

// What a pass may delete for. A bound of 0 is off; at least one is set
// (the TypeScript layer validates).
struct RetentionPolicy {
  uint64_t max_bytes = 0;   // bound on the sum of SegmentView::bytes
  uint64_t max_age_ms = 0;  // bound on now - SegmentView::newest_ms
};

// What a pass knows of one segment.
struct SegmentView {
  uint64_t base_seq = 0;
  uint64_t bytes = 0;      // end of its last batch: the bytes of batches it holds
  uint64_t newest_ms = 0;  // wall-clock ms of its newest batch (version 1: the file's mtime)
};

// How many of the oldest segments go, given `segs` in sequence order. Oldest
// first, while the sum of all segments' bytes exceeds max_bytes, or the
// oldest remaining segment's newest batch is older than now_ms - max_age_ms;
// the first segment that is kept stops the pass (the log stays a contiguous
// range). Never the last segment (the one being written), and never a
// segment that may hold a record >= hold_seq, i.e. one whose successor
// starts above hold_seq (UINT64_MAX: no hold).
size_t DecideRetention(const std::vector<SegmentView>& segs, const RetentionPolicy& policy,
                       uint64_t hold_seq, uint64_t now_ms);

// What one pass did. Segments count as deleted once they have left the log
// (the CHECKPOINT records where it now starts), even if an unlink failed
// after that: the next open removes what is left.
struct RetentionResult {
  uint32_t segments_deleted = 0;
  uint64_t bytes_deleted = 0;    // their SegmentView::bytes
  uint64_t records_deleted = 0;  // how far the log's first sequence number moved
  uint64_t first_seq = 0;        // the log's first sequence number after the pass
};

}  // namespace commitlog

#endif  // COMMITLOG_CORE_RETENTION_H_
