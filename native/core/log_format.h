// On-disk constants of the commit log. The format is described byte by byte
// in docs/FORMAT.md; this header only holds the numbers.
//
// Version 2 (written by this code) extends the version 1 batch header with
// three fields; version 1 batches and checkpoints are still read.
#ifndef COMMITLOG_CORE_LOG_FORMAT_H_
#define COMMITLOG_CORE_LOG_FORMAT_H_

#include <cstddef>
#include <cstdint>

namespace commitlog {
namespace format {

// Batch header layout (all fields little-endian). Fields up to kSpanOffset
// are common to versions 1 and 2.
static constexpr size_t kCrcOffset = 0;          // u32 masked crc32c of [4, header_len + payload_len)
static constexpr size_t kMagicOffset = 4;        // u32 kBatchMagic
static constexpr size_t kVersionOffset = 8;      // u16 1 or 2
static constexpr size_t kHeaderLenOffset = 10;   // u16 kBatchHeaderSizeV1 or kBatchHeaderSize
static constexpr size_t kEpochOffset = 12;       // u32 segment epoch
static constexpr size_t kBaseSeqOffset = 16;     // u64 sequence number of the first record
static constexpr size_t kCountOffset = 24;       // u32 number of records, >= 1
static constexpr size_t kPayloadLenOffset = 28;  // u32 bytes of record frames after the header
static constexpr size_t kPrevCrcOffset = 32;     // u32 crc field of the previous batch
static constexpr size_t kSpanOffset = 36;        // u32 bytes from this header to the next batch
// Version 2 only.
static constexpr size_t kFileOffsetOffset = 40;  // u64 offset of this header in its segment file
static constexpr size_t kCommitSeqOffset = 48;   // u64 every record below it was durable at seal
static constexpr size_t kTimestampOffset = 56;   // u64 milliseconds since the Unix epoch, at seal
static constexpr size_t kLogIdOffset = 64;       // u64 the log's identity (CHECKPOINT), nonzero

static constexpr size_t kBatchHeaderSizeV1 = 40;
static constexpr size_t kBatchHeaderSize = 72;  // what this code writes
static constexpr size_t kMaxBatchHeaderSize = kBatchHeaderSize;

static constexpr uint32_t kBatchMagic = 0x31424c43u;  // bytes "CLB1" (both versions)
static constexpr uint16_t kFormatVersion = 2;         // written
static constexpr uint16_t kOldestFormatVersion = 1;   // still read

// Every record inside a batch is a u32 length followed by that many bytes.
static constexpr size_t kRecordFrameSize = 4;

// Batches start at multiples of kMinAlign; a batch's span is a multiple of the
// log's alignment (512 or more, a power of two).
static constexpr uint32_t kMinAlign = 512;
static constexpr uint32_t kMaxAlign = 1u << 16;

// Payload length is a u32, and the whole batch span must fit one too.
static constexpr uint64_t kMaxBatchPayload = (1ull << 32) - kMaxAlign - kMaxBatchHeaderSize;

// Segment file names: 20 decimal digits (the base sequence) + ".log".
static constexpr size_t kSegmentNameDigits = 20;
static constexpr const char* kSegmentSuffix = ".log";
static constexpr size_t kSegmentSuffixLen = 4;
static constexpr const char* kPreparedPrefix = "prepared-";
static constexpr const char* kLockName = "LOCK";
static constexpr const char* kCheckpointName = "CHECKPOINT";
static constexpr const char* kBrokenSuffix = ".broken";

// Checkpoint file layout.
static constexpr uint32_t kCheckpointMagic = 0x50434c43u;  // bytes "CLCP"
static constexpr size_t kCheckpointSizeV1 = 48;
static constexpr size_t kCheckpointSize = 80;
// With a pending cut (truncateFrom), cut_seq follows at offset 80; an 80-byte
// version 2 checkpoint has no cut.
static constexpr size_t kCheckpointCutSeqOffset = 80;  // u64
static constexpr size_t kCheckpointSizeCut = 88;
static constexpr uint16_t kCheckpointFlagClean = 1;    // written by close(): nothing follows tail_end
static constexpr uint16_t kCheckpointFlagNoSync = 2;   // sync 'none': nothing at or past durable_seq is proven
static constexpr uint16_t kCheckpointFlagGap = 4;      // gap_from/gap_to hold an accepted gap
static constexpr uint16_t kCheckpointFlagCut = 8;      // cut_seq: records at and past it are being dropped
static constexpr uint16_t kCheckpointFlagsKnown = 15;

// HEAD file layout: the durable end the writer publishes to readers.
static constexpr const char* kHeadName = "HEAD";
static constexpr uint32_t kHeadMagic = 0x44484c43u;  // bytes "CLHD"
static constexpr uint16_t kHeadVersion = 1;
static constexpr size_t kHeadSize = 64;
static constexpr uint16_t kHeadFlagNoSync = 1;  // the writer runs with sync 'none'
static constexpr uint16_t kHeadFlagsKnown = 1;

static_assert(kBatchHeaderSizeV1 == kSpanOffset + 4, "span is the last version 1 field");
static_assert(kBatchHeaderSize == kLogIdOffset + 8, "log_id is the last version 2 field");
static_assert(kBatchHeaderSize % 8 == 0, "header keeps the payload 8-byte aligned");
static_assert(kMinAlign % 512 == 0, "batches start on sector boundaries");
static_assert((kMaxAlign & (kMaxAlign - 1)) == 0, "alignment is a power of two");
static_assert(kCheckpointSizeCut <= 512, "a checkpoint fits one sector");
static_assert(kCheckpointSizeCut == kCheckpointCutSeqOffset + 8, "cut_seq is the last field");
static_assert(kHeadSize <= 512, "HEAD fits one sector: one write, never torn in practice");

}  // namespace format
}  // namespace commitlog

#endif  // COMMITLOG_CORE_LOG_FORMAT_H_
