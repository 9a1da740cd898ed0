#include "recovery.h"

#include <fcntl.h>

#include <algorithm>
#include <cassert>
#include <cstring>

#include "atomic_file.h"
#include "checkpoint.h"
#include "coding.h"
#include "log_format.h"

namespace commitlog {

using namespace format;

namespace {

constexpr size_t kScanChunk = 1 << 20;

const char* Describe(BatchState st) {
  switch (st) {
    case BatchState::kValid: return "valid batch";
    case BatchState::kZero: return "zeroed space";
    case BatchState::kTruncated: return "incomplete batch";
    case BatchState::kBadHeader: return "invalid batch header";
    case BatchState::kBadCrc: return "batch fails its checksum";
  }
  return "?";
}

std::string Num(uint64_t v) { return std::to_string(v); }

// Looks at and after `from` for a valid batch that would continue this
// segment (same epoch when known, base_seq >= min_seq): if one exists, the
// damage at `from` hit a batch that was already acknowledged. Also finds the
// end of the last non-zero byte, i.e. how much a cut must clear.
Status ScanBeyond(Io* io, int fd, uint64_t from, uint64_t size, uint32_t epoch,
                  uint64_t min_seq, bool* found, uint64_t* found_offset,
                  uint64_t* nonzero_end) {
  *found = false;
  *nonzero_end = from;
  std::string chunk(kScanChunk, '\0');
  std::string scratch;
  for (uint64_t off = from; off < size;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(kScanChunk, size - off));
    size_t got = 0;
    Status s = io->PRead(fd, &chunk[0], n, off, &got);
    if (!s.ok()) return s;
    if (got == 0) break;
    for (size_t i = got; i > 0; i--) {
      if (chunk[i - 1] != 0) {
        *nonzero_end = off + i;
        break;
      }
    }
    for (size_t i = 0; !*found && i + 8 <= got; i += kMinAlign) {
      if (DecodeFixed32(chunk.data() + i + kMagicOffset) != kBatchMagic) continue;
      BatchHeader h;
      BatchState st = ReadBatchAt(io, fd, off + i, size, &scratch, &h, &s);
      if (!s.ok()) return s;
      if (st == BatchState::kValid && (epoch == 0 || h.epoch == epoch) && h.base_seq >= min_seq) {
        *found = true;
        *found_offset = off + i;
      }
    }
    off += got;
  }
  return Status::OK();
}

struct Seg {
  uint64_t base = 0;
  std::string path;
  ScanResult scan;
};

// Where recovery must cut: segment `index`, byte `offset`.
struct Cut {
  bool acknowledged = false;  // the damage hit acknowledged data
  size_t index = 0;
  uint64_t offset = 0;
  std::string reason;
};

Status ListLog(Io* io, const std::string& dir, std::vector<uint64_t>* bases) {
  std::vector<std::string> names;
  Status s = io->ListDir(dir, &names);
  if (!s.ok()) return s;
  for (const std::string& name : names) {
    uint64_t base;
    if (ParseSegmentName(name, &base)) {
      bases->push_back(base);
    } else if (name.compare(0, std::strlen(kPreparedPrefix), kPreparedPrefix) == 0 ||
               IsTempFor(name, kCheckpointName)) {
      // Leftovers of a crash: a segment prepared ahead of time (its content
      // is irrelevant) or a checkpoint that was never renamed into place.
      io->Unlink(JoinPath(dir, name));
    }
  }
  std::sort(bases->begin(), bases->end());
  return Status::OK();
}

Status ScanAll(Io* io, const std::string& dir, const std::vector<uint64_t>& bases,
               std::vector<Seg>* segs, Cut* cut) {
  for (size_t i = 0; i < bases.size(); i++) {
    Seg seg;
    seg.base = bases[i];
    seg.path = JoinPath(dir, SegmentName(bases[i]));
    bool last = i + 1 == bases.size();
    if (i > 0 && seg.base != segs->back().scan.next_seq) {
      *cut = {true, i - 1, segs->back().scan.end_offset,
              "segment " + SegmentName(seg.base) + " does not continue the previous one, which ends at sequence " +
                  Num(segs->back().scan.next_seq)};
      return Status::OK();
    }
    int fd;
    Status s = io->Open(seg.path, O_RDONLY, 0, &fd);
    // The previous process may have died with writes in the page cache: force
    // them down before reading, so that nothing we decide on (and build on)
    // can still vanish in a power loss (TigerBeetle does the same on open).
    if (s.ok() && last) s = io->Sync(fd, SyncKind::kData).WithPath(seg.path);
    if (s.ok()) {
      bool chain = i > 0;
      uint32_t chain_crc = i > 0 ? segs->back().scan.last_crc : 0;
      s = ScanSegment(io, fd, seg.path, seg.base, chain, chain_crc, &seg.scan);
      io->Close(fd);
    }
    if (!s.ok()) return s;
    segs->push_back(std::move(seg));
    const ScanResult& r = segs->back().scan;
    if (!last && !r.clean_end) {
      // Segments roll only after their last batch was synced: damage in any
      // segment but the last hit acknowledged records.
      *cut = {true, i, r.end_offset, r.stop_reason + " in a sealed segment"};
      return Status::OK();
    }
  }
  return Status::OK();
}

Status SaveBroken(Io* io, const Seg& seg, uint64_t from, uint64_t to, uint64_t max_bytes,
                  std::string* broken_path) {
  uint64_t n = std::min(to - from, max_bytes);
  if (n == 0) return Status::OK();
  int fd;
  Status s = io->Open(seg.path, O_RDONLY, 0, &fd);
  if (!s.ok()) return s;
  std::string bytes(static_cast<size_t>(n), '\0');
  size_t got = 0;
  s = io->PRead(fd, &bytes[0], bytes.size(), from, &got);
  io->Close(fd);
  if (!s.ok()) return s.WithPath(seg.path);
  bytes.resize(got);
  *broken_path = seg.path + kBrokenSuffix;
  return ReplaceFileDurable(io, *broken_path, bytes.data(), bytes.size(), 0644);
}

// Overwrites [from, to) with zeros rather than truncating, so that a
// preallocated segment keeps its written blocks and later appends stay
// overwrites (no metadata to flush). Synced before any new batch is written.
Status ZeroRange(Io* io, const std::string& path, uint64_t from, uint64_t to) {
  int fd;
  Status s = io->Open(path, O_RDWR, 0, &fd);
  if (!s.ok()) return s;
  std::string zeros(kScanChunk, '\0');
  for (uint64_t off = from; s.ok() && off < to;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), to - off));
    s = io->PWrite(fd, zeros.data(), n, off);
    off += n;
  }
  // The cut must be durable before appends reuse this space: otherwise a
  // power loss could bring back the torn bytes after new batches.
  if (s.ok()) s = io->Sync(fd, SyncKind::kData);
  io->Close(fd);
  return s.WithPath(path);
}

}  // namespace

