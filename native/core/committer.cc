#include "committer.h"

#include <fcntl.h>
#include <pthread.h>

#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstdio>

#include "checkpoint.h"
#include "log_format.h"
#include "recycle.h"

namespace commitlog {

namespace {

uint64_t MicrosSince(std::chrono::steady_clock::time_point t0) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count());
}

}  // namespace

Committer::Committer(Io* io, std::string dir, const LogOptions& options, SegmentSet* segments,
                     CheckpointKeeper* checkpoint, std::unique_ptr<ActiveSegment> tail,
                     uint64_t next_seq)
    : io_(io),
      dir_(std::move(dir)),
      options_(options),
      segments_(segments),
      checkpoint_(checkpoint),
      syncs_(options.sync != SyncMode::kNone),
      // A second flusher is of use only when there is a sync to overlap with.
      flusher_count_(ActiveSegment::NeedsSync(options.sync) && options.batches_in_flight >= 2 ? 2 : 1),
      open_seq_(next_seq),
      log_id_(checkpoint->current().log_id),
      next_seq_(next_seq),
      batch_base_(next_seq),
      segment_(std::move(tail)),
      durable_seq_(next_seq) {
  durable_tail_base_ = segment_ ? segment_->base_seq() : 0;
  durable_tail_end_ = segment_ ? segment_->offset() : 0;
  assert(segment_ != nullptr);
  assert(checkpoint_ != nullptr);
  assert(options_.align_bytes >= format::kMinAlign);
  assert(options_.max_pending_bytes <= format::kMaxBatchPayload);
}

Committer::~Committer() { assert(!started_ || stopped_); }

void Committer::Start(std::function<void()> notify) {
  assert(!started_);
  notify_ = std::move(notify);
  started_ = true;
  {
    std::lock_guard<std::mutex> l(prep_mu_);
    want_prepared_ = options_.preallocate != Preallocate::kNone;
  }
  for (int i = 0; i < flusher_count_; i++) flushers_.push_back(std::make_unique<Flusher>());
  for (auto& f : flushers_) {
    Flusher* fp = f.get();
    fp->thread = std::thread([this, fp] { FlusherLoop(fp); });
  }
  preparer_ = std::thread([this] { PreparerLoop(); });
}

AppendResult Committer::Append(const char* const* data, const size_t* lens, size_t n,
                               uint64_t* first_seq, Wake wake_policy) {
  assert(n > 0);
  size_t need = 0;
  for (size_t i = 0; i < n; i++) need += BatchBuilder::FrameSize(lens[i]);
  std::unique_lock<std::mutex> l(mu_);
  if (stopping_) return AppendResult::kClosed;
  if (!failure_.ok()) return AppendResult::kFailed;
  // A truncation is rewinding the log: the caller retries once it is done
  // (the façade holds appends back itself; this keeps the core safe).
  if (rewinding_) return AppendResult::kFull;
  // Bounded memory: past the limit the caller waits for durability to free
  // room. An empty log always takes one group, so any record can get in.
  if (pending_bytes_ > 0 && pending_bytes_ + need > options_.max_pending_bytes) {
    return AppendResult::kFull;
  }
  if (!active_.Ensure(need)) return AppendResult::kNoMemory;
  for (size_t i = 0; i < n; i++) {
    bool ok = active_.Add(data[i], lens[i]);  // cannot fail after Ensure
    assert(ok);
    (void)ok;
  }
  *first_seq = next_seq_;
  next_seq_ += n;
  pending_bytes_ += need;
  // A flusher with the write turn takes these when it hands the turn on.
  bool wake = WakeDue() &&
              (wake_policy == Wake::kNow || active_.payload_bytes() >= kWakeLaterBytes);
  l.unlock();
  if (wake) flusher_cv_.notify_one();
  return AppendResult::kOk;
}

void Committer::Kick() {
  std::unique_lock<std::mutex> l(mu_);
  bool wake = WakeDue();
  l.unlock();
  if (wake) flusher_cv_.notify_one();
}

namespace {

// Names the thread for top, perf and gdb (Linux; at most 15 characters).
void NameThread(const char* name) {
#if defined(__linux__)
  pthread_setname_np(pthread_self(), name);
#else
  (void)name;
#endif
}

}  // namespace

