// Options of a log, validated by the TypeScript layer before they get here;
// the core asserts the invariants again (programmer errors).
#ifndef COMMITLOG_CORE_OPTIONS_H_
#define COMMITLOG_CORE_OPTIONS_H_

#include <cstdint>

namespace commitlog {

enum class SyncMode {
  kFdatasync,  // pwrite + fdatasync per batch
  kFsync,      // pwrite + fsync per batch
  kDirect,     // O_DIRECT | O_DSYNC: each write returns once durable
  kNone,       // pwrite only: survives a process crash, not power loss
  kAuto,       // kFdatasync, but batches of kAutoDirectMinBytes and more are
               // written with O_DIRECT (no page-cache copy) where the
               // filesystem takes it, then fdatasync'd (default)
};

// The batch size from which kAuto writes with O_DIRECT. Below it the copy
// into the page cache is cheap and keeps recent batches warm for readers;
// above it the copy is the flusher's largest cost (bench/, README).
static constexpr uint32_t kAutoDirectMinBytes = 64 << 10;
// O_DIRECT needs offsets and lengths aligned to the device's logical block;
// kAuto only writes directly what is aligned to a page, which every device
// accepts.
static constexpr uint32_t kDirectAlign = 4096;

enum class Preallocate {
  kZero,      // write zeros: later overwrites need no metadata flush
  kFallocate, // reserve unwritten extents: cheap to make, costlier to sync
  kNone,      // grow the file as batches are written
  kAuto,      // kZero, but kFallocate while the log writes faster than
              // kAutoFallocateBytesPerSec (zero-filling would then double
              // the bytes written when bandwidth is the bound) (default)
};

// The append rate above which kAuto prepares segments with fallocate.
static constexpr double kAutoFallocateBytesPerSec = 100e6;

enum class RecoveryMode {
  kStrict,    // damage to acknowledged data fails open with kCorruption
  kTruncate,  // keep the valid prefix, cut the rest, report it
};

struct LogOptions {
  SyncMode sync = SyncMode::kAuto;
  Preallocate preallocate = Preallocate::kAuto;
  RecoveryMode recovery = RecoveryMode::kStrict;
  uint32_t align_bytes = 4096;
  uint64_t segment_bytes = 64ull << 20;
  uint64_t max_pending_bytes = 64ull << 20;
  uint32_t max_batch_delay_us = 0;
  uint64_t broken_bytes_max = 1ull << 20;  // bytes kept in a .broken side file
  // Segments that truncateBefore or retention free are kept, up to this
  // many at a time, and made into later segments instead of zero-filling new
  // files (recycle.h); 0 unlinks them. Only with a preallocate mode that
  // prepares segments (not kNone).
  uint32_t recycle_segments = 2;
  // Batches being written or synced at once, with a separate sync ('auto',
  // 'fdatasync', 'fsync'): 1, or 2, where a second flusher seals and writes
  // the next batch (once Committer::kOverlapMinBytes are staged) while the
  // first syncs. 1 by default: on the disks measured, a write in flight
  // made the other batch's cache flush wait for it, and the overlap split
  // the callers into more, smaller batches (README, "Two batches in
  // flight"). Crash safety is the same either way (docs/FORMAT.md, commit
  // watermark).
  uint32_t batches_in_flight = 1;
  bool create = true;                      // create the directory if missing
  // Permission bits of every file the log creates (the umask applies). The
  // owner's read and write are always among them: the log reads and
  // writes its own files.
  uint32_t file_mode = 0600;
  // The `mode` option was not given: an existing log's files give the mode
  // (see Log::Open), so that a log an admin opened up to a group stays so.
  bool inherit_mode = true;
};

// A directory's bits for files of `file_mode`: the same, plus x where r is
// set (0600 -> 0700, 0640 -> 0750), since listing and opening files in a
// directory needs both.
inline uint32_t DirModeFor(uint32_t file_mode) { return file_mode | ((file_mode & 0444) >> 2); }

}  // namespace commitlog

#endif  // COMMITLOG_CORE_OPTIONS_H_
