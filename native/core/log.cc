#include "log.h"

#include <fcntl.h>

#include <cassert>
#include <cerrno>

#include <algorithm>

#include "checkpoint.h"
#include "coding.h"
#include "cut.h"
#include "log_format.h"
#include "reader.h"

namespace commitlog {

namespace {

// Makes sure `dir` exists, making it with `mode` if allowed. *created says
// whether this call made it.
Status EnsureDir(Io* io, const std::string& dir, bool create, uint32_t mode, bool* created) {
  *created = false;
  FileInfo info;
  Status s = io->Stat(dir, &info);
  if (!s.ok()) return s;
  if (info.exists) {
    if (!info.is_dir) return Status::IoError("open", ENOTDIR, dir);
    return Status::OK();
  }
  if (!create) return Status::IoError("open", ENOENT, dir);
  s = io->MkDir(dir, static_cast<int>(mode));
  if (!s.ok() && s.err() != EEXIST) return s;
  *created = s.ok();
  return Status::OK();
}

// The mode of an existing log's files: its CHECKPOINT's, else its newest
// segment's. Leaves *mode alone when there is neither (a new log, or a
// directory made by someone else). The owner keeps read and write whatever
// the files say: the log must read and write its own files.
Status InheritFileMode(Io* io, const std::string& dir, uint32_t* mode) {
  std::string from = JoinPath(dir, format::kCheckpointName);
  FileInfo info;
  Status s = io->Stat(from, &info);
  if (s.ok() && !info.exists) {
    std::vector<std::string> names;
    s = io->ListDir(dir, &names);
    uint64_t newest = 0;
    bool any = false;
    for (const std::string& name : names) {
      uint64_t base;
      if (!ParseSegmentName(name, &base) || (any && base <= newest)) continue;
      newest = base;
      any = true;
    }
    if (s.ok() && any) s = io->Stat(JoinPath(dir, SegmentName(newest)), &info);
  }
  if (!s.ok()) return s;
  if (info.exists && info.is_regular) *mode = (info.mode & 0777) | 0600;
  return Status::OK();
}

Status OpenLock(Io* io, const std::string& dir, uint32_t mode, int* fd) {
  std::string path = JoinPath(dir, format::kLockName);
  Status s = io->Open(path, O_RDWR | O_CREAT, static_cast<int>(mode), fd);
  if (!s.ok()) return s;
  s = io->LockExclusive(*fd, path);
  if (!s.ok()) io->Close(*fd);
  return s;
}

}  // namespace

Log::Log(Io* io, std::string dir, const LogOptions& options, int lock_fd)
    : io_(io), dir_(std::move(dir)), options_(options), lock_fd_(lock_fd),
      checkpoint_(io, dir_, static_cast<int>(options.file_mode)), head_(io, dir_, options.file_mode) {}

Log::~Log() {
  Close();
}

Status Log::Open(Io* io, const std::string& dir, const LogOptions& given,
                 std::unique_ptr<Log>* out) {
  assert((given.file_mode & ~0777u) == 0);
  assert((given.file_mode & 0600) == 0600);
  LogOptions options = given;
  bool created = false;
  Status s = EnsureDir(io, dir, options.create, DirModeFor(options.file_mode), &created);
  if (!s.ok()) return s;
  if (!created && options.inherit_mode) s = InheritFileMode(io, dir, &options.file_mode);
  if (!s.ok()) return s;
  int lock_fd;
  s = OpenLock(io, dir, options.file_mode, &lock_fd);
  if (!s.ok()) return s;
  std::unique_ptr<Log> log(new Log(io, dir, options, lock_fd));  // ~Log releases the lock
  // The log directory's own entry lives in its parent. Synced on every open,
  // not only when this call made the directory: the process that made it
  // may have died before its sync (defect 1). A parent we may not open for
  // reading cannot be synced by us; then its owner's setup must have.
  s = io->SyncDir(DirName(dir));
  if (!s.ok() && (created || (s.err() != EACCES && s.err() != EPERM))) return s.WithStep("fsync parent directory");
  RecoveredLog rec;
  s = Recover(io, dir, options, &rec);  // ends with a sync of the directory
  if (!s.ok()) return s.WithStep("recovery");
  log->recovery_ = rec.report;
  log->checkpoint_.Reset(rec.checkpoint);
  log->log_id_ = rec.checkpoint.log_id;
  std::unique_ptr<ActiveSegment> tail;
  s = log->OpenTail(&rec, &tail);
  if (!s.ok()) return s.WithStep("open last segment");
  if (log->checkpoint_.current().has_cut) {
    // A finished cut that emptied the log: its intent ends only now that
    // the new segment's name is durable (see DecideRecovery).
    s = log->checkpoint_.Update([](Checkpoint* cp) {
      cp->has_cut = false;
      cp->cut_seq = 0;
    });
    if (!s.ok()) return s.WithStep("write checkpoint");
  }
  log->segments_.Reset(std::move(rec.segments));
  s = log->OpenHead(*tail, rec.next_seq);
  if (!s.ok()) return s.WithStep("publish head");
  log->committer_ = std::make_unique<Committer>(io, dir, options, &log->segments_, &log->checkpoint_,
                                                std::move(tail), rec.next_seq);
  *out = std::move(log);
  return Status::OK();
}

Status Log::OpenTail(RecoveredLog* rec, std::unique_ptr<ActiveSegment>* tail) {
  uint32_t epoch = rec->tail_epoch;
  uint64_t offset = rec->tail_end;
  if (rec->segments.empty() || rec->roll) {
    // A new segment at next_seq: the log is empty; or the tail was written
    // by version 1, or for another alignment ('direct' writes need aligned
    // offsets, and a batch must not share a block with an acknowledged one,
    // defect 10), or numbers were given up after it.
    std::string path = JoinPath(dir_, SegmentName(rec->next_seq));
    Status s = CreateSegmentFile(io_, path, options_);
    // Its name must be durable before a batch in it is acknowledged.
    if (s.ok()) s = io_->SyncDir(dir_);
    if (!s.ok()) return s;
    rec->segments.push_back(SegmentMeta{rec->next_seq, rec->next_seq, path, {}});
    epoch = 0;
    offset = 0;
  }
  const SegmentMeta& meta = rec->segments.back();
  int fd;
  Status s = io_->Open(meta.path, SegmentOpenFlags(options_.sync), 0644, &fd);
  if (!s.ok()) return s;
  *tail = std::make_unique<ActiveSegment>(io_, fd, meta.path, meta.base_seq, offset,
                                          epoch != 0 ? epoch : NewEpoch(), rec->tail_chain_crc);
  return Status::OK();
}

void Log::Start(std::function<void()> notify) {
  committer_->Start([this, notify = std::move(notify)] {
    PublishFlushed();
    notify();
  });
}

// --- HEAD: the durable end, for readers in other processes -------------------

Status Log::OpenHead(const ActiveSegment& tail, uint64_t next_seq) {
  Head h;
  h.log_id = log_id_;
  h.durable_seq = next_seq;  // recovery synced everything below it
  h.first_seq = segments_.first_seq(next_seq);
  h.tail_base = tail.base_seq();
  h.tail_end = tail.offset();
  h.no_sync = options_.sync == SyncMode::kNone;
  return head_.Open(h);
}

void Log::PublishFlushed() {
  // After a failure the durable end stands still: nothing new to say.
  uint64_t durable, base, end;
  committer_->DurableEnd(&durable, &base, &end);
  // A hint: a failed write leaves readers behind, never ahead; it is counted
  // (stats().headFailures) and the next batch writes it again.
  head_.PublishEnd(durable, segments_.first_seq(durable), base, end);
}

Status Log::PublishHead(bool sync, bool new_generation) {
  uint64_t durable, base, end;
  committer_->DurableEnd(&durable, &base, &end);
  return PublishHeadAt(durable, base, end, sync, new_generation);
}

Status Log::PublishHeadAt(uint64_t durable_seq, uint64_t tail_base, uint64_t tail_end, bool sync,
                          bool new_generation) {
  return head_.PublishEnd(durable_seq, segments_.first_seq(durable_seq), tail_base, tail_end, sync,
                          new_generation);
}

Status Log::Close() {
  if (closed_) return Status::OK();
  closed_ = true;
  Status result;
  if (committer_ != nullptr) {
    committer_->Stop();
    result = committer_->failure();
    if (result.ok() && options_.sync != SyncMode::kNone) {
      // Lets the next open skip reading the unused rest of the last segment.
      // Not with sync 'none': the tail it describes is not durable.
      uint64_t durable = committer_->durable_seq();
      uint64_t base = committer_->tail_base(), end = committer_->tail_end();
      uint32_t crc = committer_->tail_crc();
      // Best effort: the checkpoint only lets the next open skip work and
      // bound what was acknowledged. Failing to write it (a full disk, say)
      // loses nothing, so close still succeeds; the previous checkpoint is a
      // lower bound and was made non-clean at open.
      checkpoint_.Update([=](Checkpoint* cp) {
        cp->durable_seq = std::max(cp->durable_seq, durable);
        cp->clean = true;
        cp->tail_base = base;
        cp->tail_end = end;
        cp->tail_crc = crc;
      });
    }
    // The committer object stays: durable_seq(), failure() and stats remain
    // readable after close. Only its file goes.
    committer_->CloseFiles();
    // Synced: until a writer opens the log again, a power loss would
    // otherwise take readers back to what this session's open published.
    // Best effort, like the checkpoint: if it fails, they see less, not more.
    PublishHead(true, false);
  }
  head_.Close();
  // Closing the descriptor releases the flock.
  io_->Close(lock_fd_);
  lock_fd_ = -1;
  return result;
}

Status Log::TruncateBefore(uint64_t seq, uint32_t* removed) {
  std::lock_guard<std::mutex> serialize(truncate_mu_);
  return DeleteSegmentsBefore(seq, removed);
}

Status Log::DeleteSegmentsBefore(uint64_t seq, uint32_t* removed) {
  *removed = 0;
  uint64_t new_first = 0;
  std::vector<std::string> paths = segments_.Before(seq, &new_first);
  if (paths.empty()) return Status::OK();
  // Where the log starts, durably, before anything goes: recovery then
  // finishes an interrupted truncation, and reports a missing oldest segment
  // instead of taking what is left for the whole log (defect 3).
  Status s = checkpoint_.Update([new_first](Checkpoint* cp) {
    if (new_first > cp->first_seq) cp->first_seq = new_first;
  });
  if (!s.ok()) return s.WithStep("write checkpoint");
  segments_.RemoveFirst(paths.size());
  // Readers re-list the directory when HEAD's first segment moves: before
  // the files go, so that they stop opening them. A hint, like every publish.
  head_.Publish([this, new_first](Head* h) { h->first_seq = segments_.first_seq(new_first); });
  for (const std::string& p : paths) {
    // Only now that first_seq is durable: a recycled file keeps its batches,
    // and they must lie below the log's start by then (recycle.h).
    if (committer_ != nullptr && committer_->Recycle(p)) {
      (*removed)++;
      continue;
    }
    s = io_->Unlink(p);
    if (s.ok()) {
      (*removed)++;
    } else if (s.err() != ENOENT) {
      return s;
    }
  }
  // Not needed for correctness: first_seq is durable in the CHECKPOINT
  // already, so unlinks (and renames for reuse) a power loss undoes are
  // finished by the next open (truncationFinished), and the roll that reuses
  // a file syncs the directory before writing into it. It makes the freed
  // space durable at once, which is what retention is for.
  return io_->SyncDir(dir_);
}

Status Log::TruncateFrom(uint64_t seq, uint64_t* durable_before) {
  std::lock_guard<std::mutex> serialize(truncate_mu_);
  uint64_t durable = 0;
  Status s = committer_->Quiesce(&durable);
  // A log that failed earlier refuses, as appends do: ERR_LOG_FAILED, cause.
  if (!s.ok() && s.code() != Code::kClosed) s = Status::Failed(s);
  *durable_before = durable;
  uint64_t first = first_seq();
  if (s.ok() && seq > durable) {
    s = Status::OutOfRange("seq " + std::to_string(seq) + " is past the durable end " + std::to_string(durable));
  } else if (s.ok() && seq < first) {
    s = Status::NotFound("sequence " + std::to_string(seq) + " was truncated away (the log starts at " +
                         std::to_string(first) + ")");
  } else if (s.ok() && seq < durable) {
    std::unique_lock<std::shared_mutex> no_reads(cut_mu_);
    bool emptied = false;
    s = committer_->Rewind(
        seq, [this, seq, &emptied](uint32_t* chain_crc) { return CutFrom(seq, chain_crc, &emptied); },
        [this, &emptied] {
          if (!emptied) return Status::OK();  // CutFrom ended the intent already
          // Only now that the new segment's name is durable: until then a
          // crash leaves the intent, whose recovery drops that (empty)
          // segment and starts the log at seq again. Cleared any earlier, a
          // cut that emptied the log would leave no segment and a CHECKPOINT
          // that looks like a vanished one (found by the power-loss rounds;
          // a recovery that accepted that shape instead would also accept a
          // real vanished tail, a review showed).
          Status c = checkpoint_.Update([](Checkpoint* cp) {
            cp->has_cut = false;
            cp->cut_seq = 0;
          });
          return c.ok() ? c : c.WithStep("write checkpoint");
        });
    // The cut published the cut batch's offset as the kept segment's end,
    // hiding the records below seq that a trimmed batch holds; now the new
    // tail segment is the one being written and all of the kept one counts.
    // A hint like every publish: if it fails, the next batch writes it.
    if (s.ok()) PublishHead(false, false);
  }
  committer_->Resume();
  return s;
}

Status Log::CutFrom(uint64_t seq, uint32_t* chain_crc, bool* emptied) {
  CutPlan plan;
  plan.seq = seq;
  plan.file_mode = options_.file_mode;
  SegmentMeta holder;
  uint64_t start = 0;
  Status s;
  if (segments_.CutPoint(seq, &holder, &start, &plan.drop)) {
    s = PlanCutInSegment(io_, holder, start, seq, log_id_, &plan);
    if (!s.ok()) return s.WithStep("read segment");
  }
  // Readers in other processes first: a new generation (they drop what they
  // read and check that their position still continues the log) and the
  // lower end, synced, so that neither a reader now nor one after a power
  // loss trusts a record the cut is about to remove. The kept segment's end
  // is published as the cut's offset: the records below seq in a batch that
  // is trimmed show again at the next batch's publish.
  bool kept = !plan.segment.empty();
  s = PublishHeadAt(seq, kept ? holder.base_seq : seq, kept ? plan.offset : 0, true, true);
  if (!s.ok()) return s.WithStep("publish head");
  // The intent, durably, before any file changes: from here on recovery
  // finishes the cut, so a crash leaves the old log or the cut one. It no
  // longer claims anything durable at or past seq (nor a gap there): those
  // numbers are the caller's to give again.
  bool syncs = options_.sync != SyncMode::kNone;
  bool empties = plan.segment.empty();
  s = checkpoint_.Update([seq, syncs, empties](Checkpoint* cp) {
    cp->has_cut = true;
    cp->cut_seq = seq;
    // No segment stays: the log starts at seq, with nothing in it, also once
    // the intent is cleared and before the new segment's name is durable.
    if (empties) cp->first_seq = std::max(cp->first_seq, seq);
    // With sync 'none' the records below seq were never proven durable:
    // claiming them would turn their loss into damage.
    cp->durable_seq = syncs ? seq : std::min(cp->durable_seq, seq);
    if (cp->has_gap && cp->gap_from >= seq) cp->has_gap = false;
    if (cp->has_gap) cp->gap_to = std::min(cp->gap_to, seq);
    if (!cp->has_gap) cp->gap_from = cp->gap_to = 0;
  });
  if (!s.ok()) return s.WithStep("write checkpoint");
  s = ApplyCut(io_, dir_, plan, log_id_, options_.align_bytes, chain_crc);
  if (!s.ok()) return s.WithStep("cut");
  // A cut that emptied the log keeps its intent until the new segment's
  // name is durable (TruncateFrom ends it after the roll); otherwise the
  // kept segment ends the log at seq and the intent ends now.
  *emptied = empties;
  if (!empties) {
    s = checkpoint_.Update([](Checkpoint* cp) {
      cp->has_cut = false;
      cp->cut_seq = 0;
    });
    if (!s.ok()) return s.WithStep("write checkpoint");
  }
  // Where the kept segment now ends, for retention's byte count: the cut
  // offset, or the end of the trimmed copy (which ends with its last batch).
  uint64_t kept_end = plan.offset;
  if (plan.trim) {
    FileInfo info;
    if (io_->Stat(plan.segment, &info).ok() && info.exists) kept_end = info.size;
  }
  segments_.CutFrom(seq, kept_end);
  return Status::OK();
}

void Log::GetStats(LogStats* out) const {
  committer_->FillStats(out);
  out->first_seq = first_seq();
  out->segments = segments_.size();
  out->head_failures = head_.failures();
}

Status Log::Read(uint64_t from, uint64_t limit, size_t max_bytes, ReadCursor* cursor,
                 ReadResult* out) const {
  std::shared_lock<std::shared_mutex> no_cut(cut_mu_);
  out->data.clear();
  out->ends.clear();
  uint64_t end = std::min(limit, durable_seq());
  bool first = true;
  while (from < end && out->data.size() < max_bytes) {
    SegmentMeta seg;
    uint64_t offset, next_base;
    bool last;
    if (!segments_.Locate(from, &seg, &offset, &last, &next_base)) {
      return Status::NotFound("sequence " + std::to_string(from) + " was truncated away");
    }
    if (from >= seg.end_seq && !last) {
      // Numbers given up by a 'truncate' recovery: none of them was ever
      // durable content of this log; the next record is in the next segment.
      if (from < next_base) from = next_base;
      continue;
    }
    if (first) out->first_seq = from;
    first = false;
    if (cursor->seq == from && cursor->segment == seg.base_seq) offset = cursor->offset;
    size_t before = out->ends.size();
    uint64_t stop = std::min({end, next_base, last ? UINT64_MAX : seg.end_seq});
    SegmentRange range;
    range.path = seg.path;
    range.base_seq = seg.base_seq;
    range.log_id = log_id();
    range.offset = offset;
    range.from = from;
    range.stop = stop;
    SegmentEnd ended;
    Status s = ReadSegmentRecords(io_, range, max_bytes, cursor, out, &ended);
    if (!s.ok()) return s;
    uint64_t next = out->first_seq + out->ends.size();
    if (out->ends.size() == before) {
      if (before > 0) break;  // the next record did not fit in the budget
      return Status::Corruption("durable record " + std::to_string(from) + " is missing", seg.path,
                                cursor->offset);
    }
    if (next < stop) break;  // budget spent inside this segment
    from = next;
    // Records of one result are consecutive: stop before a gap.
    if (from >= seg.end_seq && !last && next_base > from) break;
  }
  if (first) out->first_seq = from;
  return Status::OK();
}

}  // namespace commitlog
