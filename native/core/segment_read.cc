#include "segment_read.h"

#include <fcntl.h>

#include <cerrno>

#include "coding.h"
#include "log_format.h"
#include "reader.h"

namespace commitlog {

namespace {

// Copies the records of a valid batch that fall in [*from, stop) into out,
// within the budget. Returns false once the budget is spent.
bool TakeRecords(const BatchHeader& h, const char* p, uint64_t stop, size_t max_bytes,
                 uint64_t* from, ReadResult* out) {
  for (uint32_t i = 0; i < h.count; i++) {
    uint32_t len = DecodeFixed32(p);
    p += format::kRecordFrameSize;
    uint64_t seq = h.base_seq + i;
    if (seq >= *from && seq < stop) {
      if (!out->ends.empty() && out->data.size() + len > max_bytes) return false;
      if (out->ends.empty()) out->first_batch_prev_crc = h.prev_crc;
      out->data.append(p, len);
      out->ends.push_back(static_cast<uint32_t>(out->data.size()));
      out->last_batch_crc = h.crc;
      *from = seq + 1;
    }
    p += len;
  }
  return true;
}

// Whether the file that was at `path` has left the log since it was opened
// (truncateBefore and retention unlink or rename segments away; a cut that
// replaces one changes HEAD's generation, which readers check instead).
bool Gone(Io* io, const std::string& path) {
  FileInfo info;
  return io->Stat(path, &info).ok() && !info.exists;
}

}  // namespace

Status ReadSegmentRecords(Io* io, const SegmentRange& range, size_t max_bytes,
                          ReadCursor* cursor, ReadResult* out, SegmentEnd* end) {
  *end = SegmentEnd();
  int fd;
  Status s = io->Open(range.path, O_RDONLY, 0, &fd);
  if (!s.ok()) {
    if (s.err() == ENOENT) return Status::NotFound("segment " + range.path + " was truncated away");
    return s;
  }
  uint64_t size = 0;
  s = io->FileSize(fd, &size);
  if (!s.ok()) {
    io->Close(fd);
    return s.WithPath(range.path);
  }
  BatchReader reader(io, fd, size);
  reader.set_log_id(range.log_id);
  uint64_t from = range.from, offset = range.offset;
  // Where the walk is in the log: the segment's start, or where the
  // caller's cursor or index put it (the batch there holds `from`).
  uint64_t next_seq = offset == 0 ? range.base_seq : range.from;
  bool budget_left = true;
  while (s.ok() && budget_left && from < range.stop && offset < size && offset < range.stop_offset) {
    BatchHeader h;
    BatchState st = reader.ReadAt(offset, &h, &s);
    if (!s.ok()) break;
    // Everything below `stop` is durable, the caller says (the writer's
    // recovery verified it, a reader has the writer's word): a batch that
    // does not decode here is damage to acknowledged data, never a torn write.
    if (st != BatchState::kValid || h.base_seq > from) {
      *end = SegmentEnd{true, st == BatchState::kZero, offset, next_seq};
      s = Status::Corruption("durable batch fails verification on read", range.path, offset);
      // Unless the segment left the log while this read had it open: a
      // recycled file's bytes become another segment's.
      if (Gone(io, range.path)) s = Status::NotFound("segment " + range.path + " was truncated away");
      break;
    }
    budget_left = TakeRecords(h, reader.payload(), range.stop, max_bytes, &from, out);
    next_seq = h.end_seq();
    cursor->seq = from;
    cursor->segment = range.base_seq;
    cursor->offset = offset;
    if (from >= h.end_seq()) {
      offset += h.span;
      cursor->offset = offset;
    }
  }
  if (s.ok() && budget_left && from < range.stop && (offset >= size || offset >= range.stop_offset)) {
    *end = SegmentEnd{true, true, offset, next_seq};
  }
  io->Close(fd);
  return s.WithPath(range.path);
}

}  // namespace commitlog