Status ScanSegment(Io* io, int fd, const std::string& path, uint64_t base_seq, bool chain,
                   uint32_t chain_crc, ScanResult* out) {
  *out = ScanResult();
  out->next_seq = base_seq;
  out->last_crc = chain_crc;
  Status s = io->FileSize(fd, &out->file_size);
  if (!s.ok()) return s.WithPath(path);
  std::string buf;
  uint64_t pos = 0;
  while (pos < out->file_size) {
    BatchHeader h;
    BatchState st = ReadBatchAt(io, fd, pos, out->file_size, &buf, &h, &s);
    if (!s.ok()) return s.WithPath(path);
    if (st == BatchState::kZero) {
      out->clean_end = true;
      return Status::OK();
    }
    if (st != BatchState::kValid) {
      out->stop_reason = Describe(st);
      return Status::OK();
    }
    // A valid batch that does not continue the segment is stale (bytes of an
    // older use of the file, RocksDB's recyclable-log rule): it ends the log.
    if (out->batches > 0 && h.epoch != out->epoch) {
      out->stop_reason = "batch of another segment epoch";
      return Status::OK();
    }
    if (h.base_seq != out->next_seq) {
      out->stop_reason = "batch starts at sequence " + Num(h.base_seq) + ", expected " + Num(out->next_seq);
      return Status::OK();
    }
    if ((out->batches > 0 || chain) && h.prev_crc != out->last_crc) {
      out->stop_reason = "batch does not chain to the previous one";
      return Status::OK();
    }
    if (out->batches == 0) out->epoch = h.epoch;
    if (out->index.empty() || pos >= out->index.back().offset + SegmentSet::kIndexStrideBytes) {
      out->index.push_back({h.base_seq, pos});
    }
    out->batches++;
    out->next_seq += h.count;
    out->last_crc = h.crc;
    pos += h.span;
    out->end_offset = pos;
  }
  out->clean_end = true;
  return Status::OK();
}

