#include "head.h"

#include <fcntl.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>

#include "checkpoint.h"
#include "coding.h"
#include "crc32c.h"
#include "log_format.h"

namespace commitlog {

using namespace format;

void EncodeHead(const Head& head, char* p) {
  assert(head.log_id != 0);
  assert(head.generation != 0);
  std::memset(p, 0, kHeadSize);
  EncodeFixed32(p + 4, kHeadMagic);
  EncodeFixed16(p + 8, kHeadVersion);
  EncodeFixed16(p + 10, head.no_sync ? kHeadFlagNoSync : 0);
  EncodeFixed64(p + 16, head.log_id);
  EncodeFixed64(p + 24, head.generation);
  EncodeFixed64(p + 32, head.durable_seq);
  EncodeFixed64(p + 40, head.first_seq);
  EncodeFixed64(p + 48, head.tail_base);
  EncodeFixed64(p + 56, head.tail_end);
  EncodeFixed32(p, crc32c::Mask(crc32c::Value(p + 4, kHeadSize - 4)));
}

std::string EncodeHead(const Head& head) {
  std::string b(kHeadSize, '\0');
  EncodeHead(head, &b[0]);
  return b;
}

bool DecodeHead(const std::string& b, Head* head) {
  *head = Head();
  if (b.size() != kHeadSize) return false;
  const char* p = b.data();
  if (DecodeFixed32(p) != crc32c::Mask(crc32c::Value(p + 4, kHeadSize - 4))) return false;
  if (DecodeFixed32(p + 4) != kHeadMagic || DecodeFixed16(p + 8) != kHeadVersion) return false;
  uint16_t flags = DecodeFixed16(p + 10);
  if ((flags & ~kHeadFlagsKnown) != 0) return false;
  head->no_sync = (flags & kHeadFlagNoSync) != 0;
  head->log_id = DecodeFixed64(p + 16);
  head->generation = DecodeFixed64(p + 24);
  head->durable_seq = DecodeFixed64(p + 32);
  head->first_seq = DecodeFixed64(p + 40);
  head->tail_base = DecodeFixed64(p + 48);
  head->tail_end = DecodeFixed64(p + 56);
  return head->log_id != 0 && head->generation != 0;
}

Status ReadHead(Io* io, const std::string& dir, Head* head, bool* found) {
  *found = false;
  std::string path = JoinPath(dir, kHeadName);
  int fd;
  Status s = io->Open(path, O_RDONLY, 0, &fd);
  if (!s.ok()) return s.err() == ENOENT ? Status::OK() : s;
  // One sector: more than a record, so that a file of the wrong size is
  // seen as such.
  std::string bytes(512, '\0');
  size_t got = 0;
  s = io->PRead(fd, &bytes[0], bytes.size(), 0, &got);
  io->Close(fd);
  if (!s.ok()) return s.WithPath(path);
  bytes.resize(got);
  *found = true;
  if (!DecodeHead(bytes, head)) return Status::Corruption("HEAD fails its checksum", path, 0);
  return Status::OK();
}

uint64_t NewGeneration() {
  // Random rather than previous + 1: a power loss can bring back an older
  // HEAD (or lose it), and a reader must never see a generation come back
  // with other content behind it.
  return NewLogId();
}

Status HeadPublisher::Open(const Head& head) {
  std::lock_guard<std::mutex> l(mu_);
  assert(fd_ < 0);
  std::string path = JoinPath(dir_, kHeadName);
  Status s = io_->Open(path, O_RDWR | O_CREAT, mode_, &fd_);
  if (!s.ok()) {
    fd_ = -1;
    return s;
  }
  head_ = head;
  head_.generation = NewGeneration();
  // Synced once per open, unlike every later publish. Every HEAD written
  // after this one only raises the durable end of this session, so a power
  // loss leaves this record or a later one, never an earlier session's: not
  // a generation readers saw before, nor a sync 'none' session's record,
  // whose no-sync flag makes readers take damage to acknowledged records for
  // the end of the log (test/powerloss.reader.test.ts). The name itself is
  // not synced: a HEAD that a power loss takes leaves readers with what the
  // files prove, which never exceeds what is durable.
  return WriteLocked(true);
}

Status HeadPublisher::Publish(const std::function<void(Head*)>& update, bool sync,
                              bool new_generation) {
  std::lock_guard<std::mutex> l(mu_);
  if (fd_ < 0) return Status::OK();
  update(&head_);
  if (new_generation) head_.generation = NewGeneration();
  return WriteLocked(sync);
}

Status HeadPublisher::PublishEnd(uint64_t durable_seq, uint64_t first_seq, uint64_t tail_base,
                                 uint64_t tail_end, bool sync, bool new_generation) {
  std::lock_guard<std::mutex> l(mu_);
  if (fd_ < 0) return Status::OK();
  head_.durable_seq = durable_seq;
  // Never back: the log's start only moves forward, and a caller that read
  // it before a retention pass published a later one must not undo that.
  head_.first_seq = std::max(head_.first_seq, first_seq);
  head_.tail_base = tail_base;
  head_.tail_end = tail_end;
  if (new_generation) head_.generation = NewGeneration();
  return WriteLocked(sync);
}

Status HeadPublisher::WriteLocked(bool sync) {
  char b[kHeadSize];
  EncodeHead(head_, b);
  if (has_written_ && !sync && std::memcmp(b, written_, kHeadSize) == 0) return Status::OK();
  // One write of the whole record at offset 0: it fits one sector, so a
  // power loss leaves the old record or the new one (a torn one fails its
  // CRC, and readers then fall back to what the segments prove).
  Status s = io_->PWrite(fd_, b, kHeadSize, 0);
  if (s.ok() && sync) s = io_->Sync(fd_, SyncKind::kData);
  if (!s.ok()) {
    failures_++;
    has_written_ = false;
    return s.WithPath(JoinPath(dir_, kHeadName));
  }
  std::memcpy(written_, b, kHeadSize);
  has_written_ = true;
  return Status::OK();
}

uint64_t HeadPublisher::failures() const {
  std::lock_guard<std::mutex> l(mu_);
  return failures_;
}

Head HeadPublisher::current() const {
  std::lock_guard<std::mutex> l(mu_);
  return head_;
}

void HeadPublisher::Close() {
  std::lock_guard<std::mutex> l(mu_);
  if (fd_ >= 0) io_->Close(fd_);
  fd_ = -1;
}

}  // namespace commitlog
