#include "cut.h"

#include <fcntl.h>

#include <algorithm>
#include <cassert>
#include <cerrno>

#include "atomic_file.h"
#include "batch.h"
#include "coding.h"
#include "log_format.h"
#include "reader.h"

namespace commitlog {

namespace {

// The batch at `offset` of fd, re-encoded with only its records below seq:
// same epoch, chain, place, watermark and time, so that it continues the log
// exactly where the original did.
Status TrimBatch(Io* io, int fd, uint64_t offset, uint64_t seq, uint64_t log_id, uint32_t align,
                 BatchBuilder* out, uint32_t* span) {
  uint64_t size = 0;
  Status s = io->FileSize(fd, &size);
  if (!s.ok()) return s;
  BatchReader reader(io, fd, size);
  reader.set_log_id(log_id);
  BatchHeader h;
  BatchState st = reader.ReadAt(offset, &h, &s);
  if (!s.ok()) return s;
  if (st != BatchState::kValid || h.base_seq >= seq || h.end_seq() <= seq) {
    return Status::Corruption("the batch to cut down fails verification", "", offset);
  }
  const char* p = reader.payload();
  for (uint64_t i = h.base_seq; i < seq; i++) {
    uint32_t len = DecodeFixed32(p);
    p += format::kRecordFrameSize;
    if (!out->Add(p, len)) return Status::NoMemory("cutting a batch down");
    p += len;
  }
  SealInfo info;
  info.epoch = h.epoch;
  info.base_seq = h.base_seq;
  info.prev_crc = h.prev_crc;
  info.file_offset = offset;
  info.commit_seq = h.commit_seq;
  info.timestamp_ms = h.timestamp_ms;
  info.log_id = log_id;  // a version 1 batch has none; the rewritten one is version 2
  *span = out->Seal(info, align);
  return Status::OK();
}

Status CopyPrefix(Io* io, int in, int out, uint64_t n) {
  std::string buf(std::min<uint64_t>(n, 1 << 20), '\0');
  Status s;
  for (uint64_t off = 0; s.ok() && off < n;) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), n - off));
    size_t got = 0;
    s = io->PRead(in, &buf[0], want, off, &got);
    if (s.ok() && got != want) return Status::Corruption("segment shorter than the batches it holds", "", off + got);
    if (s.ok()) s = io->PWrite(out, buf.data(), want, off);
    off += want;
  }
  return s;
}

// Replaces the segment with its bytes [0, offset) followed by the batch at
// offset cut down to end at seq. Never writes into the segment itself: an
// in-place write that a power loss tears could take acknowledged records
// below seq with it.
Status RewriteTrimmed(Io* io, const std::string& path, uint64_t offset, uint64_t seq, uint64_t log_id,
                      uint32_t align, uint32_t mode, uint32_t* crc) {
  int in;
  Status s = io->Open(path, O_RDONLY, 0, &in);
  if (!s.ok()) return s;
  BatchBuilder trimmed;
  uint32_t span = 0;
  s = TrimBatch(io, in, offset, seq, log_id, align, &trimmed, &span).WithPath(path);
  std::string tmp = TempPathFor(path);
  int out = -1;
  if (s.ok()) s = io->Open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode, &out);
  if (s.ok()) s = CopyPrefix(io, in, out, offset).WithPath(path);
  if (s.ok()) s = io->PWrite(out, trimmed.data(), span, offset).WithPath(tmp);
  // The copy holds acknowledged records: it must be on disk before the
  // rename can make it the segment.
  if (s.ok()) s = io->Sync(out, SyncKind::kData).WithPath(tmp);
  io->Close(in);
  if (out >= 0) io->Close(out);
  // rename(2) is atomic: the segment is the old file or the trimmed copy,
  // never a mix. ApplyCut's directory sync makes it durable.
  if (s.ok()) s = io->Rename(tmp, path);
  if (!s.ok() && out >= 0) io->Unlink(tmp);  // recovery sweeps it if this fails too
  if (s.ok()) *crc = trimmed.sealed_crc();
  return s;
}

}  // namespace

