// Committer: group commit. Many callers stage records into one batch under a
// short lock; a flusher thread swaps the batch out, writes it with one call
// at an aligned offset, syncs once, and publishes the new durable sequence
// number. With options.batches_in_flight 2, two flushers take turns: while
// one syncs batch N, the other seals and writes N+1, and durability is
// published in sequence order, so N+1 is acknowledged only once N is. N+1's
// commit watermark (docs/FORMAT.md) says that N was not yet durable when N+1
// was sealed, which is how recovery tells a torn N from acknowledged damage.
// By default, and in a mode without a separate sync ('none', 'direct'), one
// flusher writes and syncs each batch before the next. A preparer thread
// creates the next segment file ahead of time and writes checkpoints, so
// that neither costs a flusher.
//
// Threads: Append, durable_seq, failure and stats may be called from any
// thread; Start and Stop from the owning thread only.
#ifndef COMMITLOG_CORE_COMMITTER_H_
#define COMMITLOG_CORE_COMMITTER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "batch.h"
#include "checkpoint.h"
#include "io.h"
#include "options.h"
#include "segment.h"
#include "stats.h"
#include "status.h"

namespace commitlog {

// When an append that finds a flusher idle wakes it. kNow: at once (the
// append's own thread pays the wake-up). kLater: only once a batch's worth
// is staged (kWakeLaterBytes); otherwise the caller promises a Kick() once
// it has staged what it has at hand. The Node binding stages every append
// of one JavaScript tick (the callers a published batch resumed) and kicks
// once: woken at the first of them, the flusher took that one alone and
// synced it as a batch of its own (measured: at 64 callers a third of all
// batches held one record).
enum class Wake { kNow, kLater };

enum class AppendResult {
  kOk,
  kFull,      // max_pending_bytes reached: retry once durable_seq advances
  kFailed,    // the log failed (fail-stop); see failure()
  kClosed,    // Stop() was called
  kNoMemory,  // the staging buffer could not grow
};

class Committer {
 public:
  // `next_seq` is durable (recovery synced everything below it); the
  // checkpoint keeper outlives the committer.
  Committer(Io* io, std::string dir, const LogOptions& options, SegmentSet* segments,
            CheckpointKeeper* checkpoint, std::unique_ptr<ActiveSegment> tail, uint64_t next_seq);
  ~Committer();
  Committer(const Committer&) = delete;
  Committer& operator=(const Committer&) = delete;

  // Starts the threads. `notify` runs on a flusher thread, one call at a
  // time, each time the durable sequence advances or the log fails, with no
  // committer lock held; it must be cheap, and may read DurableEnd and
  // durable_seq but call nothing else of the committer.
  void Start(std::function<void()> notify);

  // Stages records data[i][0, lens[i]) as one group: they get consecutive
  // sequence numbers starting at *first_seq and land in the same batch, so
  // they survive a crash all together or not at all.
  AppendResult Append(const char* const* data, const size_t* lens, size_t n, uint64_t* first_seq,
                      Wake wake = Wake::kNow);
  // Wakes an idle flusher if something is due: ends the appends made with
  // Wake::kLater. Cheap when nothing is staged or a flusher is busy. Any
  // thread.
  void Kick();
  // From this many staged bytes an append wakes an idle flusher even with
  // Wake::kLater: a long burst of appends is written while it goes on.
  static constexpr size_t kWakeLaterBytes = 64 << 10;

  uint64_t durable_seq() const { return durable_seq_.load(std::memory_order_acquire); }
  // Every record below it is on stable storage: durable_seq, except with
  // sync 'none', where appends are acknowledged without a sync and only what
  // recovery synced at open is proven.
  uint64_t proven_seq() const { return syncs_ ? durable_seq() : open_seq_.load(); }
  Status failure() const;
  void FillStats(LogStats* out) const;

  // Refuses further appends, writes and syncs everything staged, and joins
  // both threads. Idempotent. After it, the tail accessors are valid.
  void Stop();
  // After Stop: closes the segment file.
  void CloseFiles() { segment_->CloseFile(); }
  uint64_t tail_base() const { return segment_->base_seq(); }
  uint64_t tail_end() const { return segment_->offset(); }
  uint32_t tail_crc() const { return segment_->last_crc(); }
  // Any thread: the durable sequence number and where the durable part of
  // the log ends (the tail segment's base and byte offset), read together.
  // Batches written but not yet durable are past it.
  void DurableEnd(uint64_t* seq, uint64_t* tail_base, uint64_t* tail_end) const;

  // truncateFrom, in three calls from one thread (the caller serializes
  // truncations):
  // Quiesce: appends are refused with kFull from now on; waits until
  // everything staged is durable and the flusher is idle, so that nothing
  // is in flight. *durable is then the end of the log. Returns the failure
  // that stopped the log, if any. Always follow it with Resume.
  Status Quiesce(uint64_t* durable);
  // Rewind (quiesced): lowers durable_seq to seq before anything else (so a
  // checkpoint written meanwhile claims no more), closes the tail, runs
  // `cut` (which drops the records at and past seq, durably, and says which
  // crc the next batch chains to), then rolls to a new segment at seq; the
  // next append gets seq, and then runs `finish` (which ends the cut's
  // intent: only once the new segment's name is durable). Any failure stops
  // the log (fail-stop): the files are then between the old log and the cut
  // one, which only recovery (the CHECKPOINT's cut intent) may decide.
  using CutFn = std::function<Status(uint32_t* chain_crc)>;
  Status Rewind(uint64_t seq, const CutFn& cut, const std::function<Status()>& finish);
  // Lets appends and the flusher go on.
  void Resume();

