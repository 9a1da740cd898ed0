#include "batch.h"

#include <algorithm>
#include <cassert>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "coding.h"
#include "crc32c.h"

namespace commitlog {

using namespace format;

AlignedBuffer::~AlignedBuffer() { std::free(data_); }

bool AlignedBuffer::Reserve(size_t n, size_t keep) {
  if (n <= capacity_) return true;
  keep = std::min(keep, capacity_);  // a fresh builder has no bytes yet, only a size for its header
  size_t cap = capacity_ ? capacity_ : 64 * 1024;
  while (cap < n) cap *= 2;
  void* p = nullptr;
  if (posix_memalign(&p, 4096, cap) != 0) return false;
  if (data_ != nullptr && keep > 0) std::memcpy(p, data_, keep);
  std::free(data_);
  data_ = static_cast<char*>(p);
  capacity_ = cap;
  return true;
}

void AlignedBuffer::Release() {
  std::free(data_);
  data_ = nullptr;
  capacity_ = 0;
}

void AlignedBuffer::Swap(AlignedBuffer& other) {
  std::swap(data_, other.data_);
  std::swap(capacity_, other.capacity_);
}

void BatchBuilder::Reset() {
  // Three builders (one filling, one per flusher) each keep the capacity of
  // their largest batch: one burst of a large batch must not hold three
  // times maxPendingBytes for the life of the log.
  if (buf_.capacity() > kKeepCapacity && size_ < buf_.capacity() / 4) buf_.Release();
  size_ = kBatchHeaderSize;
  count_ = 0;
  payload_crc_ = 0;  // crc32c of no bytes
}

void BatchBuilder::Swap(BatchBuilder& other) {
  buf_.Swap(other.buf_);
  std::swap(size_, other.size_);
  std::swap(count_, other.count_);
  std::swap(payload_crc_, other.payload_crc_);
}

bool BatchBuilder::Ensure(size_t bytes) {
  // Leave room for the largest padding Seal may add.
  return buf_.Reserve(size_ + bytes + kMaxAlign, size_);
}

bool BatchBuilder::Add(const char* data, size_t n) {
  if (!Ensure(FrameSize(n))) return false;
  char* dst = buf_.data() + size_;
  EncodeFixed32(dst, static_cast<uint32_t>(n));
  // Checksummed while copied, from the words stored: the bytes are in
  // registers once, and a caller changing its buffer during the copy cannot
  // make the CRC disagree with the batch.
  payload_crc_ = crc32c::Extend(payload_crc_, dst, kRecordFrameSize);
  payload_crc_ = crc32c::ExtendCopy(payload_crc_, dst + kRecordFrameSize, data, n);
  size_ += FrameSize(n);
  count_++;
  return true;
}

uint32_t BatchBuilder::Seal(const SealInfo& info, uint32_t align) {
  assert(count_ > 0);
  assert(info.epoch != 0);
  assert(info.log_id != 0);
  assert(align >= kMinAlign && align <= kMaxAlign);
  assert((align & (align - 1)) == 0);
  assert(info.file_offset % kMinAlign == 0);
  assert(info.commit_seq <= info.base_seq);
  assert(payload_bytes() <= kMaxBatchPayload);
  size_t span = static_cast<size_t>(SpanFor(payload_bytes(), align));
  bool ok = buf_.Reserve(span, size_);  // Ensure() reserved kMaxAlign already
  assert(ok);
  (void)ok;
  char* h = buf_.data();
  EncodeFixed32(h + kMagicOffset, kBatchMagic);
  EncodeFixed16(h + kVersionOffset, kFormatVersion);
  EncodeFixed16(h + kHeaderLenOffset, static_cast<uint16_t>(kBatchHeaderSize));
  EncodeFixed32(h + kEpochOffset, info.epoch);
  EncodeFixed64(h + kBaseSeqOffset, info.base_seq);
  EncodeFixed32(h + kCountOffset, count_);
  EncodeFixed32(h + kPayloadLenOffset, static_cast<uint32_t>(payload_bytes()));
  EncodeFixed32(h + kPrevCrcOffset, info.prev_crc);
  EncodeFixed32(h + kSpanOffset, static_cast<uint32_t>(span));
  EncodeFixed64(h + kFileOffsetOffset, info.file_offset);
  EncodeFixed64(h + kCommitSeqOffset, info.commit_seq);
  EncodeFixed64(h + kTimestampOffset, info.timestamp_ms);
  EncodeFixed64(h + kLogIdOffset, info.log_id);
  // Padding is zeroed so that the bytes on disk are deterministic and a
  // reader that lands in padding sees zeros, never stale staging data.
  std::memset(h + size_, 0, span - size_);
  // The CRC covers [kMagicOffset, size_): the header after its crc field,
  // then the payload, whose CRC Add accumulated; the padding is not covered.
  uint32_t header_crc = crc32c::Value(h + kMagicOffset, kBatchHeaderSize - kMagicOffset);
  uint32_t crc = crc32c::Combine(header_crc, payload_crc_, payload_bytes());
  EncodeFixed32(h + kCrcOffset, crc32c::Mask(crc));
  return static_cast<uint32_t>(span);
}

uint32_t BatchBuilder::sealed_crc() const { return DecodeFixed32(buf_.data() + kCrcOffset); }

const char* DescribeBatchState(BatchState st) {
  switch (st) {
    case BatchState::kValid: return "valid batch";
    case BatchState::kZero: return "zeroed space";
    case BatchState::kTruncated: return "incomplete batch";
    case BatchState::kBadHeader: return "invalid batch header";
    case BatchState::kBadCrc: return "batch fails its checksum";
    case BatchState::kMisplaced: return "batch written for another offset";
    case BatchState::kForeign: return "batch of another log";
  }
  return "?";
}

static bool AllZero(const char* p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (p[i] != 0) return false;
  }
  return true;
}