void Committer::FlusherLoop(Flusher* f) {
  NameThread("commitlog-flush");
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    idle_flushers_++;
    idle_cv_.notify_all();
    // A flusher that published comes back here and takes what is due
    // itself; with two flushers, waking the other one for it costs a wake-up
    // on the appending thread and splits batches (see the publish below).
    // Staged records are always written; a rewind parks the flushers only
    // once nothing is staged (Quiesce waits for that), and holds off a stop.
    flusher_cv_.wait(l, [this] { return !failure_.ok() || (!writing_ && WriteDue()); });
    idle_flushers_--;
    // Fail-stop: after a failed write or sync the kernel may have dropped the
    // dirty pages, so a retry that succeeds proves nothing. Nothing from that
    // batch on is acknowledged; reopening runs recovery.
    if (!failure_.ok()) break;
    if (active_.empty()) break;  // stopping, and everything is written
    writing_ = true;
    if (options_.max_batch_delay_us > 0 && !stopping_) {
      // The user traded latency for larger batches.
      flusher_cv_.wait_for(l, std::chrono::microseconds(options_.max_batch_delay_us),
                           [this] { return stopping_ || !failure_.ok() || write_failed_; });
      if (!failure_.ok() || write_failed_) {
        writing_ = false;
        break;
      }
    }
    active_.Swap(f->batch);
    uint64_t base = batch_base_;
    uint32_t count = f->batch.count();
    size_t bytes = f->batch.payload_bytes();
    batch_base_ += count;
    l.unlock();
    auto t0 = std::chrono::steady_clock::now();
    Written w;
    Status s = WriteBatch(f, base, &w);
    l.lock();
    // With two flushers the turn passes on: the other one seals and writes
    // the next batch while this one syncs (its seal's watermark is the
    // durable end now, below this batch). With one, nothing is waiting.
    writing_ = false;
    // Fail-stop starts here, though the failure is recorded only once the
    // batches before this one settle (they may be durable): nothing more is
    // written meanwhile.
    if (!s.ok()) write_failed_ = true;
    if (WakeDue()) flusher_cv_.notify_one();
    // Syncs run one at a time, in sequence order: this one starts once the
    // batch before it is durable, and covers everything written by then.
    // Serial syncs let the next batch's write (the copy, or the O_DIRECT
    // transfer) overlap this sync, which is where two batches in flight
    // gain. Concurrent ones were measured and lost end to end (README,
    // "Concurrent syncs"), and a sync's success would prove nothing while
    // another on the same descriptor might consume a writeback error.
    publish_cv_.wait(l, [&] { return durable_seq() == base || !failure_.ok(); });
    uint64_t sync_us = 0;
    if (s.ok() && failure_.ok()) {
      l.unlock();
      s = w.segment->Sync(options_.sync, &sync_us);
      if (!s.ok()) s = s.WithStep("sync batch");
      l.lock();
    }
    pending_bytes_ -= bytes;
    if (!s.ok() && failure_.ok()) failure_ = s;
    if (!failure_.ok()) {
      publish_cv_.notify_all();
      flusher_cv_.notify_all();
      l.unlock();
      f->batch.Reset();
      std::lock_guard<std::mutex> n(notify_mu_);
      notify_();
      l.lock();
      break;
    }
    durable_tail_base_ = w.tail_base;
    durable_tail_end_ = w.tail_end;
    durable_seq_.store(base + count, std::memory_order_release);
    publish_cv_.notify_all();
    returning_++;
    // Nothing in flight any more, so what is staged is due: this thread
    // takes it itself after notifying, rather than waking the other one
    // (with two flushers),
    // which would take the batch a wake-up earlier and a few records smaller
    // (measured: a quarter fewer records per batch at 64 callers).
    l.unlock();
    f->batch.Reset();
    {
      std::lock_guard<std::mutex> sl(stats_mu_);
      if (ActiveSegment::NeedsSync(options_.sync)) {
        stats_.syncs++;
        sync_hist_.Record(sync_us);
      }
      batch_hist_.Record(MicrosSince(t0));
    }
    {
      std::lock_guard<std::mutex> n(notify_mu_);
      notify_();
    }
    l.lock();
    returning_--;
  }
  // Gone: Quiesce and Stop must not wait for this one.
  idle_cv_.notify_all();
}

bool Committer::WakeDue() const {
  return idle_flushers_ > 0 && !writing_ && returning_ == 0 && WriteDue();
}

bool Committer::WriteDue() const {
  if (write_failed_) return false;
  if (active_.empty()) return stopping_ && !rewinding_;
  // Nothing in flight: write now (one caller waits no longer than one
  // write and one sync). With two batches in flight, writing the next one
  // while a batch syncs hides its write behind that sync, but splits the
  // callers into more, smaller batches: only once the write is large.
  if (durable_seq() == batch_base_ || stopping_) return true;
  return flusher_count_ > 1 && active_.payload_bytes() >= kOverlapMinBytes;
}