  // Recycling (options.recycle_segments, recycle.h): takes over `path`, a
  // segment that left the log once the CHECKPOINT made a first_seq above all
  // its records durable, and renames it to a prepared-recycled-* name for
  // the preparer, which makes the next segment of it instead of zero-filling
  // a new file. False, with nothing changed, when recycling is off, the
  // pool already holds recycle_segments files, the file does not qualify
  // (QualifiesForReuse), the committer is stopping, or the rename fails: the
  // caller unlinks it then. Any thread.
  bool Recycle(const std::string& path);

 private:
  // One flusher's batch buffer and what it wrote: owned by that thread.
  struct Flusher {
    BatchBuilder batch;
    std::thread thread;
  };
  // Where a written batch ends, for publishing it once durable.
  struct Written {
    const ActiveSegment* segment = nullptr;  // alive until published (a roll waits)
    uint64_t tail_base = 0;
    uint64_t tail_end = 0;
  };
  void FlusherLoop(Flusher* f);
  void PreparerLoop();
  // Seals f's batch and writes it (rolling first if it does not fit);
  // called with the write turn, which orders batches in the files.
  Status WriteBatch(Flusher* f, uint64_t base_seq, Written* w);
  // Under mu_: whether a flusher should take the write turn now.
  bool WriteDue() const;
  // Under mu_: whether an idle flusher should be woken for it (one that has
  // the turn, or is back from publishing, takes what is due itself).
  bool WakeDue() const;
  // The staged bytes from which a batch is written while another syncs.
  static constexpr size_t kOverlapMinBytes = 64 << 10;
  // Blocks until every batch below seq is published, or the log failed.
  Status WaitPublished(uint64_t seq);
  Status Roll(uint64_t base_seq, uint32_t chain_crc);
  // Makes the next segment file: `recycled` if it is not empty and can be
  // made ready, else a new one.
  Status PrepareSegment(const LogOptions& opts, const std::string& recycled, std::string* path);
  void WriteCheckpointNow();
  // Counts a failure of the preparer thread, which nobody waits for.
  void NoteBackgroundFailure(const Status& s, bool checkpoint);

  Io* const io_;
  const std::string dir_;
  const LogOptions options_;
  SegmentSet* const segments_;
  CheckpointKeeper* const checkpoint_;
  const bool syncs_;         // the mode makes each batch durable before acknowledging it
  const int flusher_count_;  // batches in flight at most: 2 only with a separate sync
  std::atomic<uint64_t> open_seq_;  // durable at open (lowered by a Rewind below it)
  const uint64_t log_id_;
  std::function<void()> notify_;

  // Guarded by mu_.
  mutable std::mutex mu_;
  std::condition_variable flusher_cv_;
  BatchBuilder active_;           // where appends go
  uint64_t next_seq_;             // next sequence number to hand out
  uint64_t batch_base_;           // sequence number of active_'s first record
  uint64_t pending_bytes_ = 0;    // staged + written but not yet durable
  int idle_flushers_ = 0;         // waiting on flusher_cv_: appends may wake one
  bool writing_ = false;          // a flusher holds the write turn (seal + write)
  int returning_ = 0;             // flushers between publishing and their next wait
  bool write_failed_ = false;     // a batch's write failed: nothing more is written
  bool stopping_ = false;
  bool rewinding_ = false;        // Quiesce..Resume: no append, the flushers stay idle
  std::condition_variable idle_cv_;     // a flusher went idle or failed (Quiesce waits)
  std::condition_variable publish_cv_;  // durable_seq_ moved or the log failed
  Status failure_;
  uint64_t durable_tail_base_;    // where the durable part ends (DurableEnd)
  uint64_t durable_tail_end_;

  // Owned by the thread with the write turn (by Stop after the joins, by
  // Rewind while quiesced).
  std::unique_ptr<ActiveSegment> segment_;
  std::vector<std::unique_ptr<Flusher>> flushers_;
  // Serializes notify_ calls, which each publish the current durable end:
  // the later one always says at least as much.
  std::mutex notify_mu_;

  // Preparer state, guarded by prep_mu_.
  std::mutex prep_mu_;
  std::condition_variable prep_cv_;
  std::string prepared_path_;  // a ready segment file, or empty
  bool want_prepared_ = false;
  bool checkpoint_due_ = false;
  bool prep_stopping_ = false;
  uint64_t prepared_counter_ = 0;
  Preallocate next_prepare_ = Preallocate::kZero;  // what kAuto uses next
  std::deque<std::string> recycled_;  // freed segments, renamed, waiting to be prepared
  uint32_t recycle_renames_ = 0;      // Recycle calls between taking a place and filling it
  uint64_t recycle_counter_ = 0;      // names them
  std::chrono::steady_clock::time_point segment_started_ = std::chrono::steady_clock::now();

  std::atomic<uint64_t> durable_seq_;

  mutable std::mutex stats_mu_;
  LogStats stats_;
  LatencyHistogram sync_hist_;
  LatencyHistogram batch_hist_;

  std::thread preparer_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace commitlog

#endif  // COMMITLOG_CORE_COMMITTER_H_
