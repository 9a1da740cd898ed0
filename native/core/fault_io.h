// FaultIo: an Io that forwards to another and injects faults at the
// system-call boundary, for tests only (compiled into the test addon, never
// into the production one).
//
// Every call except pure reads (PRead, Stat, ListDir, RealPath, FileSize,
// Close) is a numbered "step". A plan can:
//  - crash at step N: that step and everything after it fails with
//    ECANCELED and has no effect, as if the process had died right before
//    it (cleanup code cannot run either). Disarm to "restart".
//  - fail step N with an errno (EIO, ENOSPC, ...), once, without effect,
//    optionally counting only steps of one kind ("write", "sync", "rename",
//    "open", ...).
//  - track durability: remember, for every write not yet covered by a sync
//    of its file, the bytes it overwrote, and for every create, rename, link
//    and unlink not yet covered by a sync of its directory, how to undo it.
//    PowerLoss() then rolls the files back to what a machine that lost power
//    would show: every unsynced directory change undone, and every unsynced
//    write lost, except a random subset (in any order) whose last one may be
//    torn at a 512-byte sector boundary.
#ifndef COMMITLOG_CORE_FAULT_IO_H_
#define COMMITLOG_CORE_FAULT_IO_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "io.h"

namespace commitlog {

struct FaultPlan {
  int64_t crash_at = -1;   // step index, or -1
  int64_t fail_at = -1;    // index among steps of fail_kind (any kind if empty)
  int fail_errno = 0;
  std::string fail_kind;
  // With a failing write: write the first half of the bytes before failing,
  // as a disk that fills up in the middle of a write does.
  bool short_write = false;
  bool track_durability = false;
};

struct PowerLossStats {
  uint64_t writes_lost = 0;
  uint64_t writes_kept = 0;
  uint64_t writes_torn = 0;
  uint64_t dir_ops_undone = 0;
};

class FaultIo final : public Io {
 public:
  explicit FaultIo(Io* base) : base_(base) {}

  void Arm(const FaultPlan& plan);
  void Disarm();
  // From now on every step fails with ECANCELED, as if the process died.
  void Crash();
  // With track_durability: undoes what was not durable (see above). Writes
  // survive with probability keep (0..1), chosen by a generator seeded with
  // seed; with tear, the last surviving write of a file may be cut at a
  // sector boundary. Call after Crash(), before Disarm().
  Status PowerLoss(uint64_t seed, double keep, bool tear, PowerLossStats* stats);
  int64_t steps() const;
  bool crashed() const;

  Status Open(const std::string& path, int flags, int mode, int* fd) override;
  void Close(int fd) override;
  Status PWrite(int fd, const char* data, size_t n, uint64_t off) override;
  Status PRead(int fd, char* buf, size_t n, uint64_t off, size_t* got) override {
    return base_->PRead(fd, buf, n, off, got);
  }
  Status Sync(int fd, SyncKind kind) override;
  Status Truncate(int fd, uint64_t size) override;
  Status DropCache(int fd) override { return base_->DropCache(fd); }
  Status Allocate(int fd, uint64_t size) override;
  Status FileSize(int fd, uint64_t* size) override { return base_->FileSize(fd, size); }
  Status LockExclusive(int fd, const std::string& path, bool wait) override;
  Status Stat(const std::string& path, FileInfo* info) override { return base_->Stat(path, info); }
  Status Rename(const std::string& from, const std::string& to) override;
  Status RenameNoReplace(const std::string& from, const std::string& to) override;
  Status Link(const std::string& from, const std::string& to) override;
  Status Unlink(const std::string& path) override;
  Status MkDir(const std::string& path, int mode) override;
  Status ListDir(const std::string& path, std::vector<std::string>* names) override {
    return base_->ListDir(path, names);
  }
  Status SyncDir(const std::string& path) override;
  Status RealPath(const std::string& path, std::string* out) override {
    return base_->RealPath(path, out);
  }

 private:
  // Counts a step of `kind`; returns a non-OK status if it must not happen.
  // Caller holds mu_.
  Status StepLocked(const char* kind, const char* syscall);
  // The status StepLocked returned for an injected failure (not a crash).
  bool injected_ = false;
  Status Step(const char* kind, const char* syscall) {
    std::lock_guard<std::mutex> l(mu_);
    return StepLocked(kind, syscall);
  }

  // An unsynced write: what it wrote, what was there before, the file size
  // before it.
  struct Write {
    uint64_t offset;
    std::string data;
    std::string old;  // bytes it overwrote (shorter when it extended the file)
    uint64_t size_before;
  };
  // An unsynced directory change and how to undo it.
  struct DirOp {
    std::string dir;
    enum Kind { kCreate, kRename, kLink, kUnlink } kind;
    std::string a, b;       // create/unlink/link: a (and b); rename: a -> b
    std::string preserved;  // a hidden link keeping a replaced or removed file
  };
  std::string Preserve(const std::string& path);  // caller holds mu_
  void DropDirOps(const std::string& dir);       // caller holds mu_

  std::map<int, std::string> fd_path_;
  std::map<std::string, std::vector<Write>> unsynced_;
  std::vector<DirOp> dir_ops_;
  uint64_t preserved_counter_ = 0;

  Io* const base_;
  mutable std::mutex mu_;
  FaultPlan plan_;
  bool armed_ = false;
  bool crashed_ = false;
  int64_t steps_ = 0;
  int64_t kind_steps_ = 0;
};

}  // namespace commitlog

#endif  // COMMITLOG_CORE_FAULT_IO_H_
