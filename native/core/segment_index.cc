#include "segment_index.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>

#include "log_format.h"

namespace commitlog {

namespace {

// Header walks skip from header to header: a small window reads less.
constexpr size_t kIndexWindowBytes = 64 * 1024;

}  // namespace

Status SegmentIndex::Find(Io* io, const std::string& path, uint64_t seq, uint64_t durable,
                          uint64_t stop_offset, uint64_t* offset) {
  std::lock_guard<std::mutex> l(mu_);
  auto more = [&](uint64_t size) {
    return walked_offset_ < size && walked_offset_ < stop_offset && walked_seq_ <= seq &&
           walked_seq_ < durable;
  };
  Status s;
  if (more(UINT64_MAX)) {
    int fd;
    s = io->Open(path, O_RDONLY, 0, &fd);
    if (!s.ok()) {
      if (s.err() == ENOENT) return Status::NotFound("segment " + path + " was truncated away");
      return s;
    }
    uint64_t size = 0;
    s = io->FileSize(fd, &size);
    BatchReader reader(io, fd, size, kIndexWindowBytes);
    while (s.ok() && more(size)) {
      const char* p;
      size_t got = 0;
      s = reader.Peek(walked_offset_, format::kMaxBatchHeaderSize, &p, &got);
      if (!s.ok()) break;
      BatchHeader h;
      BatchState st = DecodeBatch(p, got, &h);
      bool sane = st == BatchState::kValid || (st == BatchState::kTruncated && h.header_len != 0);
      if (!sane || h.base_seq != walked_seq_) break;
      if (entries_.empty() || walked_offset_ >= entries_.back().offset + SegmentSet::kIndexStrideBytes) {
        entries_.push_back({h.base_seq, walked_offset_});
      }
      walked_offset_ += h.span;
      walked_seq_ = h.end_seq();
    }
    io->Close(fd);
    if (!s.ok()) return s.WithPath(path);
  }
  *offset = 0;
  for (const IndexEntry& e : entries_) {
    if (e.seq > seq) break;
    *offset = e.offset;
  }
  return s;
}

Status CommitProof::Extend(Io* io, const std::string& path, uint64_t base_seq, uint64_t log_id) {
  if (segment_ != base_seq) {
    *this = CommitProof();
    segment_ = base_seq;
    chain_.next_seq = base_seq;
    chain_.check_chain = false;  // its predecessor is not read here
  }
  int fd;
  Status s = io->Open(path, O_RDONLY, 0, &fd);
  if (!s.ok()) return s.err() == ENOENT ? Status::OK() : s;  // gone: the next listing says
  uint64_t size = 0;
  s = io->FileSize(fd, &size);
  BatchReader reader(io, fd, size);
  reader.set_log_id(log_id);
  // Only batches that continue the segment count, and each says only what
  // was durable when it was sealed: never more.
  while (s.ok() && offset_ < size) {
    BatchHeader h;
    BatchState st = reader.ReadAt(offset_, &h, &s);
    if (!s.ok() || st != BatchState::kValid || chain_.Refuse(h) != nullptr) break;
    chain_.Accept(h);
    commit_seq_ = std::max(commit_seq_, h.commit_seq);
    offset_ += h.span;
  }
  io->Close(fd);
  return s.WithPath(path);
}

}  // namespace commitlog
