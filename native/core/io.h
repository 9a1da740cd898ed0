// Io: every file and directory operation of the log and of the durable file
// replace goes through this interface, so that tests can inject faults and
// simulate power loss at the system-call boundary. PosixIo is the real one.
//
// Contract: methods are thread-safe (they hold no state of their own) and
// never throw. I/O errors come back as Status::IoError with the errno and
// the name of the system call; fd-level calls leave path() empty and callers
// attach it with Status::WithPath.
#ifndef COMMITLOG_CORE_IO_H_
#define COMMITLOG_CORE_IO_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "status.h"

namespace commitlog {

enum class SyncKind {
  kData,  // fdatasync: data and the metadata needed to read it back
  kFull,  // fsync: data and all metadata
};

struct FileInfo {
  bool exists = false;
  bool is_regular = false;
  bool is_dir = false;
  uint32_t mode = 0;  // permission bits
  uint64_t size = 0;
  uint64_t mtime_ms = 0;  // last modification, ms since the Unix epoch
  uint64_t links = 0;     // hard links to it
};

class Io {
 public:
  virtual ~Io() = default;

  virtual Status Open(const std::string& path, int flags, int mode, int* fd) = 0;
  virtual void Close(int fd) = 0;
  // Writes all n bytes at off. A short write is continued; a write that makes
  // no progress fails with ENOSPC (what a full disk does to a short write).
  virtual Status PWrite(int fd, const char* data, size_t n, uint64_t off) = 0;
  // Reads up to n bytes at off; *got < n only at end of file.
  virtual Status PRead(int fd, char* buf, size_t n, uint64_t off, size_t* got) = 0;
  // Forces written data to stable storage. On macOS both kinds use
  // F_FULLFSYNC, since plain fsync there does not flush the drive cache.
  virtual Status Sync(int fd, SyncKind kind) = 0;
  virtual Status Truncate(int fd, uint64_t size) = 0;
  // Drops the file's clean pages from the page cache
  // (posix_fadvise(POSIX_FADV_DONTNEED)), so that the next read comes from
  // the device. After a failed fdatasync Linux marks the pages clean though
  // they never reached the disk; reading them back would show bytes a power
  // loss takes away. Best effort by nature: call it after a successful sync.
  virtual Status DropCache(int fd) = 0;
  // Reserves blocks without writing them (fallocate, or posix_fallocate).
  virtual Status Allocate(int fd, uint64_t size) = 0;
  virtual Status FileSize(int fd, uint64_t* size) = 0;
  // The first hole at or after `from`: a range [*start, *end) that reads as
  // zeros without having been written (a sparse range, or an unwritten
  // extent where the file system reports those as holes, as ext4 and xfs
  // do); *start == *end == the file's size when there is none, or when the
  // file system cannot tell (then every byte counts as written). The file
  // offset of fd may move.
  virtual Status FindHole(int fd, uint64_t from, uint64_t* start, uint64_t* end) {
    (void)from;
    uint64_t size = 0;
    Status s = FileSize(fd, &size);
    *start = *end = size;
    return s;
  }
  // Takes an exclusive advisory lock (flock). Without `wait`, kLocked if
  // another holder has it; with `wait`, blocks until it is free.
  virtual Status LockExclusive(int fd, const std::string& path, bool wait = false) = 0;

  virtual Status Stat(const std::string& path, FileInfo* info) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // Like Rename, but fails with EEXIST instead of replacing an existing `to`
  // (renameat2 RENAME_NOREPLACE; link + unlink where that is missing).
  virtual Status RenameNoReplace(const std::string& from, const std::string& to) = 0;
  virtual Status Link(const std::string& from, const std::string& to) = 0;
  virtual Status Unlink(const std::string& path) = 0;
  virtual Status MkDir(const std::string& path, int mode) = 0;
  virtual Status ListDir(const std::string& path, std::vector<std::string>* names) = 0;
  // fsync of a directory: makes creates, renames and unlinks in it durable.
  virtual Status SyncDir(const std::string& path) = 0;
  // Resolves symbolic links in path (realpath); ENOENT if it does not exist.
  virtual Status RealPath(const std::string& path, std::string* out) = 0;
};

// The process-wide real implementation.
Io* PosixIo();

// Path helpers.
std::string JoinPath(const std::string& dir, const std::string& name);
std::string DirName(const std::string& path);
std::string BaseName(const std::string& path);

}  // namespace commitlog

#endif  // COMMITLOG_CORE_IO_H_
