// CHECKPOINT: a small file of facts recovery cannot learn from the segments
// alone (layout in docs/FORMAT.md):
//  - durable_seq: every record below it was acknowledged, so damage below it
//    is lost acknowledged data, never a torn tail; a 'truncate' recovery
//    continues numbering after it, so no number names two contents;
//  - first_seq: where the log starts, written before truncateBefore unlinks
//    anything, so a missing oldest segment is detected and an interrupted
//    truncation is finished;
//  - the clean flag (close): nothing follows tail_end, open need not read on;
//  - the no-sync flag: the session ran with sync 'none', so nothing at or past
//    durable_seq, in any segment, was ever proven durable;
//  - an accepted gap in the numbering (after a 'truncate' recovery);
//  - the log's identity, a random 64-bit id chosen when it was created;
//  - a pending cut (truncateFrom): records at and past cut_seq are being
//    dropped; recovery finishes the cut before anything else is built on
//    the log, so a crash leaves the old log or the truncated one.
// Written off the append path: at open, on segment roll, on truncateBefore,
// twice by truncateFrom (the intent, then its end) and on close, by ReplaceFileDurable (in place, one sector, when the disk is
// full).
#ifndef COMMITLOG_CORE_CHECKPOINT_H_
#define COMMITLOG_CORE_CHECKPOINT_H_

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "io.h"
#include "status.h"

namespace commitlog {

struct Checkpoint {
  uint16_t version = 0;      // as read; what is written is always current
  uint64_t durable_seq = 0;  // every seq below this was acknowledged
  bool clean = false;        // written by close(): nothing follows tail_end
  bool no_sync = false;      // sync 'none': nothing >= durable_seq is proven
  uint64_t tail_base = 0;    // with clean: last segment and its end
  uint64_t tail_end = 0;
  uint32_t tail_crc = 0;
  uint64_t first_seq = 0;    // version 2: the oldest record's segment base
  uint64_t log_id = 0;       // version 2: nonzero
  bool has_gap = false;      // numbers [gap_from, gap_to) were given up
  uint64_t gap_from = 0;
  uint64_t gap_to = 0;
  bool has_cut = false;      // truncateFrom(cut_seq) has not finished
  uint64_t cut_seq = 0;
};

// 80 bytes, or 88 with a pending cut.
std::string EncodeCheckpoint(const Checkpoint& cp);
// Accepts versions 1 and 2 (80 or 88 bytes).
bool DecodeCheckpoint(const std::string& bytes, Checkpoint* cp);

// *found is false when there is no checkpoint file. A file that fails its
// CRC is reported as kCorruption.
Status ReadCheckpoint(Io* io, const std::string& dir, Checkpoint* cp, bool* found);

// Owns the log's current checkpoint and serializes writes of it (the
// preparer thread, retention and close all update it). Thread-safe.
class CheckpointKeeper {
 public:
  // `mode`: permission bits of the file (and its temp), before the umask.
  CheckpointKeeper(Io* io, std::string dir, int mode) : io_(io), dir_(std::move(dir)), mode_(mode) {}

  void Reset(const Checkpoint& cp);
  Checkpoint current() const;
  // Writes the current checkpoint as changed by `update`, durably; only on
  // success does the change become current. The clean flag is cleared
  // unless `update` sets it.
  Status Update(const std::function<void(Checkpoint*)>& update);

 private:
  Status WriteLocked(const Checkpoint& cp);

  Io* const io_;
  const std::string dir_;
  const int mode_;
  mutable std::mutex mu_;
  Checkpoint cp_;
};

uint64_t NewLogId();

}  // namespace commitlog

#endif  // COMMITLOG_CORE_CHECKPOINT_H_