Status Committer::WaitPublished(uint64_t seq) {
  std::unique_lock<std::mutex> l(mu_);
  publish_cv_.wait(l, [&] { return durable_seq() >= seq || !failure_.ok(); });
  return failure_;
}

Status Committer::WriteBatch(Flusher* f, uint64_t base_seq, Written* w) {
  BatchBuilder& batch = f->batch;
  size_t payload = batch.payload_bytes();
  uint64_t span_needed = BatchBuilder::SpanFor(payload, options_.align_bytes);
  if (segment_->offset() > 0 && segment_->offset() + span_needed > options_.segment_bytes) {
    // The previous segment's batches must all be durable before it is
    // closed (the other flusher may be syncing one): the roll waits.
    Status s = WaitPublished(base_seq);
    if (!s.ok()) return s;
    s = Roll(base_seq, segment_->last_crc());
    if (!s.ok()) return s;
  }
  SealInfo info;
  info.epoch = segment_->epoch();
  info.base_seq = base_seq;
  info.prev_crc = segment_->last_crc();
  info.file_offset = segment_->offset();
  info.log_id = log_id_;
  // The commit watermark: every record below it is durable now. With two
  // batches in flight it can be below base_seq (the batch before this one
  // is still syncing), which is what lets recovery tell, from a later
  // batch, which ones were acknowledged (docs/FORMAT.md). With sync 'none'
  // nothing more is proven than at open.
  const uint64_t proven = proven_seq();
  info.commit_seq = proven;
  info.timestamp_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count());
  assert(info.commit_seq <= base_seq);
  uint32_t span = batch.Seal(info, options_.align_bytes);
  assert(span == span_needed);
  uint64_t offset = segment_->offset();
  bool direct = options_.sync == SyncMode::kAuto && segment_->WantsDirect(span);
  Status s = segment_->Write(batch.data(), span, batch.sealed_crc(), direct);
  if (!s.ok()) return s.WithStep("write batch");
  segments_->NoteBatch(base_seq, batch.count(), offset, offset + span, info.timestamp_ms);
  w->segment = segment_.get();
  w->tail_base = segment_->base_seq();
  w->tail_end = segment_->offset();
  std::lock_guard<std::mutex> l(stats_mu_);
  stats_.batches++;
  stats_.records += batch.count();
  stats_.bytes_written += span;
  if (direct) stats_.direct_batches++;
  if (proven < base_seq && syncs_) stats_.overlapped_batches++;
  stats_.payload_bytes += payload - uint64_t{batch.count()} * format::kRecordFrameSize;
  stats_.padding_bytes += span - format::kBatchHeaderSize - payload;
  return Status::OK();
}

Status Committer::Roll(uint64_t base_seq, uint32_t chain) {
  std::string path = JoinPath(dir_, SegmentName(base_seq));
  std::string prepared;
  {
    std::lock_guard<std::mutex> l(prep_mu_);
    prepared.swap(prepared_path_);
  }
  Status s;
  if (!prepared.empty()) {
    // The prepared file is filled and synced; renaming it is atomic. Never
    // over an existing file: that would be a segment of acknowledged records.
    s = io_->RenameNoReplace(prepared, path).WithStep("rename prepared segment");
  } else {
    LogOptions opts = options_;
    opts.preallocate = Preallocate::kNone;  // on the flusher's time: no fill
    s = CreateSegmentFile(io_, path, opts).WithStep("create segment");
  }
  // The new name must be durable before any batch in it is acknowledged,
  // or a power loss could leave acknowledged records in a nameless file.
  if (s.ok()) s = io_->SyncDir(dir_).WithStep("fsync directory");
  int fd = -1;
  if (s.ok()) s = io_->Open(path, SegmentOpenFlags(options_.sync), 0644, &fd).WithStep("open segment");
  if (!s.ok()) {
    if (!prepared.empty()) io_->Unlink(prepared);
    return s.WithStep("roll");
  }
  // The previous segment's batches are all durable: it needs no more syncs.
  segment_ = std::make_unique<ActiveSegment>(io_, fd, path, base_seq, 0, NewEpoch(), chain);
  segments_->Add(SegmentMeta{base_seq, base_seq, path, {}});
  {
    std::lock_guard<std::mutex> l(stats_mu_);
    stats_.segments_rolled++;
    if (!prepared.empty()) stats_.prepared_segments_used++;
  }
  // kAuto: a log that filled its last segment faster than the threshold is
  // bandwidth-bound; zero-filling the next one would write every byte twice.
  auto now = std::chrono::steady_clock::now();
  double secs = std::chrono::duration<double>(now - segment_started_).count();
  segment_started_ = now;
  double rate = secs > 0 ? static_cast<double>(options_.segment_bytes) / secs : 1e18;
  {
    std::lock_guard<std::mutex> l(prep_mu_);
    want_prepared_ = options_.preallocate != Preallocate::kNone;
    next_prepare_ = rate > kAutoFallocateBytesPerSec ? Preallocate::kFallocate : Preallocate::kZero;
    checkpoint_due_ = true;
  }
  prep_cv_.notify_one();
  return Status::OK();
}

