// Log: a directory of segments with one writer. Open runs recovery under an
// exclusive lock; appends go through the Committer; reads and retention work
// on the SegmentSet. This is the whole core API the binding uses.
#ifndef COMMITLOG_CORE_LOG_H_
#define COMMITLOG_CORE_LOG_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "checkpoint.h"
#include "committer.h"
#include "head.h"
#include "io.h"
#include "options.h"
#include "recovery.h"
#include "retention.h"
#include "segment.h"
#include "segment_read.h"
#include "stats.h"
#include "status.h"

namespace commitlog {

class Log {
 public:
  // Opens (creating if allowed) the log in `dir`. `io` must outlive the Log.
  // Files it creates get options.file_mode, and a directory it creates the
  // same bits plus x where r is set (DirModeFor); the umask applies, as for
  // ConfigFile. With options.inherit_mode and an existing log, file_mode is
  // that of its CHECKPOINT (else its newest segment) instead; existing files
  // are never chmod-ed.
  static Status Open(Io* io, const std::string& dir, const LogOptions& options,
                     std::unique_ptr<Log>* out);
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // Starts the flusher; see Committer::Start for `notify`.
  void Start(std::function<void()> notify);

  AppendResult Append(const char* const* data, const size_t* lens, size_t n, uint64_t* first_seq,
                      Wake wake = Wake::kNow) {
    return committer_->Append(data, lens, n, first_seq, wake);
  }
  // See Committer::Kick.
  void Kick() { committer_->Kick(); }
  uint64_t durable_seq() const { return committer_->durable_seq(); }
  Status failure() const { return committer_->failure(); }
  uint64_t first_seq() const { return segments_.first_seq(durable_seq()); }
  // The log's identity, chosen when it was created (CHECKPOINT, and every
  // version 2 batch).
  uint64_t log_id() const { return log_id_; }
  // Permission bits of the files the log creates (before the umask): the
  // `mode` option, or an existing log's (see Open). For anything else made
  // in the log directory, so that it is no more readable than the records.
  uint32_t file_mode() const { return options_.file_mode; }
  // Segments added since open (each roll adds one): lets the binding notice
  // a roll cheaply.
  uint64_t segments_added() const { return segments_.added(); }

  // Reads durable records with sequence numbers in [from, limit), at most
  // about max_bytes of them (always at least one record if there is one).
  // Verifies each batch's CRC again. kNotFound if `from` was truncated away.
  Status Read(uint64_t from, uint64_t limit, size_t max_bytes, ReadCursor* cursor,
              ReadResult* out) const;

  // Deletes the segments all of whose records are below seq (never the
  // segment being written). *removed counts them. The new first sequence
  // number is made durable (CHECKPOINT) before anything is unlinked, or
  // renamed for reuse (options.recycle_segments).
  Status TruncateBefore(uint64_t seq, uint32_t* removed);

  // One retention pass (retention.cc): deletes the oldest segments that
  // DecideRetention picks, through TruncateBefore's path, at `now_ms` on the
  // wall clock. Never the segment being written, never one that may hold a
  // record >= hold_seq. *out says what left the log, also when an error
  // stopped the pass after the checkpoint was written.
  Status ApplyRetention(const RetentionPolicy& policy, uint64_t hold_seq, uint64_t now_ms,
                        RetentionResult* out);
  // Raft-style truncation: drops every record at or after seq, durably, and
  // appends go on at seq. First waits until everything appended before is
  // durable (*durable_before: the end of the log then). seq must be in
  // [first_seq, that end]: kNotFound below, kOutOfRange above (the log is
  // unchanged); at the end it changes nothing. Crash-safe through the
  // CHECKPOINT's cut intent: a crash leaves the old log or the cut one.
  // Any other failure stops the log (fail-stop). Serialized with
  // TruncateBefore; reads wait while the files change.
  Status TruncateFrom(uint64_t seq, uint64_t* durable_before);
  // Publishes the durable end to readers in other processes (HEAD, see
  // head.h): the committer's durable end, tail and first segment. With
  // new_generation, readers discard what they read under the previous
  // generation and check that their position still continues the log; with
  // sync, the record is durable on return. A change that lowers the durable
  // end (a cut) must publish the lower end with both BEFORE it changes a
  // file, through PublishHeadAt: a higher value must not survive a power
  // loss, and readers must stop trusting what they read.
  Status PublishHead(bool sync, bool new_generation);
  Status PublishHeadAt(uint64_t durable_seq, uint64_t tail_base, uint64_t tail_end, bool sync,
                       bool new_generation);

  void GetStats(LogStats* out) const;
  const RecoveryReport& recovery() const { return recovery_; }
  const std::string& dir() const { return dir_; }

  // Writes everything staged, stops the threads, records a clean checkpoint
  // and releases the lock. Idempotent. Returns the failure that stopped the
  // log earlier, if any, or an error writing the checkpoint.
  Status Close();

 private:
  Log(Io* io, std::string dir, const LogOptions& options, int lock_fd);
  // The first HEAD of this session (new generation, synced), after recovery.
  Status OpenHead(const ActiveSegment& tail, uint64_t next_seq);
  // On a flusher thread (one call at a time), after it published a new
  // durable end: HEAD follows, from Committer::DurableEnd.
  void PublishFlushed();
  // Opens the segment appends continue in (a new one at rec->next_seq when
  // recovery asks for a roll, or when the log is empty).
  Status OpenTail(RecoveredLog* rec, std::unique_ptr<ActiveSegment>* tail);
  // TruncateBefore's work; the caller holds truncate_mu_. The one way
  // segments leave the log (truncateBefore and retention).
  Status DeleteSegmentsBefore(uint64_t seq, uint32_t* removed);
  // TruncateFrom's cut (the committer quiesced, reads held off): writes the
  // intent, applies the cut, clears the intent; *chain_crc for the new tail.
  Status CutFrom(uint64_t seq, uint32_t* chain_crc, bool* emptied);

  Io* const io_;
  const std::string dir_;
  const LogOptions options_;
  int lock_fd_;
  SegmentSet segments_;
  std::mutex truncate_mu_;  // one TruncateBefore, retention pass or TruncateFrom at a time
  // Reads share it; TruncateFrom's cut holds it exclusively, so that no read
  // sees a half-cut log.
  mutable std::shared_mutex cut_mu_;
  CheckpointKeeper checkpoint_;
  HeadPublisher head_;
  uint64_t log_id_ = 0;
  std::unique_ptr<Committer> committer_;
  RecoveryReport recovery_;
  bool closed_ = false;
};

}  // namespace commitlog

#endif  // COMMITLOG_CORE_LOG_H_