Status PlanCutInSegment(Io* io, const SegmentMeta& holder, uint64_t start_offset, uint64_t seq,
                        uint64_t log_id, CutPlan* plan) {
  assert(holder.base_seq < seq);
  int fd;
  Status s = io->Open(holder.path, O_RDONLY, 0, &fd);
  if (!s.ok()) return s;
  uint64_t size = 0;
  s = io->FileSize(fd, &size);
  BatchReader reader(io, fd, size);
  reader.set_log_id(log_id);
  plan->segment = holder.path;
  bool found = false;
  uint64_t next = holder.base_seq;  // after the batches walked below the cut
  uint32_t last_crc = 0;
  uint64_t pos = start_offset;
  while (s.ok() && pos < size) {
    BatchHeader h;
    BatchState st = reader.ReadAt(pos, &h, &s);
    if (!s.ok() || st != BatchState::kValid) break;
    // An older use's batch (a recycled file) ends the segment's batches:
    // nothing of it can continue the log or prove anything, so it stays.
    if (h.base_seq < holder.base_seq) break;
    if (!found && h.end_seq() <= seq) {
      next = h.end_seq();
      last_crc = h.crc;
    } else if (!found) {
      if (h.base_seq > seq) break;  // a hole below the cut: reported below
      found = true;
      next = seq;
      plan->offset = pos;
      plan->trim = h.base_seq < seq;
      plan->chain_crc = h.prev_crc;
    }
    pos += h.span;  // past the cut, to learn how far its batches reach
  }
  io->Close(fd);
  if (!s.ok()) return s.WithPath(holder.path);
  // Everything below min(seq, end of the segment) was durable and verified:
  // not finding it is damage, and nothing may be cut on a guess.
  if (next < std::min(seq, holder.end_seq)) {
    return Status::Corruption("durable batch fails verification", holder.path, pos);
  }
  if (!found) {
    plan->offset = pos;
    plan->chain_crc = last_crc;
  }
  plan->zero_to = found && !plan->trim ? pos : plan->offset;
  return Status::OK();
}

Status ApplyCut(Io* io, const std::string& dir, const CutPlan& plan, uint64_t log_id, uint32_t align,
                uint32_t* chain_crc) {
  for (const std::string& p : plan.drop) {
    // Nothing past the cut can be chained to what is kept.
    Status s = io->Unlink(p);
    if (!s.ok() && s.err() != ENOENT) return s;
  }
  *chain_crc = plan.chain_crc;
  Status s;
  if (!plan.segment.empty() && plan.trim) {
    s = RewriteTrimmed(io, plan.segment, plan.offset, plan.seq, log_id, align, plan.file_mode, chain_crc);
  } else if (!plan.segment.empty() && plan.zero_to > plan.offset) {
    // Stale batches past the end would continue the log's chain, or prove
    // (commit_seq) that records past the cut were acknowledged.
    s = ZeroRange(io, plan.segment, plan.offset, plan.zero_to);
  }
  if (!s.ok()) return s;
  // The unlinks and the rename must be durable before anything relies on
  // the cut being done (the CHECKPOINT's intent is cleared, a segment of the
  // same name is made): one later directory fsync would make them durable
  // with those, in no order.
  return io->SyncDir(dir);
}

// Overwrites [from, to) with zeros rather than truncating, so that a
// preallocated segment keeps its written blocks and later appends stay
// overwrites (no metadata to flush).
Status ZeroRange(Io* io, const std::string& path, uint64_t from, uint64_t to) {
  int fd;
  Status s = io->Open(path, O_RDWR, 0, &fd);
  if (!s.ok()) return s;
  s = WriteZeros(io, fd, from, to);
  // The cut must be durable before appends reuse this space: otherwise a
  // power loss could bring back the cut bytes after new batches.
  if (s.ok()) s = io->Sync(fd, SyncKind::kData);
  io->Close(fd);
  return s.WithPath(path);
}

}  // namespace commitlog