void Committer::PreparerLoop() {
  NameThread("commitlog-prep");
  std::unique_lock<std::mutex> l(prep_mu_);
  for (;;) {
    prep_cv_.wait(l, [this] {
      return prep_stopping_ || checkpoint_due_ || (want_prepared_ && prepared_path_.empty());
    });
    if (prep_stopping_) break;
    if (checkpoint_due_) {
      checkpoint_due_ = false;
      l.unlock();
      WriteCheckpointNow();
      l.lock();
      continue;
    }
    want_prepared_ = false;
    LogOptions opts = options_;
    if (opts.preallocate == Preallocate::kAuto) opts.preallocate = next_prepare_;
    std::string recycled;
    if (!recycled_.empty()) {
      recycled = std::move(recycled_.front());
      recycled_.pop_front();
    }
    l.unlock();
    std::string path;
    Status s = PrepareSegment(opts, recycled, &path);
    l.lock();
    // On failure (a full disk, say) the next roll creates the file itself
    // and reports the error if that fails too: the flusher owns failures.
    if (s.ok()) {
      prepared_path_ = path;
    } else {
      l.unlock();
      NoteBackgroundFailure(s, false);
      l.lock();
    }
  }
  if (!prepared_path_.empty()) {
    io_->Unlink(prepared_path_);  // recovery would remove it too
    prepared_path_.clear();
  }
  for (const std::string& p : recycled_) io_->Unlink(p);
  recycled_.clear();
}

Status Committer::PrepareSegment(const LogOptions& opts, const std::string& recycled,
                                 std::string* path) {
  if (!recycled.empty()) {
    Status r = ReuseSegmentFile(io_, recycled, options_.segment_bytes);
    if (r.ok()) {
      *path = recycled;
      std::lock_guard<std::mutex> l(stats_mu_);
      stats_.segments_recycled++;
      return r;
    }
    // Only a cost: a new file is made instead.
    io_->Unlink(recycled);
    NoteBackgroundFailure(r, false);
  }
  char name[64];
  std::snprintf(name, sizeof(name), "%s%llu.tmp", format::kPreparedPrefix,
                static_cast<unsigned long long>(prepared_counter_++));
  *path = JoinPath(dir_, name);
  return CreateSegmentFile(io_, *path, opts);
}

bool Committer::Recycle(const std::string& path) {
  if (options_.recycle_segments == 0 || options_.preallocate == Preallocate::kNone) return false;
  std::string to;
  {
    std::lock_guard<std::mutex> l(prep_mu_);
    if (prep_stopping_ || recycled_.size() + recycle_renames_ >= options_.recycle_segments) return false;
    recycle_renames_++;
    to = RecycledSegmentPath(dir_, recycle_counter_++);
  }
  // Never over an existing file. Not synced here: whichever name a power
  // loss leaves, recovery removes it (a prepared-* leftover, or a segment
  // below the durable first_seq), and the roll that reuses the file syncs
  // the directory before writing a batch into it.
  bool ok = QualifiesForReuse(io_, path, options_.segment_bytes, options_.file_mode) &&
            io_->RenameNoReplace(path, to).ok();
  std::lock_guard<std::mutex> l(prep_mu_);
  recycle_renames_--;
  if (!ok) return false;
  if (prep_stopping_) {
    io_->Unlink(to);  // the preparer has gone, or is going: it left the log all the same
  } else {
    recycled_.push_back(to);
  }
  return true;
}

