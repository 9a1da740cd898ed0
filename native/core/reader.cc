#include "reader.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <new>

#include "log_format.h"

namespace commitlog {

BatchReader::BatchReader(Io* io, int fd, uint64_t file_size, size_t window_bytes)
    : io_(io), fd_(fd), file_size_(file_size), window_bytes_(window_bytes) {
  assert(fd_ >= 0);
  assert(window_bytes_ >= format::kMaxBatchHeaderSize);
}

Status BatchReader::Fill(uint64_t offset, size_t n) {
  assert(offset <= file_size_);
  uint64_t want = std::min<uint64_t>(n, file_size_ - offset);
  if (offset >= buf_offset_ && offset + want <= buf_offset_ + buf_len_) return Status::OK();
  // Read ahead: a scan walks forward, so one large read serves many batches.
  size_t len = static_cast<size_t>(std::min<uint64_t>(std::max<uint64_t>(want, window_bytes_),
                                                      file_size_ - offset));
  // Bytes from offset on that are read already (a batch larger than the
  // window, whose header came with the first read): kept, not read again.
  size_t keep = 0;
  if (offset >= buf_offset_ && offset < buf_offset_ + buf_len_) {
    keep = static_cast<size_t>(buf_offset_ + buf_len_ - offset);
  }
  const char* kept = keep > 0 ? buf_.get() + (offset - buf_offset_) : nullptr;
  if (buf_cap_ < len) {
    // Not zero-filled: every byte handed out was read first.
    std::unique_ptr<char[]> grown(new (std::nothrow) char[len]);
    if (grown == nullptr) return Status::NoMemory("reading a batch");
    if (keep > 0) std::memcpy(grown.get(), kept, keep);
    buf_ = std::move(grown);
    buf_cap_ = len;
  } else if (kept != nullptr && kept != buf_.get()) {
    std::memmove(buf_.get(), kept, keep);
  }
  size_t got = 0;
  Status s = io_->PRead(fd_, buf_.get() + keep, len - keep, offset + keep, &got);
  buf_offset_ = offset;
  buf_len_ = s.ok() ? keep + got : 0;
  return s;
}

Status BatchReader::Peek(uint64_t offset, size_t n, const char** data, size_t* got) {
  Status s = Fill(offset, n);
  if (!s.ok()) return s;
  size_t at = static_cast<size_t>(offset - buf_offset_);
  *data = buf_.get() + at;
  *got = std::min(n, buf_len_ - at);
  return Status::OK();
}

BatchState BatchReader::ReadAt(uint64_t offset, BatchHeader* hdr, Status* io_status) {
  assert(offset % format::kMinAlign == 0);
  payload_ = nullptr;
  const char* p;
  size_t got;
  *io_status = Peek(offset, format::kMaxBatchHeaderSize, &p, &got);
  if (!io_status->ok()) return BatchState::kBadHeader;
  BatchState st = DecodeBatch(p, got, hdr);
  if (st == BatchState::kTruncated && hdr->header_len != 0 && hdr->used() <= file_size_ - offset) {
    // The header is sane and the batch fits the file: read all of it.
    *io_status = Peek(offset, static_cast<size_t>(hdr->used()), &p, &got);
    if (!io_status->ok()) return BatchState::kBadHeader;
    st = DecodeBatch(p, got, hdr);
  }
  if (st != BatchState::kValid) return st;
  // Version 2 binds a batch to its place (defect 7); version 1 cannot.
  if (hdr->version >= 2 && hdr->file_offset != offset) return BatchState::kMisplaced;
  if (hdr->version >= 2 && log_id_ != 0 && hdr->log_id != log_id_) return BatchState::kForeign;
  payload_ = p + hdr->header_len;
  return st;
}

const char* ChainState::Refuse(const BatchHeader& h) const {
  // A valid batch that does not continue the segment is stale (bytes of an
  // older use of the file, RocksDB's recyclable-log rule): it ends the log.
  if (batches > 0 && h.epoch != epoch) return "batch of another segment epoch";
  if (batches > 0 && h.version < version) return "batch of an older format version";
  if (h.base_seq != next_seq) return "batch does not start at the expected sequence number";
  if ((batches > 0 || check_chain) && h.prev_crc != last_crc) {
    return "batch does not chain to the previous one";
  }
  return nullptr;
}

void ChainState::Accept(const BatchHeader& h) {
  assert(Refuse(h) == nullptr);
  if (batches == 0) epoch = h.epoch;
  version = h.version;
  batches++;
  next_seq = h.end_seq();
  last_crc = h.crc;
}

}  // namespace commitlog
