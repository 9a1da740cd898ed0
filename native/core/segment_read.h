// Reading records out of one segment file: the one record extraction that
// the writer's reads (Log::Read) and read-only readers in other processes
// (LogReader) share. Batches go through the one BatchReader, verified again
// (validity and binding to offset and log) on every read.
#ifndef COMMITLOG_CORE_SEGMENT_READ_H_
#define COMMITLOG_CORE_SEGMENT_READ_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "io.h"
#include "status.h"

namespace commitlog {

// Where the previous read stopped, so that the next one need not search.
struct ReadCursor {
  uint64_t seq = UINT64_MAX;  // next sequence number to read
  uint64_t segment = 0;       // base of the segment holding it
  uint64_t offset = 0;        // offset of the batch holding it
};

struct ReadResult {
  std::string data;            // the records' bytes, back to back
  std::vector<uint32_t> ends;  // end of record i in data
  uint64_t first_seq = 0;      // sequence number of record 0
  // The crc of the batch holding the last record, and the prev_crc of the
  // one holding the first: a reader proves with them that the log it reads
  // on is the one it read before (the prev_crc chain).
  uint32_t last_batch_crc = 0;
  uint32_t first_batch_prev_crc = 0;
};

// What to read from one segment file.
struct SegmentRange {
  std::string path;
  uint64_t base_seq = 0;              // the segment's first sequence number
  uint64_t log_id = 0;                // version 2 batches of another log are invalid; 0: any
  uint64_t offset = 0;                // a batch boundary at or before the batch holding `from`
  uint64_t from = 0;                  // records [from, stop)
  uint64_t stop = 0;
  uint64_t stop_offset = UINT64_MAX;  // no batch at or past this offset is read
};

// How a walk through the segment ended, when it ended before `stop` for
// another reason than the byte budget.
struct SegmentEnd {
  bool early = false;    // it did
  bool clean = false;    // at zeroed space or at the end of the file
  uint64_t offset = 0;   // where
  uint64_t next_seq = 0; // the sequence number expected there: the end of
                         // the last batch passed, else the segment's base
                         // (from offset 0) or `from`
};

// Appends the records [from, stop) of the segment to `out` (at least one
// record, then as long as max_bytes allows; record i ends at out->ends[i]),
// and moves `cursor` past them. A position below `stop` that does not hold a
// valid batch, or holds one that starts after the next record, is damage to
// what the caller called durable: kCorruption, with *end saying where and
// whether it was zeroed space. The end of the file, or stop_offset, before
// `stop` ends the walk without an error (*end says so too). A segment file
// that is gone is kNotFound, also when it went while this call read it (a
// recycled file then holds another segment's bytes).
Status ReadSegmentRecords(Io* io, const SegmentRange& range, size_t max_bytes,
                          ReadCursor* cursor, ReadResult* out, SegmentEnd* end);

}  // namespace commitlog

#endif  // COMMITLOG_CORE_SEGMENT_READ_H_
