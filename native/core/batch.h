// Batch: the unit of atomicity and of durability. The committer stages
// records into a BatchBuilder; the flusher seals it (header, CRC, padding) and
// writes it with one call. DecodeBatch is the reader's half and validates
// everything the builder asserted ("pair assertions").
#ifndef COMMITLOG_CORE_BATCH_H_
#define COMMITLOG_CORE_BATCH_H_

#include <cstddef>
#include <cstdint>

#include "log_format.h"

namespace commitlog {

// A growable buffer whose start is aligned to 4 KiB, so that it can be
// handed to O_DIRECT writes as is.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  ~AlignedBuffer();
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;

  // Grows capacity to at least n bytes, keeping the first size() bytes.
  // Returns false when memory is exhausted.
  bool Reserve(size_t n);
  char* data() { return data_; }
  const char* data() const { return data_; }
  size_t capacity() const { return capacity_; }
  void Swap(AlignedBuffer& other);

 private:
  char* data_ = nullptr;
  size_t capacity_ = 0;
};

// Stages records for one batch. Not thread-safe: the committer holds its
// mutex while calling Add*, and the flusher owns the builder after a swap.
class BatchBuilder {
 public:
  BatchBuilder() { Reset(); }

  // Room needed for a record of n bytes.
  static size_t FrameSize(size_t n) { return format::kRecordFrameSize + n; }

  // Appends one framed record. Returns false on memory exhaustion only.
  bool Add(const char* data, size_t n);
  // Reserves room for `bytes` more payload so that a group can be added
  // without reallocation half-way.
  bool Ensure(size_t bytes);

  uint32_t count() const { return count_; }
  size_t payload_bytes() const { return size_ - format::kBatchHeaderSize; }
  bool empty() const { return count_ == 0; }

  // Writes the header and zero padding. Returns the span (bytes to write),
  // a multiple of align. After Seal, data()[0, span) is the on-disk image.
  uint32_t Seal(uint32_t epoch, uint64_t base_seq, uint32_t prev_crc, uint32_t align);
  // The masked CRC of the sealed batch (its crc field).
  uint32_t sealed_crc() const;

  const char* data() const { return buf_.data(); }
  void Reset();
  void Swap(BatchBuilder& other);

 private:
  AlignedBuffer buf_;
  size_t size_ = 0;  // header + payload bytes in use
  uint32_t count_ = 0;
};

// What DecodeBatch found at an offset.
enum class BatchState {
  kValid,      // header sane, CRC matches; see the header fields
  kZero,       // the 40 header bytes are all zero: unwritten space
  kTruncated,  // a sane header whose batch runs past the available bytes
  kBadHeader,  // wrong magic, version or field values
  kBadCrc,     // header sane but CRC mismatch (torn write or corruption)
};

struct BatchHeader {
  uint32_t crc = 0;  // masked, as stored
  uint32_t epoch = 0;
  uint64_t base_seq = 0;
  uint32_t count = 0;
  uint32_t payload_len = 0;
  uint32_t prev_crc = 0;
  uint32_t span = 0;
};

// Parses the header at data[0, avail). When the header is sane and the
// whole batch (40 + payload_len bytes) is available, verifies the CRC and the
// record frames. `avail` may be less than a header: the result is then
// kTruncated (or kZero if what is there is zero and less than a header).
BatchState DecodeBatch(const char* data, size_t avail, BatchHeader* hdr);

// Walks the record frames of a valid batch's payload. Returns false if the
// frames do not add up to exactly count records and payload_len bytes.
bool CheckFrames(const char* payload, uint32_t payload_len, uint32_t count);

}  // namespace commitlog

#endif  // COMMITLOG_CORE_BATCH_H_
