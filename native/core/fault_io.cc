#include "fault_io.h"

#include <fcntl.h>

#include <cerrno>

namespace commitlog {

void FaultIo::Arm(const FaultPlan& plan) {
  std::lock_guard<std::mutex> l(mu_);
  plan_ = plan;
  armed_ = true;
  crashed_ = false;
  steps_ = 0;
  kind_steps_ = 0;
}

void FaultIo::Disarm() {
  std::lock_guard<std::mutex> l(mu_);
  armed_ = false;
  crashed_ = false;
}

int64_t FaultIo::steps() const {
  std::lock_guard<std::mutex> l(mu_);
  return steps_;
}

bool FaultIo::crashed() const {
  std::lock_guard<std::mutex> l(mu_);
  return crashed_;
}

Status FaultIo::Step(const char* kind, const char* syscall) {
  std::lock_guard<std::mutex> l(mu_);
  if (!armed_) return Status::OK();
  if (crashed_) return Status::IoError(syscall, ECANCELED);
  int64_t step = steps_++;
  if (plan_.crash_at >= 0 && step >= plan_.crash_at) {
    crashed_ = true;
    return Status::IoError(syscall, ECANCELED);
  }
  if (plan_.fail_at >= 0 && (plan_.fail_kind.empty() || plan_.fail_kind == kind)) {
    if (kind_steps_++ == plan_.fail_at) return Status::IoError(syscall, plan_.fail_errno);
  }
  return Status::OK();
}

Status FaultIo::Open(const std::string& path, int flags, int mode, int* fd) {
  if ((flags & (O_WRONLY | O_RDWR | O_CREAT)) != 0) {
    Status s = Step("open", "open");
    if (!s.ok()) return s.WithPath(path);
  }
  return base_->Open(path, flags, mode, fd);
}

Status FaultIo::PWrite(int fd, const char* data, size_t n, uint64_t off) {
  Status s = Step("write", "write");
  return s.ok() ? base_->PWrite(fd, data, n, off) : s;
}

Status FaultIo::Sync(int fd, SyncKind kind) {
  Status s = Step("sync", kind == SyncKind::kData ? "fdatasync" : "fsync");
  return s.ok() ? base_->Sync(fd, kind) : s;
}

Status FaultIo::Truncate(int fd, uint64_t size) {
  Status s = Step("truncate", "ftruncate");
  return s.ok() ? base_->Truncate(fd, size) : s;
}

Status FaultIo::Allocate(int fd, uint64_t size) {
  Status s = Step("allocate", "fallocate");
  return s.ok() ? base_->Allocate(fd, size) : s;
}

Status FaultIo::LockExclusive(int fd, const std::string& path, bool wait) {
  Status s = Step("lock", "flock");
  return s.ok() ? base_->LockExclusive(fd, path, wait) : s.WithPath(path);
}

Status FaultIo::Rename(const std::string& from, const std::string& to) {
  Status s = Step("rename", "rename");
  return s.ok() ? base_->Rename(from, to) : s.WithPath(from);
}

Status FaultIo::Link(const std::string& from, const std::string& to) {
  Status s = Step("link", "link");
  return s.ok() ? base_->Link(from, to) : s.WithPath(to);
}

Status FaultIo::Unlink(const std::string& path) {
  Status s = Step("unlink", "unlink");
  return s.ok() ? base_->Unlink(path) : s.WithPath(path);
}

Status FaultIo::MkDir(const std::string& path, int mode) {
  Status s = Step("mkdir", "mkdir");
  return s.ok() ? base_->MkDir(path, mode) : s.WithPath(path);
}

Status FaultIo::SyncDir(const std::string& path) {
  Status s = Step("sync", "fsync");
  return s.ok() ? base_->SyncDir(path) : s.WithPath(path);
}

}  // namespace commitlog
