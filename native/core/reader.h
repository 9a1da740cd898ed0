// BatchReader: the one place that walks the batches of a segment file, with
// one set of validation rules (LevelDB has one log::Reader). Recovery, reads,
// the fuzzers, the tests (through the addon's inspectSegment) and the CLI all
// use it. A batch is accepted only if it decodes (DecodeBatch) AND, for
// version 2, records the offset it is read at and the log's identity: a
// batch image embedded in a record's payload (another log's, or this one's
// at another place), or left by an older use of the file, never validates
// as a batch of this file here (issue 9, defect 7).
//
// Whether a valid batch *continues* the log (sequence, epoch, chain) is the
// second rule, ChainState::Continues, shared the same way.
#ifndef COMMITLOG_CORE_READER_H_
#define COMMITLOG_CORE_READER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "batch.h"
#include "io.h"
#include "status.h"

namespace commitlog {

class BatchReader {
 public:
  // Reads fd (a segment of file_size bytes) through a window of
  // window_bytes; `fd` must stay open while the reader is used.
  BatchReader(Io* io, int fd, uint64_t file_size, size_t window_bytes = kDefaultWindow);
  BatchReader(const BatchReader&) = delete;
  BatchReader& operator=(const BatchReader&) = delete;

  static constexpr size_t kDefaultWindow = 256 * 1024;

  // Decodes the batch at `offset` (a multiple of 512, at most file_size).
  // On kValid, payload() points at its record frames until the next call.
  // An I/O error comes back in *io_status (the state is then meaningless).
  BatchState ReadAt(uint64_t offset, BatchHeader* hdr, Status* io_status);
  const char* payload() const { return payload_; }
  uint64_t file_size() const { return file_size_; }
  // Version 2 batches of another log read as kForeign. 0: any log (when
  // the identity is not known yet).
  void set_log_id(uint64_t log_id) { log_id_ = log_id; }

  // Raw bytes [offset, offset + n) (n <= window), for scans that look at
  // every sector. *got < n only at end of file.
  Status Peek(uint64_t offset, size_t n, const char** data, size_t* got);

 private:
  // Makes [offset, offset + n) (cut at end of file) available in buf_.
  Status Fill(uint64_t offset, size_t n);

  Io* const io_;
  const int fd_;
  const uint64_t file_size_;
  const size_t window_bytes_;
  uint64_t log_id_ = 0;
  std::unique_ptr<char[]> buf_;
  size_t buf_cap_ = 0;
  uint64_t buf_offset_ = 0;
  size_t buf_len_ = 0;
  const char* payload_ = nullptr;
};

// What the next batch of a walk through the log must look like.
struct ChainState {
  uint64_t next_seq = 0;   // its base_seq
  uint32_t epoch = 0;      // its epoch; 0 before a segment's first batch
  uint16_t version = 0;    // the last batch's format version (never goes back)
  uint32_t last_crc = 0;   // its prev_crc, when check_chain
  bool check_chain = true; // false only before the first batch of the oldest
                           // segment, whose predecessor may be truncated away
  uint32_t batches = 0;    // batches accepted so far in this segment

  // Why `h` (valid) does not continue the walk, or nullptr if it does.
  const char* Refuse(const BatchHeader& h) const;
  // Takes `h` as the next batch.
  void Accept(const BatchHeader& h);
};

}  // namespace commitlog

#endif  // COMMITLOG_CORE_READER_H_
