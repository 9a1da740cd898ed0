#include "log_reader.h"

#include <fcntl.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <thread>

#include "log_format.h"

namespace commitlog {

using namespace format;

namespace {

// A read of HEAD is not atomic with the writer's pwrite of it: a torn read
// fails the CRC and is simply read again.
constexpr int kHeadReadAttempts = 8;
// Reads started over because the generation moved while they read.
constexpr int kReadAttempts = 16;

std::string Num(uint64_t v) { return std::to_string(v); }

}  // namespace

Status LogReader::Open(Io* io, const std::string& dir, std::unique_ptr<LogReader>* out) {
  FileInfo info;
  Status s = io->Stat(dir, &info);
  if (!s.ok()) return s;
  if (!info.exists) return Status::IoError("open", ENOENT, dir);
  if (!info.is_dir) return Status::IoError("open", ENOTDIR, dir);
  std::unique_ptr<LogReader> r(new LogReader(io, dir));
  {
    std::lock_guard<std::mutex> l(r->mu_);
    s = ReadCheckpoint(io, dir, &r->cp_, &r->have_cp_);
    if (!s.ok()) return s;
    if (r->have_cp_ && r->cp_.version >= 2) r->log_id_ = r->cp_.log_id;
    s = r->ListLocked(0, 0);
    if (!s.ok()) return s;
    // A directory that holds neither is not a log (yet): say so rather than
    // read it as an empty one.
    if (!r->have_cp_ && r->segs_.empty()) return Status::IoError("open", ENOENT, JoinPath(dir, kCheckpointName));
  }
  ReaderView v;
  s = r->Refresh(&v);
  if (!s.ok()) return s;
  *out = std::move(r);
  return Status::OK();
}

Status LogReader::ReadHeadRetrying(Head* head, bool* usable) {
  *usable = false;
  for (int i = 0; i < kHeadReadAttempts; i++) {
    bool found = false;
    Status s = ReadHead(io_, dir_, head, &found);
    if (s.ok()) {
      *usable = found;
      return s;
    }
    if (s.code() != Code::kCorruption) return s;
    std::this_thread::yield();
  }
  // Damaged, not torn: do without it (what the files prove).
  return Status::OK();
}

Status LogReader::Peek(ReaderView* out) {
  Head h;
  bool usable;
  Status s = ReadHeadRetrying(&h, &usable);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> l(mu_);
  return ViewLocked(h, usable, false, out);
}

Status LogReader::Refresh(ReaderView* out) {
  Head h;
  bool usable;
  Status s = ReadHeadRetrying(&h, &usable);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> l(mu_);
  return ViewLocked(h, usable, true, out);
}

Status LogReader::ViewLocked(const Head& h, bool usable, bool deep, ReaderView* out) {
  if (usable && h.log_id != log_id_) {
    // A HEAD of a log we do not know yet: a version 1 log that version 2
    // code opened since (its CHECKPOINT then names the same id), or another
    // log that now lives here, which we must not read as ours.
    Checkpoint cp;
    bool found = false;
    Status s = ReadCheckpoint(io_, dir_, &cp, &found);
    if (!s.ok()) return s;
    usable = log_id_ == 0 && found && cp.version >= 2 && cp.log_id == h.log_id;
    if (usable) {
      cp_ = cp;
      have_cp_ = true;
      log_id_ = cp.log_id;
    }
  }
  if (!usable) {
    // Cheap callers get the last proof; the first one is made even for them
    // (a HEAD that was there at open and is gone now: never proven yet).
    if (!deep && proven_) {
      *out = fallback_;
      return Status::OK();
    }
    return ProveLocked(out);
  }
  bool relist = !listed_ || h.generation != listed_generation_ || h.first_seq != listed_first_ ||
                segs_.empty() || h.tail_base > segs_.back().base;
  if (deep && relist) {
    Status s = ListLocked(h.first_seq, h.generation);
    if (!s.ok()) return s;
  }
  *out = ReaderView();
  out->generation = h.generation;
  out->durable_seq = h.durable_seq;
  // truncateBefore records where the log starts in the CHECKPOINT, durably,
  // before HEAD: after a power loss HEAD may still name an older start.
  out->first_seq = std::max(h.first_seq, have_cp_ && cp_.version >= 2 ? cp_.first_seq : 0);
  out->tail_base = h.tail_base;
  out->tail_end = h.tail_end;
  out->no_sync = h.no_sync;
  return Status::OK();
}

Status LogReader::ListLocked(uint64_t min_first, uint64_t generation) {
  std::vector<std::string> names;
  Status s = io_->ListDir(dir_, &names);
  if (!s.ok()) return s;
  std::vector<uint64_t> bases;
  for (const std::string& name : names) {
    uint64_t base;
    if (ParseSegmentName(name, &base)) bases.push_back(base);
  }
  std::sort(bases.begin(), bases.end());
  // Segments wholly below the first sequence number are being deleted
  // (truncateBefore records where the log starts before it unlinks).
  uint64_t first = min_first;
  if (have_cp_ && cp_.version >= 2) first = std::max(first, cp_.first_seq);
  size_t n = 0;
  while (n + 1 < bases.size() && bases[n + 1] <= first) n++;
  std::vector<Segment> segs;
  for (size_t i = n; i < bases.size(); i++) {
    Segment seg{bases[i], JoinPath(dir_, SegmentName(bases[i])), nullptr};
    // Within a generation batches are only appended: an index stays true.
    if (generation == listed_generation_) {
      for (const Segment& old : segs_) {
        if (old.base == seg.base) seg.index = old.index;
      }
    }
    if (seg.index == nullptr) seg.index = std::make_shared<SegmentIndex>(seg.base, generation);
    segs.push_back(std::move(seg));
  }
  segs_ = std::move(segs);
  listed_ = true;
  listed_generation_ = generation;
  listed_first_ = min_first;
  return Status::OK();
}

Status LogReader::ProveLocked(ReaderView* out) {
  Checkpoint cp;
  bool found = false;
  Status s = ReadCheckpoint(io_, dir_, &cp, &found);
  if (!s.ok()) return s;
  if (found && cp.version >= 2 && log_id_ != 0 && cp.log_id != log_id_) {
    return Status::NotFound("another log now lives in " + dir_);
  }
  if (found) {
    cp_ = cp;
    have_cp_ = true;
    if (cp.version >= 2) log_id_ = cp.log_id;
  }
  s = ListLocked(0, 0);
  if (!s.ok()) return s;
  uint64_t proven = have_cp_ ? cp_.durable_seq : 0;
  uint64_t first = have_cp_ ? cp_.first_seq : 0;
  if (!segs_.empty()) {
    first = segs_.front().base;
    // The writer starts a segment only once everything before it is synced
    // (a roll after the last batch's sync, recovery after syncing all),
    // unless the session ran with sync 'none', whose CHECKPOINT says so.
    if (!(have_cp_ && cp_.no_sync)) proven = std::max(proven, segs_.back().base);
    s = proof_.Extend(io_, segs_.back().path, segs_.back().base, log_id_);
    if (!s.ok()) return s;
    proven = std::max(proven, proof_.commit_seq());
  }
  // A pending cut (truncateFrom's intent, which the next writer open
  // finishes): nothing at or past it is part of the log any more, whatever
  // the files still hold.
  if (have_cp_ && cp_.has_cut) proven = std::min(proven, cp_.cut_seq);
  fallback_ = ReaderView();
  fallback_.durable_seq = proven;
  fallback_.first_seq = first;
  proven_ = true;
  *out = fallback_;
  return Status::OK();
}

Status LogReader::Locate(const ReaderView& v, uint64_t seq, Located* out) {
  std::shared_ptr<SegmentIndex> idx;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (segs_.empty() || seq < segs_.front().base) {
      return Status::NotFound("sequence " + Num(seq) + " was truncated away");
    }
    auto it = std::upper_bound(segs_.begin(), segs_.end(), seq,
                               [](uint64_t s, const Segment& m) { return s < m.base; });
    --it;
    out->base = it->base;
    out->path = it->path;
    out->next_base = it + 1 == segs_.end() ? UINT64_MAX : (it + 1)->base;
    idx = it->index;
  }
  out->start_offset = 0;
  // An index of another generation may point into batches that are no
  // longer there; a read under an older view is discarded anyway.
  if (idx->generation() != v.generation) return Status::OK();
  uint64_t stop_offset = v.generation != 0 && out->base == v.tail_base ? v.tail_end : UINT64_MAX;
  return idx->Find(io_, out->path, seq, v.durable_seq, stop_offset, &out->start_offset);
}

