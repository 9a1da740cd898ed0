#include "checkpoint.h"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <chrono>

#include "atomic_file.h"
#include "coding.h"
#include "crc32c.h"
#include "log_format.h"

namespace commitlog {

using namespace format;

std::string EncodeCheckpoint(const Checkpoint& cp) {
  assert(cp.log_id != 0);
  assert(!cp.has_gap || cp.gap_from < cp.gap_to);
  // Without a cut the checkpoint keeps the 80 bytes of earlier code, so that
  // its in-place write on a full disk (same size only) still works.
  std::string b(cp.has_cut ? kCheckpointSizeCut : kCheckpointSize, '\0');
  char* p = &b[0];
  uint16_t flags = (cp.clean ? kCheckpointFlagClean : 0) | (cp.no_sync ? kCheckpointFlagNoSync : 0) |
                   (cp.has_gap ? kCheckpointFlagGap : 0) | (cp.has_cut ? kCheckpointFlagCut : 0);
  EncodeFixed32(p + 4, kCheckpointMagic);
  EncodeFixed16(p + 8, kFormatVersion);
  EncodeFixed16(p + 10, flags);
  EncodeFixed64(p + 16, cp.durable_seq);
  EncodeFixed64(p + 24, cp.tail_base);
  EncodeFixed64(p + 32, cp.tail_end);
  EncodeFixed32(p + 40, cp.tail_crc);
  EncodeFixed64(p + 48, cp.first_seq);
  EncodeFixed64(p + 56, cp.log_id);
  EncodeFixed64(p + 64, cp.has_gap ? cp.gap_from : 0);
  EncodeFixed64(p + 72, cp.has_gap ? cp.gap_to : 0);
  if (cp.has_cut) EncodeFixed64(p + kCheckpointCutSeqOffset, cp.cut_seq);
  EncodeFixed32(p, crc32c::Mask(crc32c::Value(p + 4, b.size() - 4)));
  return b;
}

bool DecodeCheckpoint(const std::string& b, Checkpoint* cp) {
  *cp = Checkpoint();
  if (b.size() != kCheckpointSizeV1 && b.size() != kCheckpointSize && b.size() != kCheckpointSizeCut) return false;
  const char* p = b.data();
  if (DecodeFixed32(p) != crc32c::Mask(crc32c::Value(p + 4, b.size() - 4))) return false;
  if (DecodeFixed32(p + 4) != kCheckpointMagic) return false;
  uint16_t version = DecodeFixed16(p + 8);
  uint16_t flags = DecodeFixed16(p + 10);
  size_t expected = version == 1                        ? kCheckpointSizeV1
                    : version != 2                      ? 0
                    : (flags & kCheckpointFlagCut) != 0 ? kCheckpointSizeCut
                                                        : kCheckpointSize;
  if (b.size() != expected) return false;
  if (version >= 2 && (flags & ~kCheckpointFlagsKnown) != 0) return false;
  cp->version = version;
  cp->clean = (flags & kCheckpointFlagClean) != 0;
  cp->durable_seq = DecodeFixed64(p + 16);
  cp->tail_base = DecodeFixed64(p + 24);
  cp->tail_end = DecodeFixed64(p + 32);
  cp->tail_crc = DecodeFixed32(p + 40);
  if (version >= 2) {
    cp->no_sync = (flags & kCheckpointFlagNoSync) != 0;
    cp->first_seq = DecodeFixed64(p + 48);
    cp->log_id = DecodeFixed64(p + 56);
    cp->has_gap = (flags & kCheckpointFlagGap) != 0;
    cp->gap_from = DecodeFixed64(p + 64);
    cp->gap_to = DecodeFixed64(p + 72);
    cp->has_cut = (flags & kCheckpointFlagCut) != 0;
    cp->cut_seq = cp->has_cut ? DecodeFixed64(p + kCheckpointCutSeqOffset) : 0;
    if (cp->log_id == 0 || (cp->has_gap && cp->gap_from >= cp->gap_to)) return false;
  }
  return true;
}

Status ReadCheckpoint(Io* io, const std::string& dir, Checkpoint* cp, bool* found) {
  std::string path = JoinPath(dir, kCheckpointName);
  std::string bytes;
  Status s = ReadWholeFile(io, path, &bytes);
  *found = false;
  if (!s.ok()) {
    if (s.code() == Code::kIoError && s.err() == ENOENT) return Status::OK();
    return s;
  }
  if (!DecodeCheckpoint(bytes, cp)) return Status::Corruption("checkpoint fails its checksum", path, 0);
  *found = true;
  return Status::OK();
}

void CheckpointKeeper::Reset(const Checkpoint& cp) {
  std::lock_guard<std::mutex> l(mu_);
  cp_ = cp;
}

Checkpoint CheckpointKeeper::current() const {
  std::lock_guard<std::mutex> l(mu_);
  return cp_;
}

Status CheckpointKeeper::Update(const std::function<void(Checkpoint*)>& update) {
  std::lock_guard<std::mutex> l(mu_);
  Checkpoint next = cp_;
  next.clean = false;
  update(&next);
  Status s = WriteLocked(next);
  if (s.ok()) cp_ = next;
  return s;
}

Status CheckpointKeeper::WriteLocked(const Checkpoint& cp) {
  std::string b = EncodeCheckpoint(cp);
  std::string path = JoinPath(dir_, kCheckpointName);
  Status s = ReplaceFileDurable(io_, path, b.data(), b.size(), mode_);
  if (s.ok() || s.code() != Code::kIoError || (s.err() != ENOSPC && s.err() != EDQUOT)) return s;
  // A full disk has no block for a temp file. The checkpoint fits one
  // sector, which a disk writes whole or not at all (the assumption
  // PostgreSQL makes for pg_control): overwrite it in place.
  // Only over a checkpoint of the same size: growing the file (a version 1
  // one) would change its size too, which is not one sector write.
  int fd;
  Status in_place = io_->Open(path, O_WRONLY, 0, &fd);
  if (!in_place.ok()) return s;
  uint64_t size = 0;
  in_place = io_->FileSize(fd, &size);
  if (in_place.ok() && size != b.size()) in_place = s;
  if (in_place.ok()) in_place = io_->PWrite(fd, b.data(), b.size(), 0);
  if (in_place.ok()) in_place = io_->Sync(fd, SyncKind::kData);
  io_->Close(fd);
  return in_place.ok() ? in_place : s;
}

uint64_t NewLogId() {
  // getentropy (glibc 2.25) rather than std::random_device: with libstdc++
  // linked statically, random_device brings in arc4random, which would make
  // glibc 2.36 the prebuilds' floor. Time and pid still vary the id should
  // getentropy fail.
  uint64_t id = 0;
  if (::getentropy(&id, sizeof id) != 0) id = 0;
  id ^= static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  id ^= static_cast<uint64_t>(::getpid()) << 17;
  return id == 0 ? 1 : id;
}

}  // namespace commitlog