void Committer::WriteCheckpointNow() {
  // With sync 'none' there is nothing new to record: no more is proven than
  // at open, and a checkpoint must never claim what it cannot back.
  if (!syncs_) return;
  // durable_seq is read under the keeper's lock: a Rewind lowers it before
  // it writes its cut intent, so a value read earlier could raise the
  // intent's durable_seq past the cut.
  Status s = checkpoint_->Update([this](Checkpoint* cp) {
    uint64_t durable = durable_seq();
    if (durable > cp->durable_seq) cp->durable_seq = durable;
  });
  // A failed checkpoint only weakens what recovery can prove later (the old
  // one stays, and its claims still hold); the log is intact, so appends go
  // on. It is counted and shown in stats().
  if (!s.ok()) NoteBackgroundFailure(s, true);
}

void Committer::NoteBackgroundFailure(const Status& s, bool checkpoint) {
  std::lock_guard<std::mutex> l(stats_mu_);
  if (checkpoint) {
    stats_.checkpoint_failures++;
  } else {
    stats_.prepare_failures++;
  }
  stats_.last_background_error = s.ToString();
}

Status Committer::failure() const {
  std::lock_guard<std::mutex> l(mu_);
  return failure_;
}

void Committer::FillStats(LogStats* out) const {
  {
    std::lock_guard<std::mutex> l(mu_);
    out->appended_seq = next_seq_;
    out->pending_bytes = pending_bytes_;
  }
  out->durable_seq = durable_seq();
  std::lock_guard<std::mutex> l(stats_mu_);
  LogStats keep = *out;
  *out = stats_;
  out->appended_seq = keep.appended_seq;
  out->pending_bytes = keep.pending_bytes;
  out->durable_seq = keep.durable_seq;
  out->sync_us_p50 = sync_hist_.Quantile(0.50);
  out->sync_us_p99 = sync_hist_.Quantile(0.99);
  out->sync_us_max = sync_hist_.max();
  out->batch_us_p50 = batch_hist_.Quantile(0.50);
  out->batch_us_p99 = batch_hist_.Quantile(0.99);
}

Status Committer::Quiesce(uint64_t* durable) {
  std::unique_lock<std::mutex> l(mu_);
  rewinding_ = true;
  // What is staged is written first: appends made with Wake::kLater may
  // not have woken a flusher.
  flusher_cv_.notify_one();
  // The flusher, once idle with nothing staged, stays parked: its wait also
  // needs !rewinding_. It wrote and synced everything staged before.
  // Every flusher idle means nothing is in flight: each one publishes its
  // batch before it waits again.
  idle_cv_.wait(l, [this] {
    return !failure_.ok() || stopping_ || !started_ ||
           (idle_flushers_ == static_cast<int>(flushers_.size()) && active_.empty());
  });
  if (!failure_.ok()) return failure_;
  if (stopping_ || !started_) return Status::Closed();
  *durable = durable_seq();
  assert(*durable == next_seq_);
  assert(pending_bytes_ == 0);
  return Status::OK();
}

Status Committer::Rewind(uint64_t seq, const CutFn& cut, const std::function<Status()>& finish) {
  assert(rewinding_);
  assert(seq <= durable_seq());
  // The flusher is parked and owns nothing while rewinding_ holds: segment_
  // is ours until Resume.
  durable_seq_.store(seq, std::memory_order_release);
  if (seq < open_seq_.load()) open_seq_.store(seq);  // a batch's commit_seq never passes its base
  segment_->CloseFile();
  uint32_t chain = 0;
  Status s = cut(&chain);
  if (s.ok()) s = Roll(seq, chain);
  if (s.ok()) s = finish();
  std::unique_lock<std::mutex> l(mu_);
  if (!s.ok()) {
    failure_ = s;
    l.unlock();
    notify_();
    return s;
  }
  next_seq_ = seq;
  batch_base_ = seq;
  durable_tail_base_ = segment_->base_seq();
  durable_tail_end_ = segment_->offset();
  return Status::OK();
}

void Committer::Resume() {
  {
    std::lock_guard<std::mutex> l(mu_);
    rewinding_ = false;
  }
  flusher_cv_.notify_all();
}

void Committer::DurableEnd(uint64_t* seq, uint64_t* tail_base, uint64_t* tail_end) const {
  std::lock_guard<std::mutex> l(mu_);
  *seq = durable_seq();
  *tail_base = durable_tail_base_;
  *tail_end = durable_tail_end_;
}

void Committer::Stop() {
  if (stopped_ || !started_) {
    stopped_ = true;
    return;
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  flusher_cv_.notify_all();
  for (auto& f : flushers_) f->thread.join();
  {
    std::lock_guard<std::mutex> l(prep_mu_);
    prep_stopping_ = true;
  }
  prep_cv_.notify_one();
  preparer_.join();
  stopped_ = true;
}

}  // namespace commitlog
