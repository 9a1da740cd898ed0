#include "recycle.h"

#include <fcntl.h>

#include <cassert>
#include <cerrno>
#include <cstdio>

#include "log_format.h"
#include "segment.h"

namespace commitlog {

std::string RecycledSegmentPath(const std::string& dir, uint64_t n) {
  char name[64];
  std::snprintf(name, sizeof(name), "%srecycled-%llu.tmp", format::kPreparedPrefix,
                static_cast<unsigned long long>(n));
  return JoinPath(dir, name);
}

bool QualifiesForReuse(Io* io, const std::string& path, uint64_t segment_bytes, uint32_t file_mode) {
  assert(segment_bytes > 0);
  FileInfo info;
  Status s = io->Stat(path, &info);
  // The mode a new file would get (a file made under another `mode` option
  // would keep its old bits, readable by a group the log no longer shares
  // with, or not by one it does: unlinked instead); no other hard link (a
  // `cp -al` or `rsync --link-dest` backup would be overwritten).
  return s.ok() && info.exists && info.is_regular && info.size == segment_bytes &&
         (info.mode & 0777) == (file_mode & 0777) && info.links == 1;
}

Status ReuseSegmentFile(Io* io, const std::string& path, uint64_t segment_bytes) {
  int fd;
  Status s = io->Open(path, O_RDWR, 0, &fd);
  if (!s.ok()) return s;
  uint64_t size = 0;
  s = io->FileSize(fd, &size);
  if (s.ok() && size != segment_bytes) s = Status::IoError("reuse segment", EINVAL, path);
  for (uint64_t at = 0; s.ok() && at < size;) {
    uint64_t start = size, end = size;
    s = io->FindHole(fd, at, &start, &end);
    if (s.ok() && start < end) s = WriteZeros(io, fd, start, end);
    at = end > at ? end : size;
  }
  // Not needed for correctness: the old batches are below first_seq whether
  // they reached the disk or not, and zeros over holes read as the holes
  // did. It keeps the first batch's fdatasync to that batch, as with a new
  // file.
  if (s.ok()) s = io->Sync(fd, SyncKind::kData);
  io->Close(fd);
  return s.WithPath(path);
}

}  // namespace commitlog
