#include "fault_io.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <random>

namespace commitlog {

void FaultIo::Arm(const FaultPlan& plan) {
  std::lock_guard<std::mutex> l(mu_);
  plan_ = plan;
  armed_ = true;
  crashed_ = false;
  steps_ = 0;
  kind_steps_ = 0;
  unsynced_.clear();
  dir_ops_.clear();
}

void FaultIo::Disarm() {
  std::lock_guard<std::mutex> l(mu_);
  armed_ = false;
  crashed_ = false;
  plan_ = FaultPlan();
  unsynced_.clear();
  dir_ops_.clear();
}

void FaultIo::Crash() {
  std::lock_guard<std::mutex> l(mu_);
  crashed_ = true;
}

int64_t FaultIo::steps() const {
  std::lock_guard<std::mutex> l(mu_);
  return steps_;
}

bool FaultIo::crashed() const {
  std::lock_guard<std::mutex> l(mu_);
  return crashed_;
}

Status FaultIo::StepLocked(const char* kind, const char* syscall) {
  injected_ = false;
  if (!armed_) return Status::OK();
  if (crashed_) return Status::IoError(syscall, ECANCELED);
  int64_t step = steps_++;
  if (plan_.crash_at >= 0 && step >= plan_.crash_at) {
    crashed_ = true;
    return Status::IoError(syscall, ECANCELED);
  }
  if (plan_.fail_at >= 0 && (plan_.fail_kind.empty() || plan_.fail_kind == kind)) {
    if (kind_steps_++ == plan_.fail_at) {
      injected_ = true;
      return Status::IoError(syscall, plan_.fail_errno);
    }
  }
  return Status::OK();
}

// Keeps a file that is about to be replaced or removed under a hidden name,
// so that undoing the change can bring it back.
std::string FaultIo::Preserve(const std::string& path) {
  std::string hidden = JoinPath(DirName(path), ".faultio-preserved-" + std::to_string(preserved_counter_++));
  if (!base_->Link(path, hidden).ok()) return std::string();
  auto it = unsynced_.find(path);
  if (it != unsynced_.end()) {
    unsynced_[hidden] = std::move(it->second);
    unsynced_.erase(it);
  }
  return hidden;
}

void FaultIo::DropDirOps(const std::string& dir) {
  std::vector<DirOp> keep;
  for (DirOp& op : dir_ops_) {
    if (op.dir != dir) {
      keep.push_back(std::move(op));
      continue;
    }
    // Now durable: the replaced or removed file is gone for good.
    if (!op.preserved.empty()) {
      base_->Unlink(op.preserved);
      unsynced_.erase(op.preserved);
    }
  }
  dir_ops_.swap(keep);
}

Status FaultIo::Open(const std::string& path, int flags, int mode, int* fd) {
  std::lock_guard<std::mutex> l(mu_);
  if ((flags & (O_WRONLY | O_RDWR | O_CREAT)) != 0) {
    Status s = StepLocked("open", "open");
    if (!s.ok()) return s.WithPath(path);
  }
  bool track = armed_ && plan_.track_durability;
  bool existed = true;
  if (track && (flags & O_CREAT) != 0) {
    FileInfo info;
    base_->Stat(path, &info);
    existed = info.exists;
  }
  Status s = base_->Open(path, flags, mode, fd);
  if (!s.ok() || !track) return s;
  fd_path_[*fd] = path;
  if (!existed) dir_ops_.push_back(DirOp{DirName(path), DirOp::kCreate, path, "", ""});
  return s;
}

void FaultIo::Close(int fd) {
  std::lock_guard<std::mutex> l(mu_);
  fd_path_.erase(fd);
  base_->Close(fd);
}

Status FaultIo::PWrite(int fd, const char* data, size_t n, uint64_t off) {
  std::lock_guard<std::mutex> l(mu_);
  Status s = StepLocked("write", "write");
  if (!s.ok()) {
    if (injected_ && plan_.short_write && n > 1) base_->PWrite(fd, data, n / 2, off);
    return s;
  }
  auto it = fd_path_.find(fd);
  if (armed_ && plan_.track_durability && it != fd_path_.end()) {
    Write w;
    w.offset = off;
    w.data.assign(data, n);
    // Through a plain descriptor: the writer's may be O_DIRECT.
    int rfd;
    if (base_->Open(it->second, O_RDONLY, 0, &rfd).ok()) {
      base_->FileSize(rfd, &w.size_before);
      w.old.resize(n);
      size_t got = 0;
      base_->PRead(rfd, &w.old[0], n, off, &got);
      w.old.resize(got);
      base_->Close(rfd);
    }
    unsynced_[it->second].push_back(std::move(w));
  }
  return base_->PWrite(fd, data, n, off);
}

Status FaultIo::Sync(int fd, SyncKind kind) {
  std::lock_guard<std::mutex> l(mu_);
  Status s = StepLocked("sync", kind == SyncKind::kData ? "fdatasync" : "fsync");
  if (!s.ok()) return s;
  s = base_->Sync(fd, kind);
  auto it = fd_path_.find(fd);
  if (s.ok() && it != fd_path_.end()) unsynced_.erase(it->second);
  return s;
}

Status FaultIo::Truncate(int fd, uint64_t size) {
  std::lock_guard<std::mutex> l(mu_);
  Status s = StepLocked("truncate", "ftruncate");
  return s.ok() ? base_->Truncate(fd, size) : s;
}

Status FaultIo::Allocate(int fd, uint64_t size) {
  std::lock_guard<std::mutex> l(mu_);
  Status s = StepLocked("allocate", "fallocate");
  return s.ok() ? base_->Allocate(fd, size) : s;
}

Status FaultIo::LockExclusive(int fd, const std::string& path, bool wait) {
  Status s = Step("lock", "flock");  // not under mu_ while waiting
  return s.ok() ? base_->LockExclusive(fd, path, wait) : s.WithPath(path);
}

Status FaultIo::Rename(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> l(mu_);
  Status s = StepLocked("rename", "rename");
  if (!s.ok()) return s.WithPath(from);
  bool track = armed_ && plan_.track_durability;
  std::string preserved;
  if (track) {
    FileInfo info;
    base_->Stat(to, &info);
    if (info.exists) preserved = Preserve(to);
  }
  s = base_->Rename(from, to);
  if (!s.ok() || !track) return s;
  auto it = unsynced_.find(from);
  if (it != unsynced_.end()) {
    unsynced_[to] = std::move(it->second);
    unsynced_.erase(it);
  }
  dir_ops_.push_back(DirOp{DirName(to), DirOp::kRename, from, to, preserved});
  return s;
}

Status FaultIo::RenameNoReplace(const std::string& from, const std::string& to) {
  {
    std::lock_guard<std::mutex> l(mu_);
    FileInfo info;
    base_->Stat(to, &info);
    if (info.exists) return Status::IoError("renameat2", EEXIST, to);
  }
  return Rename(from, to);
}

Status FaultIo::Link(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> l(mu_);
  Status s = StepLocked("link", "link");
  if (!s.ok()) return s.WithPath(to);
  s = base_->Link(from, to);
  if (s.ok() && armed_ && plan_.track_durability) {
    dir_ops_.push_back(DirOp{DirName(to), DirOp::kLink, from, to, ""});
  }
  return s;
}

Status FaultIo::Unlink(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  Status s = StepLocked("unlink", "unlink");
  if (!s.ok()) return s.WithPath(path);
  bool track = armed_ && plan_.track_durability;
  std::string preserved;
  if (track) {
    FileInfo info;
    base_->Stat(path, &info);
    if (info.exists) preserved = Preserve(path);
  }
  s = base_->Unlink(path);
  if (s.ok() && track && !preserved.empty()) {
    dir_ops_.push_back(DirOp{DirName(path), DirOp::kUnlink, path, "", preserved});
  } else if (!preserved.empty()) {
    base_->Unlink(preserved);
  }
  return s;
}

Status FaultIo::MkDir(const std::string& path, int mode) {
  std::lock_guard<std::mutex> l(mu_);
  Status s = StepLocked("mkdir", "mkdir");
  return s.ok() ? base_->MkDir(path, mode) : s.WithPath(path);
}

Status FaultIo::SyncDir(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  Status s = StepLocked("sync", "fsync");
  if (!s.ok()) return s.WithPath(path);
  s = base_->SyncDir(path);
  if (s.ok() && armed_ && plan_.track_durability) DropDirOps(path);
  return s;
}

Status FaultIo::PowerLoss(uint64_t seed, double keep, bool tear, PowerLossStats* stats) {
  std::lock_guard<std::mutex> l(mu_);
  *stats = PowerLossStats();
  std::mt19937_64 rng(seed);
  auto chance = [&rng] { return static_cast<double>(rng() >> 11) / 9007199254740992.0; };
  auto move_key = [this](const std::string& from, const std::string& to) {
    auto it = unsynced_.find(from);
    if (it == unsynced_.end()) return;
    unsynced_[to] = std::move(it->second);
    unsynced_.erase(it);
  };
  // 1. Directory changes not covered by a directory fsync never happened.
  for (auto op = dir_ops_.rbegin(); op != dir_ops_.rend(); ++op) {
    switch (op->kind) {
      case DirOp::kCreate:
        base_->Unlink(op->a);
        unsynced_.erase(op->a);
        break;
      case DirOp::kRename:
        base_->Rename(op->b, op->a);
        move_key(op->b, op->a);
        if (!op->preserved.empty()) {
          base_->Rename(op->preserved, op->b);
          move_key(op->preserved, op->b);
        }
        break;
      case DirOp::kLink:
        base_->Unlink(op->b);
        break;
      case DirOp::kUnlink:
        base_->Rename(op->preserved, op->a);
        move_key(op->preserved, op->a);
        break;
    }
    stats->dir_ops_undone++;
  }
  dir_ops_.clear();
  // 2. Writes not covered by a sync of their file are lost, but for a random
  // subset; the last survivor of a file may be torn at a sector boundary.
  for (auto& [path, writes] : unsynced_) {
    int fd;
    if (!base_->Open(path, O_RDWR, 0, &fd).ok()) continue;  // its creation was undone
    for (auto w = writes.rbegin(); w != writes.rend(); ++w) {
      base_->PWrite(fd, w->old.data(), w->old.size(), w->offset);
      base_->Truncate(fd, w->size_before);
    }
    std::vector<const Write*> kept;
    for (const Write& w : writes) {
      if (chance() < keep) kept.push_back(&w);
    }
    for (size_t i = 0; i < kept.size(); i++) {
      size_t n = kept[i]->data.size();
      if (tear && i + 1 == kept.size() && n > 512 && chance() < 0.5) {
        n = static_cast<size_t>(rng() % (n / 512)) * 512;
        stats->writes_torn++;
      }
      base_->PWrite(fd, kept[i]->data.data(), n, kept[i]->offset);
    }
    stats->writes_kept += kept.size();
    stats->writes_lost += writes.size() - kept.size();
    base_->Close(fd);
  }
  unsynced_.clear();
  return Status::OK();
}

}  // namespace commitlog