Status LogReader::Read(uint64_t from, uint64_t limit, size_t max_bytes, ReaderCursor* cursor,
                       ReadResult* out, ReaderView* view) {
  for (int attempt = 0; attempt < kReadAttempts; attempt++) {
    ReaderView v;
    Status s = Refresh(&v);
    if (!s.ok()) return s;
    ReaderCursor c = *cursor;
    ReadResult r;
    s = ReadUnder(v, from, limit, max_bytes, &c, &r);
    // The seqlock: records read while a writer restarted or cut the log may
    // belong to either history; so may an error.
    Head h;
    bool usable;
    Status again = ReadHeadRetrying(&h, &usable);
    if (!again.ok()) return again;
    uint64_t generation = usable && h.log_id == log_id_ ? h.generation : 0;
    if (generation != v.generation) continue;
    if (!s.ok()) return s;
    *cursor = c;
    *out = std::move(r);
    *view = v;
    return Status::OK();
  }
  return Status::Busy("the log's writer restarted during each of " + Num(kReadAttempts) +
                      " attempts to read it");
}

Status LogReader::ReadUnder(const ReaderView& v, uint64_t from, uint64_t limit, size_t max_bytes,
                            ReaderCursor* c, ReadResult* out) {
  out->first_seq = from;
  if (c->generation != v.generation) {
    if (c->has_anchor) {
      Continuity k;
      Status s = CheckContinuity(v, from, *c, &k);
      if (!s.ok()) return s;
      if (k == Continuity::kCut) {
        return Status::NotFound("the log was truncated below sequence " + Num(c->anchor_seq + 1) +
                                ", which this read had reached (its writer restarted with a shorter log)");
      }
      if (k == Continuity::kUnknown) return Status::OK();  // nothing to read until it is proven
    }
    c->at = ReadCursor();  // offsets of another generation mean nothing now
    c->generation = v.generation;
  }
  Status s = ReadRecords(v, from, limit, max_bytes, &c->at, out);
  if (s.ok() && !out->ends.empty()) {
    c->has_anchor = true;
    c->anchor_seq = out->first_seq + out->ends.size() - 1;
    c->anchor_crc = out->last_batch_crc;
  }
  return s;
}

