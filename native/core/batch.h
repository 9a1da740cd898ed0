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

  // Grows capacity to at least n bytes, keeping the first `keep` bytes
  // (only those are copied: growth happens under the committer's lock).
  // Returns false when memory is exhausted.
  bool Reserve(size_t n, size_t keep);
  // Frees the memory (the next Reserve allocates anew).
  void Release();
  char* data() { return data_; }
  const char* data() const { return data_; }
  size_t capacity() const { return capacity_; }
  void Swap(AlignedBuffer& other);

 private:
  char* data_ = nullptr;
  size_t capacity_ = 0;
};

// What the flusher knows when it seals a batch, besides the records.
struct SealInfo {
  uint32_t epoch = 0;         // the segment's epoch, nonzero
  uint64_t base_seq = 0;      // sequence number of the first record
  uint32_t prev_crc = 0;      // crc field of the previous batch (chain)
  uint64_t file_offset = 0;   // where the batch goes in its segment file
  uint64_t commit_seq = 0;    // every record below it is durable already
  uint64_t timestamp_ms = 0;  // wall clock, for time-based retention and seeking
  uint64_t log_id = 0;        // the log's identity, nonzero
};

// Stages records for one batch. Not thread-safe: the committer holds its
// mutex while calling Add*, and the flusher owns the builder after a swap.
// Always builds the current format version. The payload's CRC is computed as
// records are added, on the appending thread, so that Seal only checksums
// the header and combines the two (the flusher's time is the log's
// throughput); the sealed image is the same as if Seal had checksummed it
// all.
class BatchBuilder {
 public:
  BatchBuilder() { Reset(); }

  // Room needed for a record of n bytes.
  static size_t FrameSize(size_t n) { return format::kRecordFrameSize + n; }
  // The span of a batch holding payload_bytes of frames, at this alignment.
  static uint64_t SpanFor(uint64_t payload_bytes, uint32_t align) {
    return (format::kBatchHeaderSize + payload_bytes + align - 1) & ~(uint64_t{align} - 1);
  }

  // Appends one framed record and extends the payload's CRC over it.
  // Returns false on memory exhaustion only.
  bool Add(const char* data, size_t n);
  // Reserves room for `bytes` more payload so that a group can be added
  // without reallocation half-way.
  bool Ensure(size_t bytes);

  uint32_t count() const { return count_; }
  size_t payload_bytes() const { return size_ - format::kBatchHeaderSize; }
  bool empty() const { return count_ == 0; }

  // Writes the header, zero padding and the CRC. Returns the span (bytes to
  // write), a multiple of align, equal to SpanFor(payload_bytes(), align).
  // After Seal, data()[0, span) is the on-disk image. The payload must be
  // what Add wrote: the CRC covers the bytes Add saw, not the buffer's.
  uint32_t Seal(const SealInfo& info, uint32_t align);
  // The masked CRC of the sealed batch (its crc field).
  uint32_t sealed_crc() const;

  const char* data() const { return buf_.data(); }
  // Empties the builder; frees a buffer above kKeepCapacity that the batch
  // just written used less than a quarter of.
  void Reset();
  void Swap(BatchBuilder& other);
  static constexpr size_t kKeepCapacity = 8 << 20;

 private:
  AlignedBuffer buf_;
  size_t size_ = 0;  // header + payload bytes in use
  uint32_t count_ = 0;
  uint32_t payload_crc_ = 0;  // plain crc32c of the payload's frames so far
};

// What DecodeBatch found at an offset.
enum class BatchState {
  kValid,      // header sane, CRC matches; see the header fields
  kZero,       // the header bytes are all zero: unwritten space
  kTruncated,  // a sane header whose batch runs past the available bytes
  kBadHeader,  // wrong magic, version or field values
  kBadCrc,     // header sane but CRC mismatch (torn write or corruption)
  kMisplaced,  // a valid version 2 batch whose file_offset is not where it was read
  kForeign,    // a valid version 2 batch of another log (log_id)
};

const char* DescribeBatchState(BatchState st);

// Offset of a version 1 batch, which does not record where it belongs.
static constexpr uint64_t kUnknownOffset = UINT64_MAX;

struct BatchHeader {
  uint32_t crc = 0;  // masked, as stored
  uint16_t version = 0;
  uint16_t header_len = 0;
  uint32_t epoch = 0;
  uint64_t base_seq = 0;
  uint32_t count = 0;
  uint32_t payload_len = 0;
  uint32_t prev_crc = 0;
  uint32_t span = 0;
  uint64_t file_offset = kUnknownOffset;  // version 2
  // Every record below it was durable when the batch was sealed. Version 1
  // had one batch in flight at a time, so there it is base_seq.
  uint64_t commit_seq = 0;
  uint64_t timestamp_ms = 0;  // version 2; 0 for version 1
  uint64_t log_id = 0;        // version 2; 0 for version 1

  uint64_t used() const { return uint64_t{header_len} + payload_len; }
  uint64_t end_seq() const { return base_seq + count; }
};

// Parses the header at data[0, avail). When the header is sane and the
// whole batch (header_len + payload_len bytes) is available, verifies the
// CRC and the record frames. `avail` may be less than a header: the result
// is then kTruncated (or kZero if what is there is zero and less than a
// version 1 header). Does not know where the bytes came from: the position
// check (kMisplaced) is BatchReader's.
BatchState DecodeBatch(const char* data, size_t avail, BatchHeader* hdr);

// Walks the record frames of a valid batch's payload. Returns false if the
// frames do not add up to exactly count records and payload_len bytes.
bool CheckFrames(const char* payload, uint32_t payload_len, uint32_t count);

}  // namespace commitlog

#endif  // COMMITLOG_CORE_BATCH_H_
