// On-disk constants of the commit log. The format is described byte by byte
// in docs/FORMAT.md; this header only holds the numbers.
#ifndef COMMITLOG_CORE_LOG_FORMAT_H_
#define COMMITLOG_CORE_LOG_FORMAT_H_

#include <cstddef>
#include <cstdint>

namespace commitlog {
namespace format {

// Batch header layout (all fields little-endian).
static constexpr size_t kCrcOffset = 0;         // u32 masked crc32c of [4, 40 + payload_len)
static constexpr size_t kMagicOffset = 4;       // u32 kBatchMagic
static constexpr size_t kVersionOffset = 8;     // u16 kFormatVersion
static constexpr size_t kHeaderLenOffset = 10;  // u16 kBatchHeaderSize
static constexpr size_t kEpochOffset = 12;      // u32 segment epoch
static constexpr size_t kBaseSeqOffset = 16;    // u64 sequence number of the first record
static constexpr size_t kCountOffset = 24;      // u32 number of records, >= 1
static constexpr size_t kPayloadLenOffset = 28; // u32 bytes of record frames after the header
static constexpr size_t kPrevCrcOffset = 32;    // u32 crc field of the previous batch
static constexpr size_t kSpanOffset = 36;       // u32 bytes from this header to the next batch
static constexpr size_t kBatchHeaderSize = 40;

static constexpr uint32_t kBatchMagic = 0x31424c43u;  // bytes "CLB1"
static constexpr uint16_t kFormatVersion = 1;

// Every record inside a batch is a u32 length followed by that many bytes.
static constexpr size_t kRecordFrameSize = 4;

// Batches start at multiples of kMinAlign; a batch's span is a multiple of the
// log's alignment (512 or more, a power of two).
static constexpr uint32_t kMinAlign = 512;
static constexpr uint32_t kMaxAlign = 1u << 16;

// Payload length is a u32, and the whole batch span must fit one too.
static constexpr uint64_t kMaxBatchPayload = (1ull << 32) - kMaxAlign - kBatchHeaderSize;

// Segment file names: 20 decimal digits (the base sequence) + ".log".
static constexpr size_t kSegmentNameDigits = 20;
static constexpr const char* kSegmentSuffix = ".log";
static constexpr const char* kPreparedPrefix = "prepared-";
static constexpr const char* kLockName = "LOCK";
static constexpr const char* kCheckpointName = "CHECKPOINT";
static constexpr const char* kBrokenSuffix = ".broken";

// Checkpoint file layout.
static constexpr uint32_t kCheckpointMagic = 0x50434c43u;  // bytes "CLCP"
static constexpr size_t kCheckpointSize = 48;
static constexpr uint16_t kCheckpointFlagClean = 1;

static_assert(kBatchHeaderSize == kSpanOffset + 4, "span is the last header field");
static_assert(kBatchHeaderSize % 8 == 0, "header keeps the payload 8-byte aligned");
static_assert(kMinAlign % 512 == 0, "batches start on sector boundaries");
static_assert((kMaxAlign & (kMaxAlign - 1)) == 0, "alignment is a power of two");

}  // namespace format
}  // namespace commitlog

#endif  // COMMITLOG_CORE_LOG_FORMAT_H_
