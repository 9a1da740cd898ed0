#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>

#include "io.h"

namespace commitlog {
namespace {

class PosixIoImpl final : public Io {
 public:
  Status Open(const std::string& path, int flags, int mode, int* fd) override {
    int f;
    do {
      f = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    } while (f < 0 && errno == EINTR);
    if (f < 0) return Status::IoError("open", errno, path);
    *fd = f;
    return Status::OK();
  }

  void Close(int fd) override {
    // close() errors are not retried: on Linux the fd is gone either way, and
    // durability never depends on close (we sync explicitly before it).
    ::close(fd);
  }

  Status PWrite(int fd, const char* data, size_t n, uint64_t off) override {
    while (n > 0) {
      ssize_t w = ::pwrite(fd, data, n, static_cast<off_t>(off));
      if (w < 0) {
        if (errno == EINTR) continue;
        return Status::IoError("write", errno);
      }
      if (w == 0) return Status::IoError("write", ENOSPC);
      data += w;
      n -= static_cast<size_t>(w);
      off += static_cast<uint64_t>(w);
    }
    return Status::OK();
  }

  Status PRead(int fd, char* buf, size_t n, uint64_t off, size_t* got) override {
    size_t total = 0;
    while (total < n) {
      ssize_t r = ::pread(fd, buf + total, n - total, static_cast<off_t>(off + total));
      if (r < 0) {
        if (errno == EINTR) continue;
        return Status::IoError("read", errno);
      }
      if (r == 0) break;
      total += static_cast<size_t>(r);
    }
    *got = total;
    return Status::OK();
  }

  Status Sync(int fd, SyncKind kind) override {
#if defined(__APPLE__)
    (void)kind;
    // fsync on macOS only reaches the drive's cache; F_FULLFSYNC asks the
    // drive to flush it, which is what durability needs.
    if (::fcntl(fd, F_FULLFSYNC) == 0) return Status::OK();
    return Status::IoError("fcntl(F_FULLFSYNC)", errno);
#else
    int r;
    do {
      r = kind == SyncKind::kData ? ::fdatasync(fd) : ::fsync(fd);
    } while (r < 0 && errno == EINTR);
    if (r == 0) return Status::OK();
    return Status::IoError(kind == SyncKind::kData ? "fdatasync" : "fsync", errno);
#endif
  }

  Status Truncate(int fd, uint64_t size) override {
    int r;
    do {
      r = ::ftruncate(fd, static_cast<off_t>(size));
    } while (r < 0 && errno == EINTR);
    if (r < 0) return Status::IoError("ftruncate", errno);
    return Status::OK();
  }

  Status DropCache(int fd) override {
#if defined(POSIX_FADV_DONTNEED)
    int e = ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    if (e != 0) return Status::IoError("posix_fadvise", e);
#else
    (void)fd;
#endif
    return Status::OK();
  }

  Status Allocate(int fd, uint64_t size) override {
#if defined(__APPLE__)
    // No posix_fallocate on macOS: F_PREALLOCATE reserves the blocks (all
    // at once if it can), then ftruncate makes them part of the file.
    // Written from Apple's documentation; not tested on macOS.
    fstore_t store = {F_ALLOCATECONTIG | F_ALLOCATEALL, F_PEOFPOSMODE, 0, static_cast<off_t>(size), 0};
    if (::fcntl(fd, F_PREALLOCATE, &store) < 0) {
      store.fst_flags = F_ALLOCATEALL;
      if (::fcntl(fd, F_PREALLOCATE, &store) < 0) return Status::IoError("fcntl(F_PREALLOCATE)", errno);
    }
    return Truncate(fd, size);
#else
#if defined(__linux__)
    int r;
    do {
      r = ::fallocate(fd, 0, 0, static_cast<off_t>(size));
    } while (r < 0 && errno == EINTR);
    if (r == 0) return Status::OK();
    if (errno != EOPNOTSUPP) return Status::IoError("fallocate", errno);
#endif
    int e = ::posix_fallocate(fd, 0, static_cast<off_t>(size));
    if (e != 0) return Status::IoError("posix_fallocate", e);
    return Status::OK();
#endif
  }

  Status FileSize(int fd, uint64_t* size) override {
    struct stat st;
    if (::fstat(fd, &st) < 0) return Status::IoError("fstat", errno);
    *size = static_cast<uint64_t>(st.st_size);
    return Status::OK();
  }