Status LogReader::CheckContinuity(const ReaderView& v, uint64_t from, const ReaderCursor& c,
                                  Continuity* out) {
  *out = Continuity::kCut;
  if (from > v.durable_seq) return Status::OK();
  ReadCursor at;
  ReadResult one;
  if (c.anchor_seq >= v.first_seq) {
    // The batch that held the last record read must still be there, the
    // same: its crc covers its prev_crc, and so the whole chain before it.
    Status s = ReadRecords(v, c.anchor_seq, c.anchor_seq + 1, 1, &at, &one);
    if (s.code() == Code::kNotFound) return Status::OK();
    if (!s.ok()) return s;
    if (one.ends.size() == 1 && one.first_seq == c.anchor_seq && one.last_batch_crc == c.anchor_crc) {
      *out = Continuity::kSame;
    }
    return Status::OK();
  }
  // Retention took the anchor's segment: the batch after it must chain to it.
  if (from < v.first_seq) return Status::OK();
  if (from >= v.durable_seq) {
    *out = Continuity::kUnknown;
    return Status::OK();
  }
  Status s = ReadRecords(v, from, from + 1, 1, &at, &one);
  if (s.code() == Code::kNotFound) return Status::OK();
  if (!s.ok()) return s;
  if (one.ends.size() == 1 && one.first_batch_prev_crc == c.anchor_crc) *out = Continuity::kSame;
  return Status::OK();
}

