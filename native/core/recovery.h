// Recovery: runs on open, before any append. Scans every segment, verifies
// every batch, tells a torn tail (never acknowledged: cut it off) from damage
// to acknowledged data (report it; cut only with RecoveryMode::kTruncate),
// and hands the log's end to the committer.
//
// The rule that separates the two (docs/FORMAT.md, "Recovery"): the flusher
// writes a batch only after the previous one's sync returned, so a damaged
// batch is a torn tail only if it is in the last segment, no valid batch of
// that segment follows it, and the checkpoint does not say it was durable.
#ifndef COMMITLOG_CORE_RECOVERY_H_
#define COMMITLOG_CORE_RECOVERY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "batch.h"
#include "io.h"
#include "options.h"
#include "segment.h"
#include "status.h"

namespace commitlog {

struct RecoveryReport {
  bool torn_tail = false;   // an unacknowledged partial batch was cut off
  bool corruption = false;  // acknowledged data was damaged (kTruncate only)
  std::string reason;       // what was found, for humans
  std::string file;         // where the cut happened
  uint64_t offset = 0;
  uint64_t bytes_dropped = 0;    // non-zero bytes cut from the file at `file`
  uint32_t segments_dropped = 0; // whole segments removed after it
  std::string broken_file;       // side file holding the cut bytes, if any
};

// What a scan of one segment found.
struct ScanResult {
  uint64_t end_offset = 0;  // just past the last valid batch
  uint64_t next_seq = 0;    // sequence number after the last valid batch
  uint32_t epoch = 0;       // of the valid batches; 0 if there are none
  uint32_t last_crc = 0;    // crc of the last valid batch (chain input if none)
  uint32_t batches = 0;
  uint64_t file_size = 0;
  bool clean_end = false;   // stopped at end of file or at zeroed space
  std::string stop_reason;  // why the scan stopped, when not clean
  std::vector<IndexEntry> index;
};

// Scans a segment from offset 0. `chain` tells whether the first batch must
// carry prev_crc == chain_crc (the previous segment's last batch).
Status ScanSegment(Io* io, int fd, const std::string& path, uint64_t base_seq, bool chain,
                   uint32_t chain_crc, ScanResult* out);

struct RecoveredLog {
  std::vector<SegmentMeta> segments;  // kept segments, in order
  uint64_t next_seq = 0;              // the next append gets this
  // The last segment, where appends continue (valid when segments is not
  // empty): its write offset, its epoch (0: no batch yet, pick a new one),
  // and the crc the next batch chains to.
  uint64_t tail_end = 0;
  uint32_t tail_epoch = 0;
  uint32_t tail_chain_crc = 0;
  bool rewrite_checkpoint = false;  // recovery changed what is durable
  RecoveryReport report;
};

Status Recover(Io* io, const std::string& dir, const LogOptions& options, RecoveredLog* out);

}  // namespace commitlog

#endif  // COMMITLOG_CORE_RECOVERY_H_
