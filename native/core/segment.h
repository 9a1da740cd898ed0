// Segments: one file per segment, named by the sequence number of its first
// record. ActiveSegment is the file the flusher appends to; SegmentSet is the
// list of all segments, shared by the flusher (which adds), readers (which
// locate records) and retention (which removes).
#ifndef COMMITLOG_CORE_SEGMENT_H_
#define COMMITLOG_CORE_SEGMENT_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "batch.h"
#include "io.h"
#include "options.h"
#include "status.h"

namespace commitlog {

std::string SegmentName(uint64_t base_seq);
// Parses "<20 digits>.log"; false for any other name.
bool ParseSegmentName(const std::string& name, uint64_t* base_seq);
// open(2) flags for a segment written in the given mode.
int SegmentOpenFlags(SyncMode mode);
// The one way to make a segment file: creates `path` (failing if it exists),
// fills it as options.preallocate says and syncs it, so that the flusher's
// later syncs of it only ever cover its own batches. Removes it on failure.
// The caller makes its name durable (a directory sync) before use.
Status CreateSegmentFile(Io* io, const std::string& path, const LogOptions& options);
// Writes zeros over [from, to) of fd: the one zero-fill loop (preallocation
// and recovery's cut both use it). Does not sync.
Status WriteZeros(Io* io, int fd, uint64_t from, uint64_t to);
// A fresh nonzero segment epoch.
uint32_t NewEpoch();

// The segment being appended to. Owned by the committer: one thread writes
// at a time, and another may sync meanwhile.
class ActiveSegment {
 public:
  ActiveSegment(Io* io, int fd, std::string path, uint64_t base_seq, uint64_t offset,
                uint32_t epoch, uint32_t last_crc);
  ~ActiveSegment();
  ActiveSegment(const ActiveSegment&) = delete;
  ActiveSegment& operator=(const ActiveSegment&) = delete;

  // Writes a sealed batch at the current offset with one call, with
  // O_DIRECT when `direct` (see WantsDirect); on success the offset moves
  // past it. Not durable yet: Sync makes it so. Called by one thread at a
  // time (the committer's write turn).
  Status Write(const char* data, uint32_t span, uint32_t crc, bool direct);
  // Makes every batch written before the call durable, as the mode says.
  // Thread-safe against a concurrent Write (the committer syncs batch N
  // while it writes N+1). *sync_us is the time in the sync call (0 when the
  // mode has none).
  Status Sync(SyncMode mode, uint64_t* sync_us) const;
  // Whether the mode needs a Sync call after a Write (every mode but
  // 'none', and 'direct' on Linux, where O_DSYNC makes the write durable).
  static bool NeedsSync(SyncMode mode);
  // kAuto: whether a batch of `span` bytes at the current offset goes
  // through O_DIRECT (probed as TigerBeetle does: by trying). Opens the
  // direct descriptor the first time; a filesystem that refuses O_DIRECT
  // (tmpfs) turns it off for the segment.
  bool WantsDirect(uint32_t span);

  // Closes the file early; Append must not be called after it.
  void CloseFile();

  uint64_t base_seq() const { return base_seq_; }
  uint64_t offset() const { return offset_; }
  uint32_t epoch() const { return epoch_; }
  uint32_t last_crc() const { return last_crc_; }
  const std::string& path() const { return path_; }

 private:
  Io* const io_;
  int fd_;
  int direct_fd_ = -1;      // the same file opened with O_DIRECT (kAuto), or -1
  bool direct_off_ = false; // the filesystem refused O_DIRECT
  const std::string path_;
  const uint64_t base_seq_;
  uint64_t offset_;
  const uint32_t epoch_;
  uint32_t last_crc_;
};

// A sparse index entry: a batch starting at `offset` holds `seq`.
struct IndexEntry {
  uint64_t seq;
  uint64_t offset;
};

struct SegmentMeta {
  uint64_t base_seq = 0;
  // Sequence number after its last batch. The next segment may start later
  // (numbers given up by a 'truncate' recovery); reads skip that gap.
  uint64_t end_seq = 0;
  std::string path;
  std::vector<IndexEntry> index;  // ascending; at most one entry per kIndexStrideBytes
  // For retention. End of its last batch: the bytes of batches it holds.
  uint64_t size_bytes = 0;
  // Largest timestamp_ms of its batches (the wall clock can step back); 0
  // when none carries one (version 1 batches, or no batch yet).
  uint64_t newest_ms = 0;
};

// Thread-safe list of segments in sequence order.
class SegmentSet {
 public:
  // A get() reads from the indexed batch at or before its record: 64 KiB
  // bounds that to one batch, or 64 KiB of small ones, for 16 bytes per
  // 64 KiB of log (1 MiB of memory for 4 GiB).
  static constexpr uint64_t kIndexStrideBytes = 64 << 10;

  void Reset(std::vector<SegmentMeta> segs);
  void Add(SegmentMeta seg);
  // Records that a batch of `count` records from `seq` occupies
  // [offset, end_offset) in the last segment (indexed only every
  // kIndexStrideBytes) and was sealed at timestamp_ms.
  void NoteBatch(uint64_t seq, uint32_t count, uint64_t offset, uint64_t end_offset,
                 uint64_t timestamp_ms);

  // Finds the segment holding seq and the offset of a batch at or before it.
  // Returns false if seq is below the first segment.
  // seg->index is left empty.
  bool Locate(uint64_t seq, SegmentMeta* seg, uint64_t* start_offset, bool* is_last,
              uint64_t* next_base) const;
  // The segments whose every record is below seq, never the last one; and
  // the base of the first segment that would remain.
  std::vector<std::string> Before(uint64_t seq, uint64_t* new_first) const;
  // Removes the first n segments (as listed by Before).
  void RemoveFirst(size_t n);
  // For truncateFrom(seq): the segments whose base is at or past seq (*drop)
  // and the last one before them, which holds the records just below seq
  // (*holder, with *start_offset a batch at or before seq). False if there
  // is no such segment (every segment goes).
  bool CutPoint(uint64_t seq, SegmentMeta* holder, uint64_t* start_offset,
                std::vector<std::string>* drop) const;
  // Forgets every record at or past seq: the segments CutPoint dropped, and
  // the holder's end and index entries past it. kept_end: the holder's
  // size after the cut (its byte count for retention).
  void CutFrom(uint64_t seq, uint64_t kept_end);
  uint64_t first_seq(uint64_t if_empty) const;
  size_t size() const;
  // A copy of the list, without the sparse indexes (for retention).
  std::vector<SegmentMeta> List() const;
  // Segments added by Add since Reset: one per roll.
  uint64_t added() const;

 private:
  mutable std::mutex mu_;
  std::vector<SegmentMeta> segs_;
  uint64_t added_ = 0;
};

}  // namespace commitlog

#endif  // COMMITLOG_CORE_SEGMENT_H_
