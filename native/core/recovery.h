// Recovery: runs on open, under the lock, before any append. Three steps
// (etcd separates reading the WAL from repairing it; so do we):
//
//  1. Discover (reads only): lists the directory, reads the CHECKPOINT,
//     syncs every segment (the previous process may have died with writes in
//     the page cache; nothing may be built on bytes that can still vanish),
//     drops the last segment's cached pages (after a failed fdatasync Linux
//     keeps pages that never reached the disk, marked clean) and scans every
//     batch with the one BatchReader. Result: a LogScan, plain data.
//  2. Decide (pure, no I/O): from the LogScan alone, where the log ends, whether
//     what is cut was acknowledged, what to delete, the next sequence number.
//     Testable and fuzzable on byte images (fuzz_recovery, core_test).
//  3. Apply: writes the new CHECKPOINT first (so that a crash half-way
//     through cannot lose the decision), deletes, saves and zeroes the cut
//     bytes, and syncs the directory (the cut itself is cut.h's ApplyCut).
//
// A CHECKPOINT with a pending cut (truncateFrom) is finished here, by the
// same three steps: segments at or past cut_seq are not scanned and go, the
// walk of the last one ends at the batch holding cut_seq, nothing past the
// cut counts as proof, and the intent is cleared once the cut is durable.
//
// The rule that separates a torn tail from lost acknowledged data is in
// docs/FORMAT.md ("Recovery").
#ifndef COMMITLOG_CORE_RECOVERY_H_
#define COMMITLOG_CORE_RECOVERY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "batch.h"
#include "checkpoint.h"
#include "io.h"
#include "options.h"
#include "reader.h"
#include "segment.h"
#include "status.h"