  Status FindHole(int fd, uint64_t from, uint64_t* start, uint64_t* end) override {
    uint64_t size = 0;
    Status s = FileSize(fd, &size);
    if (!s.ok()) return s;
    *start = *end = size;
    if (from >= size) return Status::OK();
#if defined(SEEK_HOLE) && defined(SEEK_DATA)
    off_t hole = ::lseek(fd, static_cast<off_t>(from), SEEK_HOLE);
    if (hole < 0) {
      // A file system without the query: no hole it knows of.
      if (errno == EINVAL || errno == ENOTSUP || errno == EOPNOTSUPP) return Status::OK();
      return Status::IoError("lseek(SEEK_HOLE)", errno);
    }
    if (static_cast<uint64_t>(hole) >= size) return Status::OK();
    off_t data = ::lseek(fd, hole, SEEK_DATA);
    if (data < 0 && errno != ENXIO) return Status::IoError("lseek(SEEK_DATA)", errno);
    *start = static_cast<uint64_t>(hole);
    *end = data < 0 ? size : std::min<uint64_t>(static_cast<uint64_t>(data), size);
#endif
    return Status::OK();
  }

  Status LockExclusive(int fd, const std::string& path, bool wait) override {
    int r;
    do {
      r = ::flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB);
    } while (r < 0 && errno == EINTR);
    if (r == 0) return Status::OK();
    if (errno == EWOULDBLOCK) return Status::Locked(path);
    return Status::IoError("flock", errno, path);
  }

  Status Stat(const std::string& path, FileInfo* info) override {
    struct stat st;
    *info = FileInfo();
    if (::stat(path.c_str(), &st) < 0) {
      if (errno == ENOENT) return Status::OK();
      return Status::IoError("stat", errno, path);
    }
    info->exists = true;
    info->is_regular = S_ISREG(st.st_mode);
    info->is_dir = S_ISDIR(st.st_mode);
    info->mode = st.st_mode & 07777;
    info->size = static_cast<uint64_t>(st.st_size);
    info->links = static_cast<uint64_t>(st.st_nlink);
#if defined(__APPLE__)
    const struct timespec& mtime = st.st_mtimespec;
#else
    const struct timespec& mtime = st.st_mtim;
#endif
    if (mtime.tv_sec > 0) {
      info->mtime_ms = static_cast<uint64_t>(mtime.tv_sec) * 1000 + static_cast<uint64_t>(mtime.tv_nsec) / 1000000;
    }
    return Status::OK();
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) == 0) return Status::OK();
    return Status::IoError("rename", errno, from);
  }

  Status RenameNoReplace(const std::string& from, const std::string& to) override {
#if defined(__linux__) && defined(SYS_renameat2)
    if (::syscall(SYS_renameat2, AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), 1 /* RENAME_NOREPLACE */) == 0) {
      return Status::OK();
    }
    if (errno != EINVAL && errno != ENOSYS) return Status::IoError("renameat2", errno, to);
#endif
    // No renameat2 (or a file system without RENAME_NOREPLACE): link fails
    // with EEXIST rather than replace; the old name then goes.
    if (::link(from.c_str(), to.c_str()) != 0) return Status::IoError("link", errno, to);
    if (::unlink(from.c_str()) != 0) return Status::IoError("unlink", errno, from);
    return Status::OK();
  }

  Status Link(const std::string& from, const std::string& to) override {
    if (::link(from.c_str(), to.c_str()) == 0) return Status::OK();
    return Status::IoError("link", errno, to);
  }

  Status Unlink(const std::string& path) override {
    if (::unlink(path.c_str()) == 0) return Status::OK();
    return Status::IoError("unlink", errno, path);
  }

  Status MkDir(const std::string& path, int mode) override {
    if (::mkdir(path.c_str(), static_cast<mode_t>(mode)) == 0) return Status::OK();
    return Status::IoError("mkdir", errno, path);
  }

  Status ListDir(const std::string& path, std::vector<std::string>* names) override {
    DIR* d = ::opendir(path.c_str());
    if (d == nullptr) return Status::IoError("opendir", errno, path);
    names->clear();
    errno = 0;
    while (struct dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names->push_back(std::move(n));
    }
    int err = errno;
    ::closedir(d);
    if (err != 0) return Status::IoError("readdir", err, path);
    return Status::OK();
  }

  Status SyncDir(const std::string& path) override {
    int fd = -1;
    Status s = Open(path, O_RDONLY | O_DIRECTORY, 0, &fd);
    if (!s.ok()) return s;
    s = Sync(fd, SyncKind::kFull);
    Close(fd);
    return s.WithPath(path);
  }

  Status RealPath(const std::string& path, std::string* out) override {
    char* r = ::realpath(path.c_str(), nullptr);
    if (r == nullptr) return Status::IoError("realpath", errno, path);
    *out = r;
    std::free(r);
    return Status::OK();
  }
};

}  // namespace

Io* PosixIo() {
  static PosixIoImpl io;
  return &io;
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

std::string DirName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace commitlog
