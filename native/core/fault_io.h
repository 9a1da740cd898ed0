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
#ifndef COMMITLOG_CORE_FAULT_IO_H_
#define COMMITLOG_CORE_FAULT_IO_H_

#include <cstdint>
#include <mutex>
#include <string>

#include "io.h"

namespace commitlog {

struct FaultPlan {
  int64_t crash_at = -1;   // step index, or -1
  int64_t fail_at = -1;    // index among steps of fail_kind (any kind if empty)
  int fail_errno = 0;
  std::string fail_kind;
};

class FaultIo final : public Io {
 public:
  explicit FaultIo(Io* base) : base_(base) {}

  void Arm(const FaultPlan& plan);
  void Disarm();
  int64_t steps() const;
  bool crashed() const;

  Status Open(const std::string& path, int flags, int mode, int* fd) override;
  void Close(int fd) override { base_->Close(fd); }
  Status PWrite(int fd, const char* data, size_t n, uint64_t off) override;
  Status PRead(int fd, char* buf, size_t n, uint64_t off, size_t* got) override {
    return base_->PRead(fd, buf, n, off, got);
  }
  Status Sync(int fd, SyncKind kind) override;
  Status Truncate(int fd, uint64_t size) override;
  Status Allocate(int fd, uint64_t size) override;
  Status FileSize(int fd, uint64_t* size) override { return base_->FileSize(fd, size); }
  Status LockExclusive(int fd, const std::string& path, bool wait) override;
  Status Stat(const std::string& path, FileInfo* info) override { return base_->Stat(path, info); }
  Status Rename(const std::string& from, const std::string& to) override;
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
  Status Step(const char* kind, const char* syscall);

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
