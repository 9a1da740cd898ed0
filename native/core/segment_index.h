// Incremental walks through one segment file, for read-only readers
// (log_reader.h), each resuming where the previous call stopped:
//  - SegmentIndex: where batches start, from their headers alone, so that a
//    record is found without reading the whole segment;
//  - CommitProof: the highest commit watermark of the batches that continue
//    the segment, what the files prove durable when there is no HEAD.
#ifndef COMMITLOG_CORE_SEGMENT_INDEX_H_
#define COMMITLOG_CORE_SEGMENT_INDEX_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "io.h"
#include "reader.h"
#include "segment.h"
#include "status.h"

namespace commitlog {

// A sparse index of one segment: one entry per SegmentSet::kIndexStrideBytes,
// built as far as lookups have needed, never past the durable end it is
// given. Valid for one view generation (batches are only appended within
// one). Thread-safe.
class SegmentIndex {
 public:
  SegmentIndex(uint64_t base_seq, uint64_t generation)
      : generation_(generation), walked_seq_(base_seq) {}
  SegmentIndex(const SegmentIndex&) = delete;
  SegmentIndex& operator=(const SegmentIndex&) = delete;

  uint64_t generation() const { return generation_; }

  // *offset: a batch boundary at or before the batch holding `seq`. Walks
  // headers of the file at `path` on, if needed, up to the batch holding
  // `seq`, the first batch at or past `durable`, or `stop_offset`. The CRC
  // is not checked there: the index only says where to start, and every
  // batch read through it is verified whole. kNotFound if the file is gone.
  Status Find(Io* io, const std::string& path, uint64_t seq, uint64_t durable,
              uint64_t stop_offset, uint64_t* offset);

 private:
  const uint64_t generation_;
  std::mutex mu_;
  std::vector<IndexEntry> entries_;
  uint64_t walked_offset_ = 0;  // the next header to read
  uint64_t walked_seq_;         // the sequence number it must start at
};

// What the batches continuing one segment (validity, binding, sequence,
// epoch and chain, as recovery walks) prove durable: every record below the
// highest commit_seq among them was durable when that batch was sealed.
// Not thread-safe: its owner serializes calls.
class CommitProof {
 public:
  // Walks the segment on from where the previous call for the same segment
  // stopped (a call for another segment starts over). A missing file proves
  // nothing new and is not an error.
  Status Extend(Io* io, const std::string& path, uint64_t base_seq, uint64_t log_id);
  uint64_t commit_seq() const { return commit_seq_; }

 private:
  uint64_t segment_ = UINT64_MAX;
  uint64_t offset_ = 0;
  ChainState chain_;
  uint64_t commit_seq_ = 0;
};

}  // namespace commitlog

#endif  // COMMITLOG_CORE_SEGMENT_INDEX_H_
