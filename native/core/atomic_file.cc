#include "atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>

namespace commitlog {

static const char kTempInfix[] = ".tmp-";

bool IsTempFor(const std::string& name, const std::string& target_base) {
  std::string prefix = target_base + kTempInfix;
  return name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0;
}

std::string TempPathFor(const std::string& target) {
  static std::atomic<uint64_t> counter{0};
  char suffix[64];
  std::snprintf(suffix, sizeof(suffix), "%s%ld-%llu", kTempInfix, static_cast<long>(::getpid()),
                static_cast<unsigned long long>(counter.fetch_add(1)));
  return target + suffix;
}

Status WriteTempDurable(Io* io, const std::string& target, const char* data, size_t n,
                        int mode, std::string* tmp_path) {
  std::string tmp = TempPathFor(target);
  int fd;
  // O_EXCL: never write through a file (or symlink) someone else put there.
  Status s = io->Open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode, &fd);
  if (!s.ok()) return s;
  s = io->PWrite(fd, data, n, 0);
  // fdatasync covers the data and the new file's size, which is all the
  // rename needs: the name is made durable by the directory fsync later.
  if (s.ok()) s = io->Sync(fd, SyncKind::kData);
  io->Close(fd);
  if (!s.ok()) {
    io->Unlink(tmp);
    return s.WithPath(tmp);
  }
  *tmp_path = std::move(tmp);
  return Status::OK();
}

Status ReplaceFileDurable(Io* io, const std::string& target, const char* data, size_t n,
                          int mode) {
  std::string tmp;
  Status s = WriteTempDurable(io, target, data, n, mode, &tmp);
  if (!s.ok()) return s;
  // rename(2) is atomic: readers see the old file or the new one, never a mix.
  s = io->Rename(tmp, target);
  if (!s.ok()) {
    io->Unlink(tmp);
    return s;
  }
  // Without this the rename may be lost on power failure, and the old
  // content would come back after it was acknowledged as replaced.
  return io->SyncDir(DirName(target));
}

Status ReadWholeFile(Io* io, const std::string& path, std::string* out) {
  int fd;
  Status s = io->Open(path, O_RDONLY, 0, &fd);
  if (!s.ok()) return s;
  uint64_t size = 0;
  s = io->FileSize(fd, &size);
  out->clear();
  if (s.ok()) {
    out->resize(static_cast<size_t>(size));
    size_t got = 0;
    s = io->PRead(fd, &(*out)[0], out->size(), 0, &got);
    out->resize(got);
  }
  io->Close(fd);
  return s.WithPath(path);
}

}  // namespace commitlog