Status LogReader::ReadRecords(const ReaderView& v, uint64_t from, uint64_t limit, size_t max_bytes,
                              ReadCursor* at, ReadResult* out) {
  out->data.clear();
  out->ends.clear();
  out->first_seq = from;
  if (from < v.first_seq) return Status::NotFound("sequence " + Num(from) + " was truncated away");
  uint64_t end = std::min(limit, v.durable_seq);
  int relisted = 0;
  while (from < end && out->data.size() < max_bytes) {
    Located loc;
    Status s = Locate(v, from, &loc);
    if (s.code() == Code::kNotFound && relisted++ < 2) {
      // Retention removed a segment since the listing; the next one says
      // whether `from` went with it.
      std::lock_guard<std::mutex> l(mu_);
      s = ListLocked(listed_first_, listed_generation_);
      if (s.ok()) continue;
    }
    if (!s.ok()) return s;
    if (out->ends.empty()) out->first_seq = from;
    SegmentRange range;
    range.path = loc.path;
    range.base_seq = loc.base;
    range.log_id = log_id_;
    range.offset = at->seq == from && at->segment == loc.base ? at->offset : loc.start_offset;
    range.from = from;
    range.stop = std::min(end, loc.next_base);
    if (v.generation != 0 && loc.base == v.tail_base) range.stop_offset = v.tail_end;
    size_t before = out->ends.size();
    SegmentEnd ended;
    s = ReadSegmentRecords(io_, range, max_bytes, at, out, &ended);
    if (s.code() == Code::kNotFound && relisted++ < 2) {
      std::lock_guard<std::mutex> l(mu_);
      s = ListLocked(listed_first_, listed_generation_);
      if (s.ok()) continue;
    }
    if (!s.ok() && !ended.early) return s;
    uint64_t next = out->first_seq + out->ends.size();
    if (ended.early) {
      uint64_t end_seq = ended.next_seq;
      if (ended.offset >= range.stop_offset) break;  // HEAD's end of the tail: nothing durable past it
      bool gap = false;
      if (ended.clean && loc.next_base != UINT64_MAX) {
        Status g = CheckGap(v, end_seq, loc, &gap);
        if (!g.ok()) return g;
      }
      if (gap) {
        if (!out->ends.empty()) break;  // the records of one result are consecutive
        from = loc.next_base;
        continue;
      }
      // With sync 'none' the durable end was the page cache's, and a power
      // loss takes what it held: the first missing record is the end.
      if (v.no_sync) break;
      if (s.ok()) {
        s = Status::Corruption("durable record " + Num(end_seq) + " is missing", loc.path, ended.offset);
      }
      return s;
    }
    if (out->ends.size() == before) {
      if (before > 0) break;  // the next record did not fit in the budget
      return Status::Corruption("durable record " + Num(from) + " is missing", loc.path, at->offset);
    }
    if (next < range.stop) break;  // budget spent inside this segment
    from = next;
  }
  if (out->ends.empty()) out->first_seq = from;
  return Status::OK();
}

Status LogReader::CheckGap(const ReaderView& v, uint64_t end_seq, const Located& loc, bool* gap) {
  *gap = false;
  // Recovery's rule (docs/FORMAT.md, "Discover"): a segment may start past
  // where the previous one ends only after numbers were given up; its first
  // batch then chains to the last batch before them, or, while it has none,
  // the CHECKPOINT records exactly that gap. Anything else is damage.
  std::string next_path = JoinPath(dir_, SegmentName(loc.next_base));
  int fd;
  Status s = io_->Open(next_path, O_RDONLY, 0, &fd);
  if (!s.ok()) return s.err() == ENOENT ? Status::OK() : s;
  uint64_t size = 0;
  s = io_->FileSize(fd, &size);
  BatchHeader h;
  BatchState st = BatchState::kZero;
  if (s.ok() && size > 0) {
    BatchReader reader(io_, fd, size);
    reader.set_log_id(log_id_);
    st = reader.ReadAt(0, &h, &s);
  }
  io_->Close(fd);
  if (!s.ok()) return s.WithPath(next_path);
  if (st == BatchState::kValid && h.base_seq == loc.next_base && end_seq <= v.first_seq) {
    // Nothing before it is left to chain to. Under the no-sync flag an
    // oldest segment without batches is what a power loss took from it (its
    // batches were never synced; a later segment may have been, by a cut),
    // not numbers given up: recovery ends the log there, and so does a
    // reader (found by the power-loss rounds).
    if (!v.no_sync) {
      *gap = true;
      return Status::OK();
    }
  } else if (st == BatchState::kValid && h.base_seq == loc.next_base) {
    ReadCursor at;
    ReadResult one;
    s = ReadRecords(v, end_seq - 1, end_seq, 1, &at, &one);
    if (!s.ok()) return s;
    *gap = one.ends.size() == 1 && one.first_seq == end_seq - 1 && h.prev_crc == one.last_batch_crc;
    return Status::OK();
  }
  Checkpoint cp;
  bool found = false;
  s = ReadCheckpoint(io_, dir_, &cp, &found);
  if (!s.ok()) return s;
  *gap = found && cp.has_gap && cp.gap_from == end_seq && cp.gap_to == loc.next_base;
  return Status::OK();
}

}  // namespace commitlog
