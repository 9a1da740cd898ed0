#include "config_file.h"

#include <fcntl.h>

#include <cerrno>
#include <vector>

#include "atomic_file.h"
#include "coding.h"
#include "crc32c.h"

namespace commitlog {

Status ResolveTarget(Io* io, const std::string& path, std::string* target) {
  Status s = io->RealPath(path, target);
  if (s.ok()) return s;
  if (s.err() != ENOENT) return s;
  // A new file (or a dangling link, which we refuse to follow into nowhere):
  // resolve the directory, keep the name.
  std::string dir;
  s = io->RealPath(DirName(path), &dir);
  if (!s.ok()) return s;
  *target = JoinPath(dir, BaseName(path));
  return Status::OK();
}

Status ModeFor(Io* io, const std::string& target, int default_mode, int* mode) {
  FileInfo info;
  Status s = io->Stat(target, &info);
  if (!s.ok()) return s;
  if (info.exists && !info.is_regular) return Status::IoError("open", EISDIR, target);
  *mode = info.exists ? static_cast<int>(info.mode) : default_mode;
  return Status::OK();
}

Status WriteFileDurable(Io* io, const std::string& path, const char* data, size_t n,
                        int default_mode) {
  std::string target;
  Status s = ResolveTarget(io, path, &target);
  int mode = default_mode;
  if (s.ok()) s = ModeFor(io, target, default_mode, &mode);
  if (s.ok()) s = ReplaceFileDurable(io, target, data, n, mode);
  return s;
}

Status ReplaceWithBackup(Io* io, const std::string& target, const char* data, size_t n, int mode,
                         bool backup_current) {
  std::string tmp;
  // 1. The new content, complete and durable under a temp name.
  Status s = WriteTempDurable(io, target, data, n, mode, &tmp);
  if (!s.ok()) return s;
  if (backup_current) {
    // 2. The current (valid) file also becomes the backup. link + rename
    // rather than rename: <target> keeps pointing at a valid file meanwhile,
    // and the backup changes atomically from the old one to this one.
    std::string bak = target + ".bak";
    std::string bak_tmp = bak + ".tmp";
    io->Unlink(bak_tmp);  // a leftover of an earlier crash
    s = io->Link(target, bak_tmp);
    if (s.ok()) {
      s = io->Rename(bak_tmp, bak);
      // rename(2) does nothing, successfully, when both names are links to
      // one file: .bak already is the current file, because an earlier save
      // failed at step 3. bak_tmp is then still there.
      FileInfo left;
      if (!s.ok() || (io->Stat(bak_tmp, &left).ok() && left.exists)) io->Unlink(bak_tmp);
    }
    if (!s.ok() && !(s.code() == Code::kIoError && s.err() == ENOENT)) {
      io->Unlink(tmp);
      return s;
    }
  }
  // 3. Atomically switch the name to the new content.
  s = io->Rename(tmp, target);
  if (!s.ok()) io->Unlink(tmp);
  return s;
}

Status CommitSave(Io* io, const std::string& target, bool sweep) {
  // 4. Make the renames durable: until this returns, a power loss may bring
  // back the previous state (which is valid, and was never acknowledged as
  // replaced). Every file a name can point to here was synced before.
  std::string dir = DirName(target);
  Status s = io->SyncDir(dir);
  if (!s.ok() || !sweep) return s;
  // Leftovers of failed saves (an unlink that failed after another failure)
  // or of crashes. Not synced: if a power loss brings one back, it is junk
  // next to a durable valid <target>, and the next save or load removes it.
  std::vector<std::string> names;
  if (!io->ListDir(dir, &names).ok()) return Status::OK();
  std::string base = BaseName(target);
  for (const std::string& name : names) {
    if (IsTempFor(name, base) || name == base + ".bak.tmp") io->Unlink(JoinPath(dir, name));
  }
  return Status::OK();
}

Status SyncFileAndDir(Io* io, const std::string& path) {
  int fd;
  Status s = io->Open(path, O_RDONLY, 0, &fd);
  if (!s.ok()) return s;
  // fdatasync through a read-only descriptor: it flushes the file, whoever
  // wrote it (a crashed process, another one, an editor).
  s = io->Sync(fd, SyncKind::kData);
  io->Close(fd);
  if (!s.ok()) return s.WithPath(path);
  // And the name: a rename into place that no directory fsync covered yet.
  return io->SyncDir(DirName(path));
}

Status MoveDurable(Io* io, const std::string& from, const std::string& to) {
  Status s = io->Rename(from, to);
  if (!s.ok()) return s;
  // Not needed for correctness: if a power loss undoes the move, load()
  // finds the same files and moves them the same way again; and every load()
  // that returns a value after a move syncs that directory (SyncFileAndDir).
  // It makes the move final at once.
  return io->SyncDir(DirName(to));
}

Status RemoveCopies(Io* io, const std::string& target, bool main) {
  std::vector<std::string> doomed;
  if (main) {
    doomed.push_back(target);
  } else {
    std::string dir = DirName(target);
    std::vector<std::string> names;
    Status s = io->ListDir(dir, &names);
    if (!s.ok()) return s;
    std::string base = BaseName(target);
    for (const std::string& name : names) {
      if (IsTempFor(name, base)) doomed.push_back(JoinPath(dir, name));
    }
    doomed.push_back(target + ".bak.tmp");
    doomed.push_back(target + ".bak");
  }
  for (const std::string& path : doomed) {
    Status s = io->Unlink(path);
    if (!s.ok() && !(s.code() == Code::kIoError && s.err() == ENOENT)) return s;
  }
  return Status::OK();
}

Status MakeDirDurable(Io* io, const std::string& dir, int mode) {
  Status s = io->MkDir(dir, mode);
  if (!s.ok()) {
    FileInfo info;
    if (s.err() != EEXIST || !io->Stat(dir, &info).ok() || !info.is_dir) return s;
  }
  // Not needed for correctness: on Linux file systems the parent's fsync
  // below makes the new directory durable along with its name, and the
  // crash model treats it so (it cannot see this call missing). Kept for
  // file systems that persist a new directory's own inode only through an
  // fsync of it, as POSIX allows.
  s = io->SyncDir(dir);
  // Its name: without this, a power loss can take the directory, and every
  // file later made durable in it, away.
  if (s.ok()) s = io->SyncDir(DirName(dir));
  return s;
}

static constexpr uint32_t kEnvelopeMagic = 0x46434c43u;  // bytes "CLCF"
static constexpr uint16_t kEnvelopeVersion = 1;

std::string WrapChecked(const char* payload, size_t n) {
  std::string out(kEnvelopeHeaderSize + n, '\0');
  char* h = &out[0];
  EncodeFixed32(h, kEnvelopeMagic);
  EncodeFixed16(h + 4, kEnvelopeVersion);
  EncodeFixed32(h + 8, static_cast<uint32_t>(n));
  EncodeFixed32(h + 12, crc32c::Mask(crc32c::Value(payload, n)));
  if (n > 0) out.replace(kEnvelopeHeaderSize, n, payload, n);
  return out;
}

bool UnwrapChecked(const char* bytes, size_t n, std::string* reason) {
  if (n < kEnvelopeHeaderSize) {
    *reason = "shorter than the checksum header";
    return false;
  }
  if (DecodeFixed32(bytes) != kEnvelopeMagic || DecodeFixed16(bytes + 4) != kEnvelopeVersion ||
      DecodeFixed16(bytes + 6) != 0) {
    // The reserved field must be zero too: a header that differs from what
    // WrapChecked writes is not one of ours (found by fuzz_config).
    *reason = "no checksum header";
    return false;
  }
  uint64_t len = DecodeFixed32(bytes + 8);
  if (n - kEnvelopeHeaderSize != len) {
    *reason = "content is " + std::to_string(n - kEnvelopeHeaderSize) + " bytes, header says " + std::to_string(len);
    return false;
  }
  if (crc32c::Mask(crc32c::Value(bytes + kEnvelopeHeaderSize, len)) != DecodeFixed32(bytes + 12)) {
    *reason = "checksum mismatch";
    return false;
  }
  return true;
}

Status LockFile(Io* io, const std::string& target, uint32_t mode, int* fd) {
  std::string path = target + ".lock";
  // Created with the file's own mode. Read-write where allowed (NFS emulates
  // flock with POSIX locks, whose exclusive kind needs a writable
  // descriptor); read-only otherwise: a lock another account of the log's
  // group created (a reader process committing its cursor) is readable, not
  // writable, and a local flock needs no write access.
  Status s = io->Open(path, O_RDWR | O_CREAT, mode, fd);
  if (s.err() == EACCES) s = io->Open(path, O_RDONLY, 0, fd);
  if (!s.ok()) return s;
  s = io->LockExclusive(*fd, path, /*wait=*/true);
  if (!s.ok()) io->Close(*fd);
  return s;
}

void UnlockFile(Io* io, int fd) { io->Close(fd); }

}  // namespace commitlog
