// LogReader: a read-only view of a log that a writer in another process may
// be appending to. No lock, no writes, no recovery: it opens nothing for
// writing (so it works on a read-only mount) and never changes a file.
//
// What it may read is what the writer published as durable in HEAD (head.h),
// never more: the page cache shows batches the writer wrote but has not
// synced, and only HEAD says which ones were synced. Without a usable HEAD
// (a log written by older code, or HEAD lost to a power loss while no writer
// runs) it reads what the files prove: the CHECKPOINT's durable_seq, every
// sealed segment (the writer rolls only after syncing), and the highest
// commit watermark of a batch continuing the last segment.
//
// HEAD's generation is a seqlock: each Read reads HEAD, reads records, and
// reads HEAD again; if the generation moved (a writer restarted or cut the
// log), what it read is discarded and the read starts over. A cursor that
// returned records remembers the last one's batch crc; under a new
// generation, the read goes on only if that batch is still the one the log
// holds at that number (its crc chains the whole history before it), else
// kNotFound: the log was truncated below the cursor.
//
// Thread-safe: reads run on many threads at once; they share the segment
// list and a sparse index per segment, built lazily by walking batch headers.
#ifndef COMMITLOG_CORE_LOG_READER_H_
#define COMMITLOG_CORE_LOG_READER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "checkpoint.h"
#include "head.h"
#include "io.h"
#include "segment.h"
#include "segment_index.h"
#include "segment_read.h"
#include "status.h"

namespace commitlog {

// What a reader may read at one moment.
struct ReaderView {
  uint64_t generation = 0;  // HEAD's; 0 without a usable HEAD
  uint64_t durable_seq = 0; // records below it may be read
  uint64_t first_seq = 0;   // the oldest record's segment base
  uint64_t tail_base = 0;   // with a HEAD: in this segment, no batch at or
  uint64_t tail_end = UINT64_MAX;  // past tail_end is read
  bool no_sync = false;     // the writer runs with sync 'none' (see Read)
};

// Per iteration, carried from one Read to the next by the caller.
struct ReaderCursor {
  ReadCursor at;            // as Log::Read's; meaningful only in `generation`
  uint64_t generation = 0;  // the view the last Read read under
  bool has_anchor = false;  // a record was returned: the anchor is the last
  uint64_t anchor_seq = 0;
  uint32_t anchor_crc = 0;  // crc of the batch holding it
};

class LogReader {
 public:
  // Opens the log in `dir` for reading. kIoError ENOENT if `dir` holds no
  // log (neither a CHECKPOINT nor a segment). `io` must outlive the reader.
  static Status Open(Io* io, const std::string& dir, std::unique_ptr<LogReader>* out);
  LogReader(const LogReader&) = delete;
  LogReader& operator=(const LogReader&) = delete;

  // The view now: reads HEAD only (one small file). Without a usable HEAD,
  // what the last Refresh proved. Cheap enough for the JS thread.
  Status Peek(ReaderView* out);
  // Peek, then re-lists the directory when HEAD says segments came or went
  // (always without a HEAD, then also re-proving the durable end from the
  // files). For worker threads.
  Status Refresh(ReaderView* out);

  // Reads records [from, limit), below the durable end of the view read at
  // its start (at least one record if there is one, then up to max_bytes),
  // into *out, and moves *cursor on. *view is the view it read under.
  // kNotFound: `from` is below the first segment, or the log was cut below
  // the cursor (see above). kCorruption: a batch below the durable end fails
  // verification, unless the writer runs with sync 'none': its durable end
  // was the page cache's, which a power loss takes away, so there the first
  // missing record ends the read instead. Numbers a 'truncate' recovery gave
  // up are skipped.
  Status Read(uint64_t from, uint64_t limit, size_t max_bytes, ReaderCursor* cursor,
              ReadResult* out, ReaderView* view);

  const std::string& dir() const { return dir_; }
  // The log's identity (its CHECKPOINT's), or 0 before a version 2 one names it.
  uint64_t log_id() const { return log_id_.load(); }

 private:
  struct Segment {
    uint64_t base = 0;
    std::string path;
    std::shared_ptr<SegmentIndex> index;
  };
  // A segment found for a sequence number.
  struct Located {
    uint64_t base = 0;
    std::string path;
    uint64_t next_base = UINT64_MAX;  // UINT64_MAX for the last segment
    uint64_t start_offset = 0;        // a batch at or before the one holding it
  };
  enum class Continuity { kSame, kCut, kUnknown };

  LogReader(Io* io, std::string dir) : io_(io), dir_(std::move(dir)) {}

  Status ReadHeadRetrying(Head* head, bool* usable);
  Status ViewLocked(const Head& head, bool usable, bool deep, ReaderView* out);
  Status ListLocked(uint64_t min_first, uint64_t generation);
  Status ProveLocked(ReaderView* out);
  Status Locate(const ReaderView& v, uint64_t seq, Located* out);
  Status ReadUnder(const ReaderView& v, uint64_t from, uint64_t limit, size_t max_bytes,
                   ReaderCursor* c, ReadResult* out);
  Status ReadRecords(const ReaderView& v, uint64_t from, uint64_t limit, size_t max_bytes,
                     ReadCursor* at, ReadResult* out);
  Status CheckContinuity(const ReaderView& v, uint64_t from, const ReaderCursor& c,
                         Continuity* out);
  // Whether a sealed segment that ends cleanly at end_seq, before the next
  // one begins at next_base, ends at numbers a 'truncate' recovery gave up.
  Status CheckGap(const ReaderView& v, uint64_t end_seq, const Located& loc, bool* gap);

  Io* const io_;
  const std::string dir_;
  std::atomic<uint64_t> log_id_{0};  // 0 until a version 2 CHECKPOINT names it

  std::mutex mu_;  // everything below
  Checkpoint cp_;
  bool have_cp_ = false;
  std::vector<Segment> segs_;
  bool listed_ = false;
  uint64_t listed_generation_ = 0;  // the view generation segs_ and their indexes belong to
  uint64_t listed_first_ = 0;
  CommitProof proof_;  // of the last segment, without a HEAD
  ReaderView fallback_;  // the last view proven without a HEAD
  bool proven_ = false;  // fallback_ was computed at least once
};

}  // namespace commitlog

#endif  // COMMITLOG_CORE_LOG_READER_H_