bool CheckFrames(const char* payload, uint32_t payload_len, uint32_t count) {
  size_t pos = 0;
  for (uint32_t i = 0; i < count; i++) {
    if (payload_len - pos < kRecordFrameSize) return false;
    uint32_t len = DecodeFixed32(payload + pos);
    pos += kRecordFrameSize;
    if (payload_len - pos < len) return false;
    pos += len;
  }
  return pos == payload_len;
}

// Fills hdr from the fields every version has; false if they are not sane.
static bool DecodeCommonHeader(const char* data, BatchHeader* hdr) {
  hdr->crc = DecodeFixed32(data + kCrcOffset);
  hdr->version = DecodeFixed16(data + kVersionOffset);
  hdr->header_len = DecodeFixed16(data + kHeaderLenOffset);
  hdr->epoch = DecodeFixed32(data + kEpochOffset);
  hdr->base_seq = DecodeFixed64(data + kBaseSeqOffset);
  hdr->count = DecodeFixed32(data + kCountOffset);
  hdr->payload_len = DecodeFixed32(data + kPayloadLenOffset);
  hdr->prev_crc = DecodeFixed32(data + kPrevCrcOffset);
  hdr->span = DecodeFixed32(data + kSpanOffset);
  if (DecodeFixed32(data + kMagicOffset) != kBatchMagic) return false;
  if (hdr->version == 1) {
    if (hdr->header_len != kBatchHeaderSizeV1) return false;
  } else if (hdr->version == 2) {
    if (hdr->header_len != kBatchHeaderSize) return false;
  } else {
    return false;
  }
  if (hdr->count == 0) return false;
  uint64_t used = hdr->used();
  if (hdr->span % kMinAlign != 0 || hdr->span < used || hdr->span - used >= kMaxAlign) return false;
  if (static_cast<uint64_t>(hdr->count) * kRecordFrameSize > hdr->payload_len) return false;
  return true;
}

BatchState DecodeBatch(const char* data, size_t avail, BatchHeader* hdr) {
  *hdr = BatchHeader();
  if (avail < kBatchHeaderSizeV1) {
    return AllZero(data, avail) ? BatchState::kZero : BatchState::kTruncated;
  }
  if (AllZero(data, kBatchHeaderSizeV1)) return BatchState::kZero;
  if (!DecodeCommonHeader(data, hdr)) return BatchState::kBadHeader;
  uint64_t used = hdr->used();
  if (avail < used) return BatchState::kTruncated;
  uint32_t crc = crc32c::Value(data + kMagicOffset, used - kMagicOffset);
  if (crc32c::Mask(crc) != hdr->crc) return BatchState::kBadCrc;
  if (hdr->version >= 2) {
    hdr->file_offset = DecodeFixed64(data + kFileOffsetOffset);
    hdr->commit_seq = DecodeFixed64(data + kCommitSeqOffset);
    hdr->timestamp_ms = DecodeFixed64(data + kTimestampOffset);
    hdr->log_id = DecodeFixed64(data + kLogIdOffset);
    // The writer never claims records of this batch or later were durable.
    if (hdr->commit_seq > hdr->base_seq || hdr->log_id == 0) return BatchState::kBadHeader;
  } else {
    hdr->commit_seq = hdr->base_seq;
  }
  // A CRC match with frames that do not add up means a writer bug, not a
  // torn write; still report it as damage rather than trust it.
  if (!CheckFrames(data + hdr->header_len, hdr->payload_len, hdr->count)) {
    return BatchState::kBadHeader;
  }
  return BatchState::kValid;
}

}  // namespace commitlog