Status Recover(Io* io, const std::string& dir, const LogOptions& options, RecoveredLog* out) {
  *out = RecoveredLog();
  bool strict = options.recovery == RecoveryMode::kStrict;
  std::vector<uint64_t> bases;
  Status s = ListLog(io, dir, &bases);
  if (!s.ok()) return s;

  Checkpoint cp;
  bool have_cp = false;
  s = ReadCheckpoint(io, dir, &cp, &have_cp);
  if (s.code() == Code::kCorruption && !strict) {
    out->rewrite_checkpoint = true;
  } else if (!s.ok()) {
    return s;
  }

  std::vector<Seg> segs;
  Cut cut;
  cut.index = SIZE_MAX;
  s = ScanAll(io, dir, bases, &segs, &cut);
  if (!s.ok()) return s;

  if (segs.empty()) {
    if (have_cp && cp.durable_seq > 0) {
      if (strict) {
        return Status::Corruption("no segment files, but the checkpoint says records up to sequence " +
                                      Num(cp.durable_seq) + " were acknowledged",
                                  dir, 0);
      }
      out->report.corruption = true;
      out->report.reason = "all segment files are missing";
      out->report.file = dir;
      out->next_seq = cp.durable_seq;  // never hand out a sequence number twice
      out->rewrite_checkpoint = true;
    }
    return Status::OK();
  }

  if (cut.index == SIZE_MAX) {
    // No damage in sealed segments: look at the tail of the last one.
    const Seg& t = segs.back();
    cut.index = segs.size() - 1;
    cut.offset = t.scan.end_offset;
    cut.reason = t.scan.stop_reason;
  }
  Seg& tail = segs[cut.index];
  // A clean close records where the log ended: nothing was written past it,
  // so the rest of the segment need not be read.
  bool clean_close = have_cp && cp.clean && cp.tail_base == tail.base &&
                     cp.tail_end == tail.scan.end_offset && cp.tail_crc == tail.scan.last_crc &&
                     tail.scan.clean_end && cut.index + 1 == segs.size();
  uint64_t nonzero_end = cut.offset;
  if (!clean_close && cut.offset < tail.scan.file_size) {
    int fd;
    s = io->Open(tail.path, O_RDONLY, 0, &fd);
    if (!s.ok()) return s;
    bool found = false;
    uint64_t found_at = 0;
    s = ScanBeyond(io, fd, cut.offset, tail.scan.file_size, tail.scan.epoch, tail.scan.next_seq,
                   &found, &found_at, &nonzero_end);
    io->Close(fd);
    if (!s.ok()) return s.WithPath(tail.path);
    if (found && !cut.acknowledged) {
      cut.acknowledged = true;
      cut.reason = (cut.reason.empty() ? std::string("zeroed space") : cut.reason) +
                   " followed by a valid batch at offset " + Num(found_at);
    }
  }
  uint64_t end_seq = tail.scan.next_seq;
  if (!cut.acknowledged && have_cp && cp.durable_seq > end_seq) {
    cut.acknowledged = true;
    cut.reason = "the log ends at sequence " + Num(end_seq) + " but the checkpoint says records up to " +
                 Num(cp.durable_seq) + " were acknowledged" + (cut.reason.empty() ? "" : " (" + cut.reason + ")");
  }
  if (cut.acknowledged && strict) return Status::Corruption(cut.reason, tail.path, cut.offset);

  // From here on recovery changes files: the decision is made.
  RecoveryReport& rep = out->report;
  bool dir_changed = false;
  for (size_t i = cut.index + 1; i < segs.size(); i++) {
    // kTruncate: the user asked to keep the valid prefix; later segments
    // cannot be chained to it any more.
    s = io->Unlink(segs[i].path);
    if (!s.ok()) return s;
    rep.segments_dropped++;
    dir_changed = true;
  }
  segs.resize(cut.index + 1);
  if (nonzero_end > cut.offset) {
    s = SaveBroken(io, tail, cut.offset, nonzero_end, options.broken_bytes_max, &rep.broken_file);
    if (!s.ok()) return s;
    uint64_t to = (nonzero_end + kMinAlign - 1) / kMinAlign * kMinAlign;
    s = ZeroRange(io, tail.path, cut.offset, std::min(to, tail.scan.file_size));
    if (!s.ok()) return s;
    rep.bytes_dropped = nonzero_end - cut.offset;
    rep.torn_tail = !cut.acknowledged;
  }
  if (dir_changed) {
    s = io->SyncDir(dir);  // make the unlinks durable before appends continue
    if (!s.ok()) return s;
  }
  if (cut.acknowledged || rep.torn_tail) {
    rep.corruption = cut.acknowledged;
    rep.reason = cut.reason;
    rep.file = tail.path;
    rep.offset = cut.offset;
  }
  out->rewrite_checkpoint = out->rewrite_checkpoint || cut.acknowledged || (have_cp && cp.clean);
  for (Seg& sg : segs) {
    SegmentMeta m;
    m.base_seq = sg.base;
    m.path = sg.path;
    m.index = std::move(sg.scan.index);
    out->segments.push_back(std::move(m));
  }
  out->next_seq = end_seq;
  out->tail_end = cut.offset;
  out->tail_epoch = tail.scan.epoch;
  out->tail_chain_crc = tail.scan.last_crc;
  assert(out->tail_end == tail.scan.end_offset);
  return Status::OK();
}

}  // namespace commitlog
