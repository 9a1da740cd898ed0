#include "recovery.h"

#include <fcntl.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>

#include "atomic_file.h"
#include "coding.h"
#include "cut.h"
#include "log_format.h"

namespace commitlog {

using namespace format;

namespace {

std::string Num(uint64_t v) { return std::to_string(v); }

bool IsLeftover(const std::string& name) {
  // A segment prepared ahead of time (its content is irrelevant), or a
  // checkpoint, .broken copy or truncateFrom's trimmed segment copy that was
  // never renamed into place.
  uint64_t base;
  size_t seg_len = kSegmentNameDigits + kSegmentSuffixLen;
  bool seg_named = name.size() > seg_len && ParseSegmentName(name.substr(0, seg_len), &base);
  bool seg_temp = seg_named && (IsTempFor(name, name.substr(0, seg_len) + kBrokenSuffix) ||
                                IsTempFor(name, name.substr(0, seg_len)));
  return name.compare(0, std::strlen(kPreparedPrefix), kPreparedPrefix) == 0 ||
         IsTempFor(name, kCheckpointName) || seg_temp;
}

// --- Step 1: discover ------------------------------------------------------

// A batch header that passes the sanity checks, whether or not its batch
// is whole and its CRC matches: its fields can be trusted to say which use
// of the file wrote it (a torn write's header sector arrives whole or not).
bool SaneHeader(BatchState st, const BatchHeader& h) {
  return st == BatchState::kValid || st == BatchState::kBadCrc ||
         (st == BatchState::kTruncated && h.header_len != 0);
}

Status ListLog(Io* io, const std::string& dir, LogScan* scan, std::vector<uint64_t>* bases) {
  std::vector<std::string> names;
  Status s = io->ListDir(dir, &names);
  if (!s.ok()) return s;
  for (const std::string& name : names) {
    uint64_t base;
    if (ParseSegmentName(name, &base)) {
      bases->push_back(base);
    } else if (IsLeftover(name)) {
      scan->leftovers.push_back(JoinPath(dir, name));
    }
  }
  std::sort(bases->begin(), bases->end());
  // Segments all of whose records are below first_seq were being deleted by
  // truncateBefore, which records first_seq durably before it unlinks.
  if (scan->have_cp && scan->cp.version >= 2) {
    size_t n = 0;
    while (n + 1 < bases->size() && (*bases)[n + 1] <= scan->cp.first_seq) n++;
    for (size_t i = 0; i < n; i++) scan->below_first.push_back(JoinPath(dir, SegmentName((*bases)[i])));
    bases->erase(bases->begin(), bases->begin() + static_cast<std::ptrdiff_t>(n));
  }
  // An interrupted truncateFrom: whichever of its unlinks reached the disk,
  // nothing at or past cut_seq stays, and nothing there is read.
  if (scan->have_cp && scan->cp.has_cut) {
    auto cut = std::lower_bound(bases->begin(), bases->end(), scan->cp.cut_seq);
    for (auto b = cut; b != bases->end(); ++b) scan->beyond_cut.push_back(JoinPath(dir, SegmentName(*b)));
    bases->erase(cut, bases->end());
  }
  return Status::OK();
}

// Opens, syncs and scans every segment. Segments that may hold records the
// checkpoint does not prove durable have their cached pages dropped after
// the sync, so that their scan reads what the device holds.
// With `examine` (ExamineLog) nothing is synced or dropped: what the page
// cache shows is read, as a live writer's readers read it.
Status ScanAll(Io* io, const std::string& dir, const std::vector<uint64_t>& bases, LogScan* scan,
               bool examine) {
  uint64_t proven = scan->have_cp ? scan->cp.durable_seq : 0;
  uint64_t stop_seq = scan->have_cp && scan->cp.has_cut ? scan->cp.cut_seq : UINT64_MAX;
  for (size_t i = 0; i < bases.size(); i++) {
    SegmentScan seg;
    seg.base = bases[i];
    seg.path = JoinPath(dir, SegmentName(bases[i]));
    bool last = i + 1 == bases.size();
    ChainState chain;
    chain.next_seq = seg.base;
    chain.check_chain = i > 0;
    chain.last_crc = i > 0 ? scan->segs.back().chain.last_crc : 0;
    int fd;
    Status s = io->Open(seg.path, O_RDONLY, 0, &fd);
    if (!s.ok()) return s;
    // The previous process may have died with writes in the page cache (or
    // run with sync 'none'): force them down before reading, so that nothing
    // we decide on, and build on, can still vanish (TigerBeetle does this).
    if (!examine) s = io->Sync(fd, SyncKind::kData).WithPath(seg.path);
    // After a failed fdatasync (in the previous process, or in an open that
    // failed) Linux keeps the pages that never reached the disk, marked
    // clean: this sync returned 0 for them. Read from the device whatever
    // was not proven durable before: the tail, and everything at or past the
    // checkpoint's durable_seq (with sync 'none', many segments).
    bool unproven = last || bases[i + 1] > proven;
    if (s.ok() && unproven && !examine) s = io->DropCache(fd).WithPath(seg.path);
    if (s.ok()) s = ScanSegment(io, fd, seg.path, chain, &scan->log_id, &seg, stop_seq);
    io->Close(fd);
    if (!s.ok()) return s;
    scan->segs.push_back(std::move(seg));
  }
  return Status::OK();
}

// Looks at and after `from` in the segment for valid batches bound to this
// file and log (same epoch when known, base_seq >= min_seq): the highest
// commit_seq among them says what was durable when they were sealed. Also
// finds the end of the last non-zero byte, i.e. how much a cut must clear.
Status ScanBeyond(Io* io, const SegmentScan& seg, uint64_t from, uint64_t log_id, BeyondScan* out,
                  bool v1_log = false) {
  *out = BeyondScan();
  out->scanned = true;
  out->nonzero_end = from;
  int fd;
  Status s = io->Open(seg.path, O_RDONLY, 0, &fd);
  if (!s.ok()) return s;
  BatchReader reader(io, fd, seg.file_size);
  reader.set_log_id(log_id);
  std::vector<uint64_t> candidates;
  for (uint64_t off = from; s.ok() && off < seg.file_size;) {
    const char* p;
    size_t got = 0;
    s = reader.Peek(off, BatchReader::kDefaultWindow, &p, &got);
    if (!s.ok() || got == 0) break;
    for (size_t i = got; i > 0; i--) {
      if (p[i - 1] != 0) {
        out->nonzero_end = off + i;
        break;
      }
    }
    for (size_t i = 0; i + kMagicOffset + 4 <= got; i += kMinAlign) {
      if (DecodeFixed32(p + i + kMagicOffset) == kBatchMagic) candidates.push_back(off + i);
    }
    off += got;
  }
  out->live_end = from;
  for (size_t k = 0; s.ok() && k < candidates.size(); k++) {
    BatchHeader h;
    BatchState st = reader.ReadAt(candidates[k], &h, &s);
    if (!s.ok()) continue;
    // An older use's header (a recycled file, docs/FORMAT.md), and how far
    // this use's batches reach, torn ones too when their header arrived.
    bool sane = SaneHeader(st, h);
    if (sane && h.base_seq < seg.base) out->recycled = true;
    if (sane && h.base_seq >= seg.chain.next_seq && (seg.chain.batches == 0 || h.epoch == seg.chain.epoch)) {
      out->live_end = std::max(out->live_end, std::min(candidates[k] + h.span, seg.file_size));
    }
    if (st != BatchState::kValid) continue;
    if (seg.chain.batches > 0 && h.epoch != seg.chain.epoch) continue;
    // Version 1 batches bind to no place and no log: they count only in a
    // segment version 1 wrote, never in one this code writes (where they
    // can only be images inside records).
    if (h.version < kFormatVersion && seg.last_version != h.version && !(v1_log && seg.last_version == 0)) continue;
    if (h.base_seq < seg.chain.next_seq) continue;
    out->max_end_seq = std::max(out->max_end_seq, h.end_seq());
    if (h.commit_seq > out->proof_commit_seq) {
      out->proof_commit_seq = h.commit_seq;
      out->proof_offset = candidates[k];
    }
  }
  io->Close(fd);
  return s.WithPath(seg.path);
}

// Discover's first step, skipped when it only examines (ExamineLog).
Status SyncBeforeReading(Io* io, const std::string& dir) {
  // Every name the previous process created (segments, CHECKPOINT) may be
  // known to the page cache only, if it died before its directory fsync:
  // make them durable before reading anything, let alone acknowledging
  // (defect 1; TigerBeetle syncs on open for the same reason).
  Status d = io->SyncDir(dir);
  if (!d.ok()) return d;
  // The CHECKPOINT's content may be what the page cache shows only (an
  // in-place write a crash or a failed fdatasync left): make it durable, or
  // read what the device has, before deciding on it.
  {
    int cfd;
    std::string cpath = JoinPath(dir, kCheckpointName);
    Status o = io->Open(cpath, O_RDONLY, 0, &cfd);
    if (o.ok()) {
      o = io->Sync(cfd, SyncKind::kData).WithPath(cpath);
      if (o.ok()) o = io->DropCache(cfd).WithPath(cpath);
      io->Close(cfd);
      if (!o.ok()) return o;
    } else if (o.err() != ENOENT) {
      return o;
    }
  }
  return Status::OK();
}

Status Discover(Io* io, const std::string& dir, const LogOptions& options, LogScan* scan,
                bool examine = false) {
  if (!examine) {
    Status d = SyncBeforeReading(io, dir);
    if (!d.ok()) return d;
  }
  Status s = ReadCheckpoint(io, dir, &scan->cp, &scan->have_cp);
  if (s.code() == Code::kCorruption && options.recovery == RecoveryMode::kTruncate) {
    scan->cp_corrupt = true;  // decided on without it; rewritten
    scan->cp = Checkpoint();
  } else if (!s.ok()) {
    return s;
  }
  if (scan->have_cp && scan->cp.version >= 2) scan->log_id = scan->cp.log_id;
  std::vector<uint64_t> bases;
  s = ListLog(io, dir, scan, &bases);
  if (s.ok()) s = ScanAll(io, dir, bases, scan, examine);
  if (!s.ok() || scan->segs.empty()) return s;
  FindStop(scan);
  const SegmentScan& seg = scan->segs[scan->stop_index];
  const Checkpoint& cp = scan->cp;
  // A clean close recorded where the log ended: nothing was written past
  // it, so the rest of the segment need not be read. Nor when the walk
  // ended at bytes no batch of this use wrote: in a recycled file, an older
  // use's (garbage where a batch of this use ended inside an older batch).
  bool clean = scan->have_cp && cp.clean && scan->stop_in_tail && cp.tail_base == seg.base &&
               cp.tail_end == seg.end_offset && cp.tail_crc == seg.chain.last_crc &&
               (seg.clean_end || !seg.end_is_ours);
  for (size_t i = scan->stop_index + 1; i < scan->segs.size(); i++) {
    // Their walks stop at the chain the damage broke: look at every batch.
    SegmentScan later = scan->segs[i];
    later.chain.batches = 0;
    later.chain.next_seq = later.base;
    later.last_version = kFormatVersion;
    BeyondScan b;
    s = ScanBeyond(io, later, 0, scan->log_id, &b);
    if (!s.ok()) return s;
    scan->later_max_end_seq = std::max(scan->later_max_end_seq, b.max_end_seq);
  }
  if (clean || scan->stop_offset >= seg.file_size) return Status::OK();
  bool v1_log = !(scan->have_cp && cp.version >= kFormatVersion);
  return ScanBeyond(io, seg, scan->stop_offset, scan->log_id, &scan->beyond, v1_log);
}

// --- Step 2: decide --------------------------------------------------------

// Whether the checkpoint's accepted gap explains that the log ends at `seq`
// while durable_seq is higher (a crash after a 'truncate' recovery wrote the
// checkpoint and before appends went on past the gap).
bool GapExplains(const Checkpoint& cp, uint64_t seq) {
  return cp.has_gap && seq == cp.gap_from && cp.durable_seq <= cp.gap_to;
}

// Numbers handed out at or after the cut that were acknowledged (durable),
// as far as anything on disk says.
uint64_t HighestAcknowledged(const LogScan& scan) {
  uint64_t high = scan.cp.durable_seq;
  high = std::max({high, scan.beyond.max_end_seq, scan.later_max_end_seq});
  for (size_t i = scan.stop_index + 1; i < scan.segs.size(); i++) {
    high = std::max({high, scan.segs[i].base, scan.segs[i].chain.next_seq});
  }
  // A pending cut gave the numbers from cut_seq on back, by the caller's
  // decision: the dropped suffix's batches name no acknowledged number.
  if (scan.have_cp && scan.cp.has_cut) high = std::min(high, scan.cp.cut_seq);
  return high;
}

// Whether the kept last segment already is the one a roll to `next_seq`
// would start: it begins at that number and holds no batch of the log. Then
// appends go into it from offset 0, as into a new file (Apply zeroed what
// lay there and made its name durable); a roll would create its name again,
// and open would fail with EEXIST. A pending cut leaves such a segment when
// its batches below cut_seq never reached the disk: a sync 'none' run's
// unsynced pages, lost to a power loss, or to a failed fdatasync of the
// cut's zeroing (powerloss.regressions, "EEXIST").
bool IsNewSegmentAt(const SegmentScan& last, uint64_t next_seq) {
  assert(last.chain.batches > 0 || last.chain.next_seq == last.base);
  return last.chain.batches == 0 && last.base == next_seq;
}

}  // namespace

void FindStop(LogScan* scan) {
  assert(!scan->segs.empty());
  const Checkpoint& cp = scan->cp;
  for (size_t i = 0; i < scan->segs.size(); i++) {
    const SegmentScan& seg = scan->segs[i];
    if (i > 0) {
      const SegmentScan& prev = scan->segs[i - 1];
      uint64_t expected = prev.chain.next_seq;
      // A segment may start past where the previous one ended only after a
      // 'truncate' recovery gave numbers up: its first batch then chains to
      // the previous segment, or the checkpoint records the gap.
      bool gap_ok = seg.base > expected &&
                    (seg.chain.batches > 0 || (cp.has_gap && cp.gap_from == expected && cp.gap_to == seg.base));
      if (seg.base != expected && !gap_ok) {
        scan->stop_index = i - 1;
        scan->stop_offset = prev.end_offset;
        scan->stop_in_tail = false;
        scan->stop_reason = "segment " + SegmentName(seg.base) + " does not continue the previous one, which ends at sequence " +
                            Num(expected);
        return;
      }
    }
    // A walk that did not end cleanly is whole all the same when the next
    // segment starts at the number it ended at: a segment is made, and named,
    // only once its predecessor ends there. What follows its last batch is
    // then an older use's bytes (a recycled file: an older batch, or the rest
    // of one that a batch of this use ended inside), not lost records.
    bool whole = i + 1 < scan->segs.size() && scan->segs[i + 1].base == seg.chain.next_seq;
    if (i + 1 < scan->segs.size() && !seg.clean_end && !whole) {
      // Segments roll only after their last batch was synced: damage in any
      // segment but the last hit acknowledged records (unless the log ran
      // with sync 'none', see DecideRecovery).
      scan->stop_index = i;
      scan->stop_offset = seg.end_offset;
      scan->stop_in_tail = false;
      scan->stop_reason = seg.stop_reason + " in a sealed segment";
      return;
    }
  }
  const SegmentScan& tail = scan->segs.back();
  scan->stop_index = scan->segs.size() - 1;
  scan->stop_offset = tail.end_offset;
  scan->stop_in_tail = true;
  scan->stop_reason = tail.stop_reason;
}

RecoveryPlan DecideRecovery(const LogScan& scan, const LogOptions& options) {
  RecoveryPlan plan;
  RecoveryReport& rep = plan.report;
  bool strict = options.recovery == RecoveryMode::kStrict;
  const Checkpoint& cp = scan.cp;
  bool cp_has_first = scan.have_cp && cp.version >= 2;
  uint64_t cp_first = cp_has_first ? cp.first_seq : 0;
  plan.checkpoint.log_id = scan.log_id;
  plan.checkpoint.no_sync = options.sync == SyncMode::kNone;
  rep.truncation_finished = static_cast<uint32_t>(scan.below_first.size());
  // An interrupted truncateFrom(cp.cut_seq): the log ends there, and what
  // lies past it was given back by the caller, so it proves nothing.
  bool cut = scan.have_cp && cp.has_cut;
  rep.cut_finished = cut;

  if (scan.segs.empty()) {
    // An empty log, or one whose every segment is gone. A pending cut at
    // the log's first number empties it on purpose.
    plan.next_seq = cut ? cp.cut_seq : std::max(cp.durable_seq, cp_first);
    if (cut ? cp_first < cp.cut_seq : plan.next_seq > 0) {
      rep.reason = "no segment files, but the checkpoint says records up to sequence " + Num(plan.next_seq) +
                   " were acknowledged";
      if (strict) plan.refuse = Status::Corruption(rep.reason, "", 0);
      rep.corruption = true;
    }
    plan.first_seq = plan.next_seq;
    plan.checkpoint.durable_seq = plan.next_seq;
    plan.checkpoint.first_seq = plan.next_seq;
    // A cut that empties the log keeps its intent until open has made the
    // new segment's name durable (Log::Open clears it then): cleared before,
    // a crash would leave no segment under a CHECKPOINT that claims records.
    if (cut) {
      plan.checkpoint.has_cut = true;
      plan.checkpoint.cut_seq = cp.cut_seq;
    }
    return plan;
  }

  const SegmentScan& seg = scan.segs[scan.stop_index];
  uint64_t at = seg.chain.next_seq;  // first number not in the log
  // A pending cut inside the batch the walk stopped before: that batch's
  // records below cut_seq stay (Apply writes it again, cut down).
  bool trim = cut && scan.stop_in_tail && seg.at_cut && scan.stop_offset == seg.end_offset &&
              seg.cut_batch_base < cp.cut_seq;
  if (trim) at = cp.cut_seq;
  plan.first_seq = scan.segs.front().base;
  bool acknowledged = false;
  std::string reason = scan.stop_reason;
  // Records at or past this number were never proven durable: the log ran
  // with sync 'none' (its checkpoint was synced at open, its data never).
  uint64_t unproven_from = cp.no_sync ? cp.durable_seq : UINT64_MAX;
  bool later_given_up = true;  // every segment after the stop holds only given-up numbers
  for (size_t i = scan.stop_index + 1; i < scan.segs.size(); i++) later_given_up &= scan.segs[i].base < cp.gap_to;
  if (GapExplains(cp, at) && later_given_up) {
    // An earlier 'truncate' recovery gave these numbers up and recorded it
    // before it cut (a crash stopped it half-way): the loss is accepted.
  } else if (cp_has_first && cp_first < plan.first_seq) {
    acknowledged = true;
    reason = "the oldest segment is missing: the log starts at sequence " + Num(cp_first) +
             " but the first segment file starts at " + Num(plan.first_seq);
  } else if (!scan.stop_in_tail) {
    acknowledged = at < unproven_from;
  } else if (!cut && scan.beyond.proof_commit_seq > at) {
    acknowledged = true;
    reason = (reason.empty() ? std::string("zeroed space") : reason) + " followed by a valid batch at offset " +
             Num(scan.beyond.proof_offset) + " sealed when records up to " + Num(scan.beyond.proof_commit_seq) +
             " were durable";
  }
  if (!acknowledged && cp.durable_seq > at && !GapExplains(cp, at)) {
    acknowledged = true;
    reason = "the log ends at sequence " + Num(at) + " but the checkpoint says records up to " +
             Num(cp.durable_seq) + " were acknowledged" + (reason.empty() ? "" : " (" + reason + ")");
  }
  if (acknowledged && strict) {
    plan.refuse = Status::Corruption(reason, seg.path, scan.stop_offset);
    return plan;
  }

  plan.keep_segments = scan.stop_index + 1;
  plan.cut_offset = scan.stop_offset;
  // In a recycled file only what a header shows to be this use's was
  // written past the stop (ScanBeyond): the rest is an older use's bytes,
  // neither damage nor records, so it is not cut, saved or reported.
  uint64_t written_end = scan.beyond.recycled ? scan.beyond.live_end : scan.beyond.nonzero_end;
  uint64_t nonzero_end = std::max(written_end, scan.stop_offset);
  plan.zero_to = std::min<uint64_t>((nonzero_end + kMinAlign - 1) / kMinAlign * kMinAlign, seg.file_size);
  rep.segments_dropped = static_cast<uint32_t>(scan.segs.size() - plan.keep_segments);
  rep.bytes_dropped = nonzero_end - scan.stop_offset;
  plan.next_seq = at;
  uint64_t high = acknowledged ? HighestAcknowledged(scan) : 0;
  if (high > at) {
    // Numbers [at, high) were handed out and acknowledged for content that
    // is gone: give them up rather than name new content with them.
    plan.next_seq = high;
    rep.gap_from = at;
    rep.gap_to = high;
    // Nothing kept since the recorded gap: one gap, and the emptied segment
    // after it goes (FindStop accepts an empty segment only at the gap's end).
    if (cp.has_gap && cp.gap_to == at && scan.stop_offset == 0 && scan.stop_index > 0 &&
        scan.segs[scan.stop_index - 1].chain.next_seq == cp.gap_from) {
      rep.gap_from = cp.gap_from;
      plan.keep_segments = scan.stop_index;
      plan.cut_offset = plan.zero_to = scan.segs[scan.stop_index - 1].end_offset;
      rep.segments_dropped++;
    }
  } else if (!acknowledged && GapExplains(cp, at)) {
    plan.next_seq = cp.gap_to;
    rep.gap_from = cp.gap_from;
    rep.gap_to = cp.gap_to;
  }
  bool gap = plan.next_seq > at;
  if (gap && scan.beyond.recycled && plan.keep_segments == scan.stop_index + 1) {
    // The kept segment now ends before given-up numbers, which readers tell
    // from damage by a clean end: an older use's bytes go too, so that it
    // ends in zeros (a rare path, worth no more than a new file's fill).
    uint64_t all = std::max(scan.beyond.nonzero_end, scan.stop_offset);
    plan.zero_to = std::max(plan.zero_to,
                            std::min<uint64_t>((all + kMinAlign - 1) / kMinAlign * kMinAlign, seg.file_size));
  }
  plan.trim = trim;
  // After a cut, appends start a new segment: a trimmed segment ends where
  // its rewritten batch does, not at cut_offset.
  plan.roll = gap || cut || (seg.chain.batches > 0 &&
                      (seg.last_version < kFormatVersion || plan.cut_offset % options.align_bytes != 0));
  assert(plan.keep_segments > 0);
  if (plan.roll && IsNewSegmentAt(scan.segs[plan.keep_segments - 1], plan.next_seq)) plan.roll = false;
  assert(!plan.roll || scan.segs[plan.keep_segments - 1].base != plan.next_seq);
  if (acknowledged || (!cut && (rep.bytes_dropped > 0 || rep.segments_dropped > 0))) {
    rep.corruption = acknowledged;
    rep.torn_tail = !acknowledged && (rep.bytes_dropped > 0 || rep.segments_dropped > 0);
    rep.reason = reason;
    rep.file = seg.path;
    rep.offset = scan.stop_offset;
  }
  Checkpoint& out = plan.checkpoint;
  out.durable_seq = plan.next_seq;
  out.first_seq = plan.first_seq;
  out.has_gap = gap;
  out.gap_from = gap ? rep.gap_from : 0;
  out.gap_to = gap ? rep.gap_to : 0;
  if (!gap && cp.has_gap && cp.gap_to >= plan.first_seq) {
    out.has_gap = true;  // keep an older gap while it is inside the log
    out.gap_from = cp.gap_from;
    out.gap_to = cp.gap_to;
  }
  return plan;
}

// --- Step 3: apply ---------------------------------------------------------

namespace {

// Copies the cut bytes aside for inspection. Best effort: a full disk must
// not make a log with a torn tail unopenable (defect 9).
void SaveBroken(Io* io, const SegmentScan& seg, uint64_t from, uint64_t to, const LogOptions& options,
                RecoveryReport* rep) {
  uint64_t n = std::min(to - from, options.broken_bytes_max);
  if (n == 0) return;
  int fd;
  Status s = io->Open(seg.path, O_RDONLY, 0, &fd);
  std::string bytes;
  if (s.ok()) {
    bytes.resize(static_cast<size_t>(n));
    size_t got = 0;
    s = io->PRead(fd, &bytes[0], bytes.size(), from, &got);
    io->Close(fd);
    bytes.resize(got);
    s.WithPath(seg.path);
  }
  std::string path = seg.path + kBrokenSuffix;
  // The cut bytes are records too: no more readable than the log's files.
  if (s.ok()) s = ReplaceFileDurable(io, path, bytes.data(), bytes.size(), static_cast<int>(options.file_mode));
  if (s.ok()) {
    rep->broken_file = path;
  } else {
    rep->broken_error = s.ToString();
  }
}

bool SameCheckpoint(const LogScan& scan, const Checkpoint& next) {
  // A version 1 checkpoint (no log_id) is always replaced.
  if (!scan.have_cp || scan.cp_corrupt || scan.cp.version != kFormatVersion) return false;
  return EncodeCheckpoint(scan.cp) == EncodeCheckpoint(next);
}

Status Apply(Io* io, const std::string& dir, const LogOptions& options, const LogScan& scan,
             RecoveryPlan* plan, uint32_t* chain_crc) {
  // 1. The decision, durably, before any file changes: a crash half-way
  // through must lead the next open to the same numbers (no number given
  // out twice) and the same start of the log.
  // The no-sync flag of a sync 'none' run stays until the cut it excuses is
  // durable: a crash before that must find the same evidence judged the same
  // way, not as damage to acknowledged data.
  for (const std::string& p : scan.leftovers) io->Unlink(p);  // CHECKPOINT.tmp-<pid>-<n> of a same-pid process
  CheckpointKeeper keeper(io, dir, static_cast<int>(options.file_mode));
  Checkpoint first = plan->checkpoint;
  first.no_sync = first.no_sync || (scan.have_cp && scan.cp.no_sync);
  // A pending cut's intent, likewise, stays until the cut is durable.
  bool pending_cut = scan.have_cp && scan.cp.has_cut;
  first.has_cut = pending_cut;
  first.cut_seq = pending_cut ? scan.cp.cut_seq : 0;
  if (!SameCheckpoint(scan, first)) {
    Status s = keeper.Update([&first](Checkpoint* cp) { *cp = first; });
    if (!s.ok()) return s;
  }
  for (const std::string& p : scan.leftovers) io->Unlink(p);
  for (const std::string& p : scan.below_first) {
    Status s = io->Unlink(p);
    if (!s.ok() && s.err() != ENOENT) return s;
  }
  CutPlan cut;
  cut.seq = plan->next_seq;
  cut.file_mode = options.file_mode;
  for (size_t i = plan->keep_segments; i < scan.segs.size(); i++) cut.drop.push_back(scan.segs[i].path);
  cut.drop.insert(cut.drop.end(), scan.beyond_cut.begin(), scan.beyond_cut.end());
  if (plan->keep_segments > 0) {
    const SegmentScan& seg = scan.segs[plan->keep_segments - 1];
    cut.segment = seg.path;
    cut.offset = plan->cut_offset;
    cut.zero_to = plan->zero_to;
    cut.trim = plan->trim;
    cut.chain_crc = seg.chain.last_crc;
    // What a pending cut drops was given back, not damaged: nothing to keep.
    if (!pending_cut && plan->zero_to > plan->cut_offset) {
      SaveBroken(io, seg, plan->cut_offset, plan->cut_offset + plan->report.bytes_dropped,
                 options, &plan->report);
    }
  }
  // 2. The cut, the same one a live truncateFrom applies, ends with a
  // directory fsync. The unlinks must be durable before step 3's checkpoint
  // clears the no-sync flag or the cut intent, and before a gap's new segment
  // gets its name: one later directory fsync would make them durable
  // together, in no order, and a power loss could keep the new checkpoint
  // while a segment after the cut comes back, unexcused (found by a review;
  // test in powerloss.regressions).
  Status s = ApplyCut(io, dir, cut, plan->checkpoint.log_id, options.align_bytes, chain_crc);
  // 3. Only now may the checkpoint stop excusing unsynced data, or stop
  // asking for the cut.
  if (s.ok() && EncodeCheckpoint(first) != EncodeCheckpoint(plan->checkpoint)) {
    s = keeper.Update([plan](Checkpoint* cp) { *cp = plan->checkpoint; });
  }
  return s;
}

}  // namespace

Status ScanSegment(Io* io, int fd, const std::string& path, const ChainState& chain,
                   uint64_t* log_id, SegmentScan* out, uint64_t stop_seq) {
  out->chain = chain;
  out->end_offset = 0;
  out->clean_end = false;
  out->end_is_ours = false;
  out->at_cut = false;
  out->cut_batch_base = 0;
  out->last_version = 0;
  out->newest_ms = 0;
  out->index.clear();
  Status s = io->FileSize(fd, &out->file_size);
  if (!s.ok()) return s.WithPath(path);
  BatchReader reader(io, fd, out->file_size, 1 << 20);
  reader.set_log_id(*log_id);
  uint64_t pos = 0;
  while (pos < out->file_size) {
    BatchHeader h;
    BatchState st = reader.ReadAt(pos, &h, &s);
    if (!s.ok()) return s.WithPath(path);
    if (st == BatchState::kZero) break;
    const char* refuse = st == BatchState::kValid ? out->chain.Refuse(h) : DescribeBatchState(st);
    if (refuse != nullptr) {
      out->stop_reason = refuse;
      out->end_is_ours = SaneHeader(st, h) && (out->chain.batches == 0 || h.epoch == out->chain.epoch);
      return Status::OK();
    }
    if (h.end_seq() > stop_seq) {
      // A pending cut ends the log in or before this batch: the walk ends
      // cleanly here, and the decision keeps what lies below stop_seq.
      out->at_cut = true;
      out->cut_batch_base = h.base_seq;
      break;
    }
    if (out->index.empty() || pos >= out->index.back().offset + SegmentSet::kIndexStrideBytes) {
      out->index.push_back({h.base_seq, pos});
    }
    out->chain.Accept(h);
    out->last_version = h.version;
    out->newest_ms = std::max(out->newest_ms, h.timestamp_ms);
    if (*log_id == 0 && h.log_id != 0) {
      *log_id = h.log_id;
      reader.set_log_id(*log_id);
    }
    pos += h.span;
    out->end_offset = pos;
  }
  out->clean_end = true;
  return Status::OK();
}

Status Recover(Io* io, const std::string& dir, const LogOptions& options, RecoveredLog* out) {
  *out = RecoveredLog();
  LogScan scan;
  Status s = Discover(io, dir, options, &scan);
  if (!s.ok()) return s;
  RecoveryPlan plan = DecideRecovery(scan, options);
  if (!plan.refuse.ok()) return plan.refuse.WithPath(dir);
  if (plan.checkpoint.log_id == 0) plan.checkpoint.log_id = NewLogId();
  uint32_t chain_crc = 0;
  s = Apply(io, dir, options, scan, &plan, &chain_crc);
  if (!s.ok()) return s;
  out->report = plan.report;
  out->next_seq = plan.next_seq;
  out->roll = plan.roll;
  out->checkpoint = plan.checkpoint;
  for (size_t i = 0; i < plan.keep_segments; i++) {
    SegmentScan& sg = scan.segs[i];
    SegmentMeta m;
    m.base_seq = sg.base;
    m.end_seq = sg.chain.next_seq;
    if (plan.trim && i + 1 == plan.keep_segments) m.end_seq = plan.next_seq;  // its batch was cut down to end there
    m.path = sg.path;
    m.index = std::move(sg.index);
    m.size_bytes = sg.end_offset;
    m.newest_ms = sg.newest_ms;
    out->segments.push_back(std::move(m));
  }
  if (!out->segments.empty()) {
    const SegmentScan& tail = scan.segs[plan.keep_segments - 1];
    out->tail_end = plan.cut_offset;
    out->tail_epoch = tail.chain.batches > 0 ? tail.chain.epoch : 0;
    out->tail_chain_crc = chain_crc;  // the kept last batch's, or the trimmed one's
    assert(out->tail_end == tail.end_offset);
  }
  return Status::OK();
}

Status ExamineLog(Io* io, const std::string& dir, LogExamination* out) {
  *out = LogExamination();
  LogOptions options;
  // Discover reads a damaged CHECKPOINT only in truncate mode; a strict open
  // would refuse it, which the strict plan below says.
  options.recovery = RecoveryMode::kTruncate;
  Status s = Discover(io, dir, options, &out->scan, /*examine=*/true);
  if (!s.ok()) return s;
  out->truncate = DecideRecovery(out->scan, options);
  options.recovery = RecoveryMode::kStrict;
  out->strict = DecideRecovery(out->scan, options);
  if (out->scan.cp_corrupt) {
    out->strict.refuse = Status::Corruption("CHECKPOINT fails its checksum", JoinPath(dir, kCheckpointName), 0);
  }
  return Status::OK();
}

}  // namespace commitlog