namespace commitlog {

struct RecoveryReport {
  bool torn_tail = false;   // an unacknowledged partial batch was cut off
  bool corruption = false;  // acknowledged data was damaged (kTruncate only)
  std::string reason;       // what was found, for humans
  std::string file;         // where the cut happened
  uint64_t offset = 0;
  uint64_t bytes_dropped = 0;     // non-zero bytes cut from the file at `file`
  uint32_t segments_dropped = 0;  // whole segments removed after it
  std::string broken_file;        // side file holding the cut bytes, if any
  std::string broken_error;       // why that copy could not be made (best effort)
  uint64_t gap_from = 0;          // numbers [gap_from, gap_to) given up by a
  uint64_t gap_to = 0;            // 'truncate' recovery: never reused
  uint32_t truncation_finished = 0;  // segments an interrupted truncateBefore left
  bool cut_finished = false;         // an interrupted truncateFrom was finished
};

// What a scan of one segment found.
struct SegmentScan {
  uint64_t base = 0;
  std::string path;
  uint64_t file_size = 0;
  uint64_t end_offset = 0;    // just past the last batch that continues the log
  ChainState chain;           // after that batch
  uint16_t last_version = 0;  // of that batch; 0 if the segment has none
  bool clean_end = false;     // stopped at end of file or at zeroed space
  // Not clean: it stopped at a header this use of the file may have written
  // (sane, and of the segment's epoch once it has batches), not at garbage
  // or another epoch's batch, which in a recycled file are an older use's.
  bool end_is_ours = false;
  // The walk stopped at end_offset before a batch holding the stop sequence
  // number (a pending cut's): at_cut, and that batch's first number.
  bool at_cut = false;
  uint64_t cut_batch_base = 0;
  std::string stop_reason;    // why the scan stopped, when not clean
  std::vector<IndexEntry> index;
  uint64_t newest_ms = 0;     // largest timestamp_ms of the batches walked (retention)
};

// What lies past the point where the walk through the log stopped.
struct BeyondScan {
  bool scanned = false;
  uint64_t proof_commit_seq = 0;  // highest commit_seq of a valid batch bound here
  uint64_t proof_offset = 0;      // where that batch is
  uint64_t max_end_seq = 0;       // highest end_seq of the valid batches found
  uint64_t nonzero_end = 0;       // just past the last non-zero byte
  // A batch header (of a valid batch or a torn one) below the segment's
  // first number lies past the stop: the file is a recycled one, and bytes
  // there are an older use's unless a header says otherwise (docs/FORMAT.md,
  // "Recycled segments").
  bool recycled = false;
  // Just past the last batch, valid or torn, whose header is this use's
  // (its number at or past the stop's, of the segment's epoch once it has
  // batches); the stop offset if there is none.
  uint64_t live_end = 0;
};

struct LogScan {
  // The log's identity: the checkpoint's, or (without a version 2 one) that
  // of the first version 2 batch of the walk; 0 if neither exists.
  uint64_t log_id = 0;
  bool have_cp = false;
  bool cp_corrupt = false;
  Checkpoint cp;
  std::vector<std::string> leftovers;      // prepared-*, CHECKPOINT.tmp-*
  std::vector<std::string> below_first;    // segments wholly below cp.first_seq
  std::vector<std::string> beyond_cut;     // segments at or past a pending cut's cut_seq
  std::vector<SegmentScan> segs;           // every other segment, in order
  size_t stop_index = 0;                   // where the walk stopped (see FindStop)
  uint64_t stop_offset = 0;
  bool stop_in_tail = true;                // false: in a sealed segment or between two
  std::string stop_reason;
  BeyondScan beyond;                       // of segs[stop_index] from stop_offset
  // Highest end_seq of any valid batch bound to this log in the segments
  // after the stop (their walks end at the broken chain, not at their end).
  uint64_t later_max_end_seq = 0;
};

// Where the walk through a scanned log stops. Pure; used by both steps.
void FindStop(LogScan* scan);

// The decision. Pure function of a LogScan and the options.
struct RecoveryPlan {
  Status refuse;                 // kCorruption: strict mode will not cut acknowledged data
  size_t keep_segments = 0;      // segs[0, keep_segments) stay
  uint64_t cut_offset = 0;       // in the last kept segment
  uint64_t zero_to = 0;          // zero [cut_offset, zero_to) of it
  uint64_t next_seq = 0;         // the next append gets this
  uint64_t first_seq = 0;
  bool roll = false;             // start a new segment at next_seq on open; never when the last
                                 // kept segment starts there (it has no batch: appends go into it)
  bool trim = false;             // a pending cut: the batch at cut_offset is cut down to next_seq
  Checkpoint checkpoint;         // to write before applying (log_id set by Recover)
  RecoveryReport report;
};
RecoveryPlan DecideRecovery(const LogScan& scan, const LogOptions& options);

struct RecoveredLog {
  std::vector<SegmentMeta> segments;  // kept segments, in order
  uint64_t next_seq = 0;              // the next append gets this
  // The last segment, where appends continue (valid when segments is not
  // empty): its write offset, its epoch (0: no batch yet, pick a new one),
  // and the crc the next batch chains to. With roll, appends go to a new
  // segment at next_seq, chained to tail_chain_crc.
  uint64_t tail_end = 0;
  uint32_t tail_epoch = 0;
  uint32_t tail_chain_crc = 0;
  bool roll = false;
  Checkpoint checkpoint;  // as written
  RecoveryReport report;
};

Status Recover(Io* io, const std::string& dir, const LogOptions& options, RecoveredLog* out);

// What an open would find and decide, for tools (the CLI's inspect, verify
// and repair --dry-run): Discover and DecideRecovery, in both modes, with
// nothing synced, dropped, written or locked, so it may run beside a live
// writer (whose unsynced tail it then sees, as the page cache shows it).
struct LogExamination {
  LogScan scan;           // read as a 'truncate' open reads it
  RecoveryPlan strict;    // refuse set: a strict open would fail
  RecoveryPlan truncate;  // what a 'truncate' open would cut
};
Status ExamineLog(Io* io, const std::string& dir, LogExamination* out);

// Scans one open segment from offset 0, walking from `chain` (whose next_seq
// must be the segment's base). Batches of another log than *log_id end the
// walk; if *log_id is 0, the first version 2 batch sets it. The walk ends
// cleanly before a batch that holds stop_seq (out->at_cut).
Status ScanSegment(Io* io, int fd, const std::string& path, const ChainState& chain,
                   uint64_t* log_id, SegmentScan* out, uint64_t stop_seq = UINT64_MAX);

}  // namespace commitlog

#endif  // COMMITLOG_CORE_RECOVERY_H_
