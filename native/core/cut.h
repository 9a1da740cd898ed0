// Cut: dropping every record at or past a sequence number (truncateFrom, a
// Raft leader's uncommitted suffix). One plan, applied by one function, for
// the live operation and for recovery finishing an interrupted one (the
// CHECKPOINT's cut intent, docs/FORMAT.md "Cut").
//
// The records below the cut are acknowledged and are never overwritten in
// place: a batch that straddles the cut is written again, cut down, in a
// copy of its segment that replaces the segment by rename only once it is
// durable. Everything past the cut is unlinked or zeroed, so that no stale
// batch of the old suffix can later be read as records or as proof that
// records were acknowledged.
#ifndef COMMITLOG_CORE_CUT_H_
#define COMMITLOG_CORE_CUT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "io.h"
#include "segment.h"
#include "status.h"

namespace commitlog {

struct CutPlan {
  uint64_t seq = 0;               // records at and past it go
  std::vector<std::string> drop;  // segments to unlink: nothing in them stays
  // The segment that keeps the records just below seq, or empty when no
  // segment stays. In it, the log ends at `offset`: the batch holding seq
  // starts there (if any), and nothing past it stays.
  std::string segment;
  uint64_t offset = 0;
  uint64_t zero_to = 0;   // without trim: zero [offset, zero_to) of it
  bool trim = false;      // the batch at offset starts below seq: rewrite it to end at seq
  uint32_t chain_crc = 0;  // without trim: the crc the log's next batch chains to
  uint32_t file_mode = 0600;  // of the trimmed copy that replaces the segment
};

// For the live log: finds where seq falls in `holder` (the segment holding
// the records just below seq, walked with the one BatchReader from
// start_offset, a batch boundary at or before seq) and fills the plan's
// segment part. Reads only.
Status PlanCutInSegment(Io* io, const SegmentMeta& holder, uint64_t start_offset, uint64_t seq,
                        uint64_t log_id, CutPlan* plan);

// Applies the plan: unlinks plan.drop (a file already gone is fine), then
// trims or zeroes the kept segment and syncs it, then syncs the directory.
// When it returns OK the cut is durable. *chain_crc is the crc the next
// batch of the log chains to (the trimmed batch's with trim, else
// plan.chain_crc). `align` is the trimmed batch's alignment.
Status ApplyCut(Io* io, const std::string& dir, const CutPlan& plan, uint64_t log_id, uint32_t align,
                uint32_t* chain_crc);

// Overwrites [from, to) of the file with zeros and syncs it (recovery's cut
// of a torn tail, and a cut at a batch boundary).
Status ZeroRange(Io* io, const std::string& path, uint64_t from, uint64_t to);

}  // namespace commitlog

#endif  // COMMITLOG_CORE_CUT_H_
