// HEAD: the durable end of the log, published by the writer for read-only
// readers in other processes (layout in docs/FORMAT.md, "HEAD").
//
// Readers must never see bytes the writer wrote but has not synced, and the
// page cache shows those to everyone. So the writer states, in a small file,
// what it has made durable, and only after making it durable: HEAD is a hint
// derived from synced state. It is written with one pwrite of one sector-sized
// record at offset 0, without a sync: a power loss can only bring back an
// older record, and an older record only ever understates the durable end.
//
// The generation changes whenever the meaning of earlier records may have
// changed: at every writer open (recovery may have cut the log) and before a
// deliberate cut. Readers use it as a seqlock: read HEAD, read data, re-read
// HEAD, and discard what they read if the generation moved.
#ifndef COMMITLOG_CORE_HEAD_H_
#define COMMITLOG_CORE_HEAD_H_

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "io.h"
#include "log_format.h"
#include "status.h"

namespace commitlog {

struct Head {
  uint64_t log_id = 0;       // the CHECKPOINT's; nonzero
  uint64_t generation = 0;   // nonzero; new at every writer open
  uint64_t durable_seq = 0;  // every record below it is durable
  uint64_t first_seq = 0;    // base of the oldest segment
  uint64_t tail_base = 0;    // the segment being written
  uint64_t tail_end = 0;     // offset just past its last durable batch
  bool no_sync = false;      // sync 'none': durable_seq is page-cache only
};

std::string EncodeHead(const Head& head);
// The same into out[0, kHeadSize): no allocation (the flusher publishes per batch).
void EncodeHead(const Head& head, char* out);
// False for anything but a whole, intact record of a known version.
bool DecodeHead(const std::string& bytes, Head* head);

// Reads <dir>/HEAD. *found is false when there is no HEAD file; a record that
// does not decode (torn by a concurrent write, or damaged) is kCorruption.
// Opens nothing for writing.
Status ReadHead(Io* io, const std::string& dir, Head* head, bool* found);

// A fresh nonzero generation, distinct from any a reader may have seen.
uint64_t NewGeneration();

// The writer's side: owns <dir>/HEAD, open for the whole session.
// Thread-safe: the flusher publishes after each batch, truncateBefore when
// the first segment goes, close at the end; one mutex orders them, so the
// last write is always the newest state.
class HeadPublisher {
 public:
  // HEAD is created with `mode` (the log's file mode).
  HeadPublisher(Io* io, std::string dir, uint32_t mode) : io_(io), dir_(std::move(dir)), mode_(mode) {}
  ~HeadPublisher() { Close(); }
  HeadPublisher(const HeadPublisher&) = delete;
  HeadPublisher& operator=(const HeadPublisher&) = delete;

  // Opens (creating) HEAD and publishes `head` under a new generation,
  // synced (see head.cc for why). Called once per writer open, after
  // recovery and before the first append.
  Status Open(const Head& head);
  // Publishes the current record as changed by `update`: one pwrite, or none
  // when nothing changed. `update` runs under the publisher's lock, so values
  // it reads are the newest. With new_generation, readers discard what they
  // read under the old one; with sync, the record is durable on return.
  // Does nothing before Open or after Close.
  Status Publish(const std::function<void(Head*)>& update, bool sync = false,
                 bool new_generation = false);
  // The flusher's publish after each batch: these four fields, one pwrite,
  // no allocation (a std::function of this many captures would allocate).
  Status PublishEnd(uint64_t durable_seq, uint64_t first_seq, uint64_t tail_base, uint64_t tail_end,
                    bool sync = false, bool new_generation = false);
  // Writes that failed since Open (a hint: the log goes on without them).
  uint64_t failures() const;
  Head current() const;
  void Close();

 private:
  Status WriteLocked(bool sync);

  Io* const io_;
  const std::string dir_;
  const uint32_t mode_;
  mutable std::mutex mu_;
  int fd_ = -1;
  Head head_;
  char written_[format::kHeadSize] = {};  // the bytes of the last successful write
  bool has_written_ = false;
  uint64_t failures_ = 0;
};

}  // namespace commitlog

#endif  // COMMITLOG_CORE_HEAD_H_
