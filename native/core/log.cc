#include "log.h"

#include <fcntl.h>

#include <cassert>
#include <cerrno>

#include "checkpoint.h"
#include "coding.h"
#include "log_format.h"

namespace commitlog {

namespace {

Status EnsureDir(Io* io, const std::string& dir, bool create) {
  FileInfo info;
  Status s = io->Stat(dir, &info);
  if (!s.ok()) return s;
  if (info.exists) {
    if (!info.is_dir) return Status::IoError("open", ENOTDIR, dir);
    return Status::OK();
  }
  if (!create) return Status::IoError("open", ENOENT, dir);
  s = io->MkDir(dir, 0755);
  if (!s.ok() && s.err() != EEXIST) return s;
  // The new directory's entry lives in its parent: sync that too.
  return io->SyncDir(DirName(dir));
}

Status OpenLock(Io* io, const std::string& dir, int* fd) {
  std::string path = JoinPath(dir, format::kLockName);
  Status s = io->Open(path, O_RDWR | O_CREAT, 0644, fd);
  if (!s.ok()) return s;
  s = io->LockExclusive(*fd, path);
  if (!s.ok()) io->Close(*fd);
  return s;
}

// Creates the first segment of an empty log, preallocated like the others.
Status CreateFirstSegment(Io* io, const std::string& dir, const LogOptions& options,
                          uint64_t base, std::string* path) {
  *path = JoinPath(dir, SegmentName(base));
  int fd;
  Status s = io->Open(*path, O_RDWR | O_CREAT | O_EXCL, 0644, &fd);
  if (!s.ok()) return s;
  s = PreallocateSegment(io, fd, options);
  io->Close(fd);
  if (!s.ok()) {
    io->Unlink(*path);
    return s.WithPath(*path);
  }
  // Its name must be durable before a batch in it is acknowledged.
  return io->SyncDir(dir);
}

}  // namespace

Log::Log(Io* io, std::string dir, const LogOptions& options, int lock_fd)
    : io_(io), dir_(std::move(dir)), options_(options), lock_fd_(lock_fd) {}

Log::~Log() {
  Close();
}

Status Log::Open(Io* io, const std::string& dir, const LogOptions& options,
                 std::unique_ptr<Log>* out) {
  Status s = EnsureDir(io, dir, options.create);
  if (!s.ok()) return s;
  int lock_fd;
  s = OpenLock(io, dir, &lock_fd);
  if (!s.ok()) return s;
  std::unique_ptr<Log> log(new Log(io, dir, options, lock_fd));
  RecoveredLog rec;
  s = Recover(io, dir, options, &rec);
  if (!s.ok()) return s;  // ~Log releases the lock
  log->recovery_ = rec.report;
  std::string tail_path;
  if (rec.segments.empty()) {
    s = CreateFirstSegment(io, dir, options, rec.next_seq, &tail_path);
    if (!s.ok()) return s;
    rec.segments.push_back(SegmentMeta{rec.next_seq, tail_path, {}});
    rec.tail_end = 0;
  }
  tail_path = rec.segments.back().path;
  uint64_t tail_base = rec.segments.back().base_seq;
  if (rec.rewrite_checkpoint) {
    // Either recovery dropped acknowledged records at the user's request (the
    // next open must not report the same loss again), or the checkpoint is a
    // clean one: it must stop claiming "nothing follows the tail" before this
    // session appends past that point.
    Checkpoint cp;
    cp.durable_seq = rec.next_seq;
    s = WriteCheckpoint(io, dir, cp);
    if (!s.ok()) {
      // No room for a new one (a full disk): removing the old one is as safe.
      s = io->Unlink(JoinPath(dir, format::kCheckpointName));
      if (s.ok()) s = io->SyncDir(dir);
      if (!s.ok() && s.err() != ENOENT) return s;
    }
  }
  int fd;
  s = io->Open(tail_path, SegmentOpenFlags(options.sync), 0644, &fd);
  if (!s.ok()) return s;
  uint32_t epoch = rec.tail_epoch != 0 ? rec.tail_epoch : NewEpoch();
  auto tail = std::make_unique<ActiveSegment>(io, fd, tail_path, tail_base, rec.tail_end, epoch,
                                              rec.tail_chain_crc);
  log->segments_.Reset(std::move(rec.segments));
  log->committer_ = std::make_unique<Committer>(io, dir, options, &log->segments_, std::move(tail),
                                                rec.next_seq);
  *out = std::move(log);
  return Status::OK();
}

void Log::Start(std::function<void()> notify) { committer_->Start(std::move(notify)); }

Status Log::Close() {
  if (closed_) return Status::OK();
  closed_ = true;
  Status result;
  if (committer_ != nullptr) {
    committer_->Stop();
    result = committer_->failure();
    if (result.ok()) {
      // Lets the next open skip reading the unused rest of the last segment.
      Checkpoint cp;
      cp.durable_seq = committer_->durable_seq();
      cp.clean = true;
      cp.tail_base = committer_->tail_base();
      cp.tail_end = committer_->tail_end();
      cp.tail_crc = committer_->tail_crc();
      // Best effort: the checkpoint only lets the next open skip work and
      // bound what was acknowledged. Failing to write it (a full disk, say)
      // loses nothing, so close still succeeds; the previous checkpoint is a
      // lower bound and was made non-clean at open.
      WriteCheckpoint(io_, dir_, cp);
    }
    // The committer object stays: durable_seq(), failure() and stats remain
    // readable after close. Only its file goes.
    committer_->CloseFiles();
  }
  // Closing the descriptor releases the flock.
  io_->Close(lock_fd_);
  lock_fd_ = -1;
  return result;
}

Status Log::TruncateBefore(uint64_t seq, uint32_t* removed) {
  std::vector<std::string> paths = segments_.RemoveBefore(seq);
  *removed = 0;
  for (const std::string& p : paths) {
    Status s = io_->Unlink(p);
    if (!s.ok() && s.err() != ENOENT) return s;
    (*removed)++;
  }
  if (paths.empty()) return Status::OK();
  // Without a directory sync a power loss could bring the files back; that
  // is harmless for correctness but surprising for retention.
  return io_->SyncDir(dir_);
}

void Log::GetStats(LogStats* out) const {
  committer_->FillStats(out);
  out->first_seq = first_seq();
  out->segments = segments_.size();
}

Status Log::Read(uint64_t from, uint64_t limit, size_t max_bytes, ReadCursor* cursor,
                 ReadResult* out) const {
  out->data.clear();
  out->ends.clear();
  out->first_seq = from;
  uint64_t end = std::min(limit, durable_seq());
  while (from < end && out->data.size() < max_bytes) {
    SegmentMeta seg;
    uint64_t offset, next_base;
    bool last;
    if (!segments_.Locate(from, &seg, &offset, &last, &next_base)) {
      return Status::NotFound("sequence " + std::to_string(from) + " was truncated away");
    }
    if (cursor->seq == from && cursor->segment == seg.base_seq) offset = cursor->offset;
    uint64_t before = out->ends.size();
    Status s = ReadSegment(seg, offset, next_base, from, end, max_bytes, cursor, out);
    if (!s.ok()) return s;
    from = out->first_seq + out->ends.size();
    if (out->ends.size() == before) {
      if (before > 0) break;  // the next record did not fit in the budget
      if (from < std::min(end, next_base)) {
        return Status::Corruption("durable record " + std::to_string(from) + " is missing",
                                  seg.path, cursor->offset);
      }
    }
  }
  return Status::OK();
}

Status Log::ReadSegment(const SegmentMeta& seg, uint64_t offset, uint64_t next_base,
                        uint64_t from, uint64_t end, size_t max_bytes, ReadCursor* cursor,
                        ReadResult* out) const {
  int fd;
  Status s = io_->Open(seg.path, O_RDONLY, 0, &fd);
  if (!s.ok()) {
    if (s.err() == ENOENT) return Status::NotFound("segment " + seg.path + " was truncated away");
    return s;
  }
  uint64_t size = 0;
  s = io_->FileSize(fd, &size);
  std::string buf;
  uint64_t stop = std::min(end, next_base);
  while (s.ok() && from < stop && offset < size) {
    BatchHeader h;
    BatchState st = ReadBatchAt(io_, fd, offset, size, &buf, &h, &s);
    if (!s.ok()) break;
    // Everything below `end` was synced: a batch that does not decode here
    // is damage to acknowledged data, never a torn write.
    if (st != BatchState::kValid || h.base_seq > from) {
      s = Status::Corruption("durable batch fails verification on read", seg.path, offset);
      break;
    }
    const char* p = buf.data() + format::kBatchHeaderSize;
    for (uint32_t i = 0; i < h.count; i++) {
      uint32_t len = DecodeFixed32(p);
      p += format::kRecordFrameSize;
      uint64_t seq = h.base_seq + i;
      if (seq >= from && seq < stop) {
        if (!out->ends.empty() && out->data.size() + len > max_bytes) {
          stop = seq;  // budget spent; resume at this record next time
          break;
        }
        out->data.append(p, len);
        out->ends.push_back(static_cast<uint32_t>(out->data.size()));
        from = seq + 1;
      }
      p += len;
    }
    cursor->seq = from;
    cursor->segment = seg.base_seq;
    cursor->offset = offset;
    if (from >= h.base_seq + h.count) {
      offset += h.span;
      cursor->offset = offset;
    }
  }
  io_->Close(fd);
  return s.WithPath(seg.path);
}

}  // namespace commitlog
