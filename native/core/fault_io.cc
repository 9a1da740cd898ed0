#include "fault_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>

namespace commitlog {
namespace {

// A uniform draw in [0, 1) from the top 53 bits of the generator.
double Uniform(std::mt19937_64* rng) {
  return static_cast<double>((*rng)() >> 11) / 9007199254740992.0;
}

// The inode behind fd and its size; false for anything but a regular file.
bool RegularFile(int fd, std::pair<uint64_t, uint64_t>* key, uint64_t* size) {
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return false;
  *key = {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
  *size = static_cast<uint64_t>(st.st_size);
  return true;
}

bool SameFile(const std::string& a, const std::string& b) {
  struct stat sa, sb;
  if (::lstat(a.c_str(), &sa) != 0 || ::lstat(b.c_str(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// Pointers to the values of a map in the order they were first seen, so that
// a seed draws the same pieces whatever the inode numbers are.
template <typename Map>
std::vector<typename Map::mapped_type*> InOrder(Map* map) {
  std::vector<typename Map::mapped_type*> out;
  for (auto& kv : *map) out.push_back(&kv.second);
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->order < b->order; });
  return out;
}

}  // namespace

void FaultIo::Arm(const FaultPlan& plan) {
  std::lock_guard<std::mutex> l(mu_);
  if (!plan.keep_state) ClearLocked();
  plan_ = plan;
  // A restart keeps a record, so it goes on keeping one.
  if (plan.keep_state) plan_.track_durability = true;
  armed_ = true;
  crashed_ = false;
  steps_ = 0;
  kind_steps_ = 0;
  steps_by_kind_.clear();
  drop_rng_.seed(plan.seed);
}

void FaultIo::Disarm() {
  std::lock_guard<std::mutex> l(mu_);
  ClearLocked();
  armed_ = false;
  crashed_ = false;
  plan_ = FaultPlan();
}

void FaultIo::Crash() {
  std::lock_guard<std::mutex> l(mu_);
  crashed_ = true;
}

int64_t FaultIo::steps() const {
  std::lock_guard<std::mutex> l(mu_);
  return steps_;
}

int64_t FaultIo::steps(const std::string& kind) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = steps_by_kind_.find(kind);
  return it == steps_by_kind_.end() ? 0 : it->second;
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
  steps_by_kind_[kind]++;
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

std::string FaultIo::HiddenPath(const std::string& dir, const char* what) {
  return JoinPath(dir, std::string(".faultio-") + what + "-" + std::to_string(::getpid()) + "-" +
                           std::to_string(hidden_counter_++));
}

void FaultIo::ClearLocked() {
  for (auto& kv : inodes_) base_->Unlink(kv.second.link);
  for (auto& kv : dirs_) {
    for (auto& name : kv.second.names) {
      if (!name.second.link.empty()) base_->Unlink(name.second.link);
    }
  }
  inodes_.clear();
  dirs_.clear();
}

// ---- Data ----

FaultIo::Inode* FaultIo::FindInodeLocked(int fd, Key* key, uint64_t* size) {
  if (!RegularFile(fd, key, size)) return nullptr;
  auto it = inodes_.find(*key);
  return it == inodes_.end() ? nullptr : &it->second;
}

FaultIo::Inode* FaultIo::TrackInodeLocked(int fd) {
  Key key;
  uint64_t size;
  if (!RegularFile(fd, &key, &size)) return nullptr;
  auto it = inodes_.find(key);
  if (it != inodes_.end()) return &it->second;
  std::string link = LinkInodeLocked(fd, key.first, key.second);
  if (link.empty()) return nullptr;  // no name reaches it: it can never be seen again
  // First change since tracking began or since it was last clean: what the
  // file has now is what the disk has.
  Inode& inode = inodes_[key];
  inode.order = order_++;
  inode.link = link;
  inode.durable_size = size;
  return &inode;
}

// A hidden hard link keeps a path to the inode whatever happens to its names,
// so that PowerLoss can reach its data. It goes next to the name fd was
// opened by; if that name no longer is this inode, through /proc (Linux).
std::string FaultIo::LinkInodeLocked(int fd, uint64_t dev, uint64_t ino) {
  auto it = fd_path_.find(fd);
  if (it == fd_path_.end()) return std::string();
  std::string hidden = HiddenPath(DirName(it->second), "data");
  struct stat st;
  std::string from = it->second;
  if (::stat(from.c_str(), &st) != 0 || static_cast<uint64_t>(st.st_dev) != dev ||
      static_cast<uint64_t>(st.st_ino) != ino) {
#if defined(__linux__)
    from = "/proc/self/fd/" + std::to_string(fd);
#else
    return std::string();
#endif
  }
  // AT_SYMLINK_FOLLOW: link the file, not a symbolic link to it.
  if (::linkat(AT_FDCWD, from.c_str(), AT_FDCWD, hidden.c_str(), AT_SYMLINK_FOLLOW) != 0) return std::string();
  return hidden;
}

// The sectors [begin, end) touch are about to change: remembers what the disk
// has in those not yet pending (their bytes in the file are the disk's), and
// makes them all pending and not doomed (their pages are dirty again).
void FaultIo::DirtyLocked(Inode* inode, uint64_t begin, uint64_t end) {
  assert(begin < end);
  uint64_t first = begin / kSector;
  uint64_t last = (end - 1) / kSector + 1;
  uint64_t from = first * kSector;
  uint64_t to = std::min(last * kSector, inode->durable_size);
  bool need_read = false;
  for (uint64_t i = first; i < last && i * kSector < to; i++) need_read |= inode->pending.count(i) == 0;
  std::string disk;
  int rfd;
  // Through a plain descriptor: the writer's may be O_DIRECT.
  if (need_read && base_->Open(inode->link, O_RDONLY, 0, &rfd).ok()) {
    disk.resize(to - from);
    size_t got = 0;
    base_->PRead(rfd, &disk[0], disk.size(), from, &got);
    disk.resize(got);
    base_->Close(rfd);
  }
  for (uint64_t i = first; i < last; i++) {
    auto [it, inserted] = inode->pending.try_emplace(i);
    it->second.doomed = false;
    it->second.gen = ++writes_;
    uint64_t at = i * kSector - from;
    if (inserted && at < disk.size()) it->second.old = disk.substr(at, std::min<uint64_t>(kSector, disk.size() - at));
  }
}

void FaultIo::BeforeWriteLocked(int fd, uint64_t off, size_t n) {
  if (n == 0) return;
  Inode* inode = TrackInodeLocked(fd);
  if (inode == nullptr) return;
  DirtyLocked(inode, off, off + n);
  inode->writes.emplace_back(off / kSector, (off + n - 1) / kSector + 1);
}

// O_DSYNC: the write returned only once its sectors, and the size needed to
// read them back, were on the disk.
void FaultIo::AfterWriteLocked(int fd, uint64_t off, size_t n) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || (flags & O_DSYNC) == 0 || n == 0) return;
  Key key;
  uint64_t size;
  Inode* inode = FindInodeLocked(fd, &key, &size);
  if (inode == nullptr) return;
  auto begin = inode->pending.lower_bound(off / kSector);
  auto end = inode->pending.lower_bound((off + n - 1) / kSector + 1);
  inode->pending.erase(begin, end);
  inode->durable_size = std::max<uint64_t>(inode->durable_size, off + n);
  PruneWrites(inode);
  ForgetIfCleanLocked(key, size);
}

// A shrink changes the cut sectors (to zeros, as the model sees them); a
// growth changes only the size, which the inode's record keeps.
void FaultIo::BeforeTruncateLocked(int fd, uint64_t size) {
  Inode* inode = TrackInodeLocked(fd);
  Key key;
  uint64_t current;
  if (inode == nullptr || !RegularFile(fd, &key, &current)) return;
  if (size < current) DirtyLocked(inode, size, current);
}

void FaultIo::SyncedLocked(int fd, bool ok) {
  Key key;
  uint64_t size;
  Inode* inode = FindInodeLocked(fd, &key, &size);
  if (inode == nullptr) return;
  if (!ok) {
    // A writeback error: the pages are marked clean though they never
    // reached the disk, and no later sync writes them again.
    for (auto& kv : inode->pending) kv.second.doomed = true;
    return;
  }
  for (auto it = inode->pending.begin(); it != inode->pending.end();) {
    it = it->second.doomed ? std::next(it) : inode->pending.erase(it);
  }
  inode->durable_size = size;
  PruneWrites(inode);
  ForgetIfCleanLocked(key, size);
}

void FaultIo::SyncedSnapshotLocked(int fd, const Key& key, const std::map<uint64_t, uint64_t>& snapshot,
                                   uint64_t size) {
  // By the inode it began on: the descriptor could name another file by now.
  auto found = inodes_.find(key);
  if (found == inodes_.end()) return;
  Inode* inode = &found->second;
  Key now_key;
  uint64_t now = size;
  if (!RegularFile(fd, &now_key, &now) || !(now_key == key)) now = size;
  for (const auto& [index, gen] : snapshot) {
    auto it = inode->pending.find(index);
    // Changed again since the sync began: what the disk got is unknown to
    // the model, which keeps the older bytes (losing more, never less).
    if (it != inode->pending.end() && it->second.gen == gen && !it->second.doomed) inode->pending.erase(it);
  }
  inode->durable_size = std::min(size, now);  // as SyncedLocked: the size it began with
  PruneWrites(inode);
  ForgetIfCleanLocked(key, now);
}

void FaultIo::PruneWrites(Inode* inode) {
  auto& w = inode->writes;
  w.erase(std::remove_if(w.begin(), w.end(),
                         [inode](const std::pair<uint64_t, uint64_t>& r) {
                           auto it = inode->pending.lower_bound(r.first);
                           return it == inode->pending.end() || it->first >= r.second;
                         }),
          w.end());
}

void FaultIo::ForgetIfCleanLocked(const Key& key, uint64_t size) {
  auto it = inodes_.find(key);
  if (it == inodes_.end() || !it->second.pending.empty() || it->second.durable_size != size) return;
  base_->Unlink(it->second.link);
  inodes_.erase(it);
}

// Puts what the disk has back into sector `index` of fd; past what the disk
// had (its durable size), zeros up to `size`.
void FaultIo::RevertSector(int fd, uint64_t index, const std::string& old, uint64_t size) {
  uint64_t at = index * kSector;
  uint64_t end = std::min(at + kSector, size);
  if (end <= at) return;
  std::string bytes = old;
  if (bytes.size() < end - at) bytes.resize(end - at, '\0');
  base_->PWrite(fd, bytes.data(), bytes.size(), at);
}

Status FaultIo::Open(const std::string& path, int flags, int mode, int* fd) {
  std::lock_guard<std::mutex> l(mu_);
  bool writable = (flags & (O_WRONLY | O_RDWR)) != 0;
  if (writable || (flags & O_CREAT) != 0) {
    Status s = StepLocked("open", "open");
    if (!s.ok()) return s.WithPath(path);
  }
  bool track = tracking();
  struct stat st;
  if (track && (flags & O_CREAT) != 0 && ::lstat(path.c_str(), &st) != 0) CaptureNameLocked(path);
  // O_TRUNC cuts bytes the disk may have: open without it, note the cut, cut.
  bool truncate = track && writable && (flags & O_TRUNC) != 0;
  Status s = base_->Open(path, truncate ? flags & ~O_TRUNC : flags, mode, fd);
  if (!s.ok()) return s;
  fd_path_[*fd] = path;
  Key key;
  uint64_t size = 0;
  if (truncate && RegularFile(*fd, &key, &size) && size > 0) {
    BeforeTruncateLocked(*fd, 0);
    s = base_->Truncate(*fd, 0);
    if (!s.ok()) {
      base_->Close(*fd);
      fd_path_.erase(*fd);
      return s.WithPath(path);
    }
  }
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
  size_t done = n;
  if (!s.ok()) {
    if (!injected_ || !plan_.short_write || n < 2) return s;
    done = n / 2;
  }
  if (tracking()) BeforeWriteLocked(fd, off, done);
  Status w = base_->PWrite(fd, data, done, off);
  if (w.ok() && tracking()) AfterWriteLocked(fd, off, done);
  return s.ok() ? w : s;
}

Status FaultIo::Sync(int fd, SyncKind kind) {
  std::unique_lock<std::mutex> l(mu_);
  const char* syscall = kind == SyncKind::kData ? "fdatasync" : "fsync";
  Status s = StepLocked("sync", syscall);
  if (!s.ok()) {
    // An injected failure is a writeback error; a crash has no effect.
    if (injected_ && tracking()) SyncedLocked(fd, false);
    return s;
  }
  // The real call runs unlocked, as fdatasync does: other threads write
  // meanwhile (the committer writes batch N+1 while N syncs). It makes
  // durable what was pending when it began, and only if the process is
  // alive when it returns: a crash meanwhile (a later step failing, or
  // Crash()) leaves everything pending, the state of a machine that lost
  // power in the middle of the sync.
  std::map<uint64_t, uint64_t> snapshot;
  uint64_t size = 0;
  Key key;
  // Nothing of the file pending when it began: nothing for it to make durable.
  bool track = false;
  if (tracking()) {
    Inode* inode = FindInodeLocked(fd, &key, &size);
    if (inode != nullptr) {
      track = true;
      for (const auto& [index, sector] : inode->pending) snapshot.emplace(index, sector.gen);
    }
  }
  l.unlock();
  s = base_->Sync(fd, kind);
  l.lock();
  if (armed_ && crashed_) return Status::IoError(syscall, ECANCELED);
  if (!track || !tracking()) return s;
  if (!s.ok()) {
    SyncedLocked(fd, false);
  } else {
    SyncedSnapshotLocked(fd, key, snapshot, size);
  }
  return s;
}

Status FaultIo::Truncate(int fd, uint64_t size) {
  std::lock_guard<std::mutex> l(mu_);
  Status s = StepLocked("truncate", "ftruncate");
  if (!s.ok()) return s;
  if (tracking()) BeforeTruncateLocked(fd, size);
  s = base_->Truncate(fd, size);
  Key key;
  uint64_t now;
  if (tracking() && RegularFile(fd, &key, &now)) ForgetIfCleanLocked(key, now);
  return s;
}

Status FaultIo::Allocate(int fd, uint64_t size) {
  std::lock_guard<std::mutex> l(mu_);
  Status s = StepLocked("allocate", "fallocate");
  if (!s.ok()) return s;
  if (tracking()) TrackInodeLocked(fd);  // keeps the size it had as durable
  s = base_->Allocate(fd, size);
  Key key;
  uint64_t now;
  if (tracking() && RegularFile(fd, &key, &now)) ForgetIfCleanLocked(key, now);
  return s;
}

// Not a step: it changes nothing a power loss could undo. Doomed pages leave
// the cache: each either reached the disk after all, or the next read shows
// what the disk has.
Status FaultIo::DropCache(int fd) {
  std::lock_guard<std::mutex> l(mu_);
  Key key;
  uint64_t size;
  Inode* inode = tracking() ? FindInodeLocked(fd, &key, &size) : nullptr;
  int wfd = -1;
  if (inode != nullptr && base_->Open(inode->link, O_WRONLY, 0, &wfd).ok()) {
    for (auto it = inode->pending.begin(); it != inode->pending.end();) {
      if (!it->second.doomed) {
        ++it;
        continue;
      }
      if (Uniform(&drop_rng_) >= plan_.keep) RevertSector(wfd, it->first, it->second.old, size);
      it = inode->pending.erase(it);
    }
    base_->Close(wfd);
    PruneWrites(inode);
    ForgetIfCleanLocked(key, size);
  }
  return base_->DropCache(fd);
}

Status FaultIo::LockExclusive(int fd, const std::string& path, bool wait) {
  Status s = Step("lock", "flock");  // not under mu_ while waiting
  return s.ok() ? base_->LockExclusive(fd, path, wait) : s.WithPath(path);
}

// ---- Names ----

// Records the durable entry of path before its first change since the last
// SyncDir of its directory: absence, or the file, kept by a hidden link.
void FaultIo::CaptureNameLocked(const std::string& path) {
  if (!tracking()) return;
  std::string dir = DirName(path);
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return;  // the change will fail
  Dir& d = dirs_[Key{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)}];
  if (d.path.empty()) {
    d.order = order_++;
    d.path = dir;
  }
  std::string name = BaseName(path);
  if (d.names.count(name) != 0) return;  // changed before: its durable entry is known
  Entry e;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return;
    e.kind = Entry::kAbsent;
  } else if (S_ISDIR(st.st_mode)) {
    e.kind = Entry::kDir;
  } else {
    e.kind = Entry::kFile;
    e.link = HiddenPath(dir, "name");
    if (!base_->Link(path, e.link).ok()) return;
  }
  d.names.emplace(name, std::move(e));
}

// Renaming a directory is not modelled (see the limits in the header).
void FaultIo::CaptureRenameLocked(const std::string& from, const std::string& to) {
  struct stat st;
  if (!tracking() || (::lstat(from.c_str(), &st) == 0 && S_ISDIR(st.st_mode))) return;
  CaptureNameLocked(from);
  CaptureNameLocked(to);
}

Status FaultIo::Rename(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> l(mu_);
  Status s = StepLocked("rename", "rename");
  if (!s.ok()) return s.WithPath(from);
  CaptureRenameLocked(from, to);
  return base_->Rename(from, to);
}

Status FaultIo::RenameNoReplace(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> l(mu_);
  Status s = StepLocked("rename", "renameat2");
  if (!s.ok()) return s.WithPath(to);
  CaptureRenameLocked(from, to);
  return base_->RenameNoReplace(from, to);
}

Status FaultIo::Link(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> l(mu_);
  Status s = StepLocked("link", "link");
  if (!s.ok()) return s.WithPath(to);
  CaptureNameLocked(to);
  return base_->Link(from, to);
}

Status FaultIo::Unlink(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  Status s = StepLocked("unlink", "unlink");
  if (!s.ok()) return s.WithPath(path);
  CaptureNameLocked(path);
  return base_->Unlink(path);
}

Status FaultIo::MkDir(const std::string& path, int mode) {
  std::lock_guard<std::mutex> l(mu_);
  Status s = StepLocked("mkdir", "mkdir");
  if (!s.ok()) return s.WithPath(path);
  CaptureNameLocked(path);
  return base_->MkDir(path, mode);
}

Status FaultIo::SyncDir(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  Status s = StepLocked("sync", "fsync");
  // A failed SyncDir leaves the changes pending (a limit of the model).
  if (!s.ok()) return s.WithPath(path);
  s = base_->SyncDir(path);
  struct stat st;
  if (!s.ok() || !tracking() || ::stat(path.c_str(), &st) != 0) return s;
  auto it = dirs_.find(Key{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)});
  if (it == dirs_.end()) return s;
  // The entries are durable: the replaced and removed files are gone for good.
  for (auto& name : it->second.names) {
    if (!name.second.link.empty()) base_->Unlink(name.second.link);
  }
  dirs_.erase(it);
  return s;
}

void FaultIo::RemoveTree(const std::string& path) {
  std::vector<std::string> names;
  if (base_->ListDir(path, &names).ok()) {
    for (const std::string& name : names) {
      std::string child = JoinPath(path, name);
      struct stat st;
      if (::lstat(child.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
        RemoveTree(child);
      } else {
        base_->Unlink(child);
      }
    }
  }
  ::rmdir(path.c_str());
}

// ---- Power loss ----

void FaultIo::PowerLossDataLocked(Inode* inode, double keep, bool whole_writes, const Chance& chance,
                                  PowerLossStats* stats) {
  int fd;
  if (!base_->Open(inode->link, O_RDWR, 0, &fd).ok()) return;
  uint64_t current = 0;
  base_->FileSize(fd, &current);
  std::map<uint64_t, bool> by_write;  // whole_writes: each covered sector's fate
  if (whole_writes) {
    for (const auto& [first, end] : inode->writes) {
      bool k = chance() < keep;
      for (auto it = inode->pending.lower_bound(first); it != inode->pending.end() && it->first < end; ++it) {
        by_write[it->first] = k;
      }
    }
  }
  std::map<uint64_t, bool> kept;
  uint64_t size = inode->durable_size;
  for (const auto& [index, sector] : inode->pending) {
    auto w = by_write.find(index);
    bool k = w != by_write.end() ? w->second : chance() < keep;
    kept[index] = k;
    (k ? stats->sectors_kept : stats->sectors_lost)++;
    if (sector.doomed) stats->doomed_sectors++;
    // A surviving sector past the durable size carries the size with it (up
    // to where the file ends).
    uint64_t end = std::min((index + 1) * kSector, current);
    if (k && end > index * kSector) size = std::max(size, end);
  }
  base_->Truncate(fd, size);
  for (const auto& [index, sector] : inode->pending) {
    if (!kept[index]) RevertSector(fd, index, sector.old, size);
  }
  base_->Close(fd);
  for (const auto& [first, end] : inode->writes) {
    uint64_t n = 0, k = 0;
    for (auto it = kept.lower_bound(first); it != kept.end() && it->first < end; ++it) {
      n++;
      k += it->second ? 1 : 0;
    }
    if (n == 0) continue;
    if (k == n) {
      stats->writes_kept++;
    } else if (k == 0) {
      stats->writes_lost++;
    } else {
      stats->writes_torn++;
    }
  }
}

void FaultIo::PowerLossNamesLocked(Dir* dir, double keep, const Chance& chance, PowerLossStats* stats) {
  struct stat st;
  if (::stat(dir->path.c_str(), &st) != 0) return;  // in a tree removed just now
  for (const auto& [name, entry] : dir->names) {
    std::string path = JoinPath(dir->path, name);
    bool exists = ::lstat(path.c_str(), &st) == 0;
    if (entry.kind == Entry::kDir) continue;  // not modelled
    bool unchanged = entry.kind == Entry::kAbsent ? !exists : SameFile(path, entry.link);
    if (unchanged) continue;
    if (chance() < keep) {
      stats->names_kept++;
      continue;
    }
    stats->dir_ops_undone++;
    if (exists && S_ISDIR(st.st_mode)) {
      RemoveTree(path);  // made since the last SyncDir: so is all it holds
    } else if (exists) {
      base_->Unlink(path);
    }
    if (entry.kind == Entry::kFile) base_->Link(entry.link, path);
  }
}

Status FaultIo::PowerLoss(const PowerLossOptions& options, PowerLossStats* stats) {
  std::lock_guard<std::mutex> l(mu_);
  *stats = PowerLossStats();
  // Two generators: the names' draws do not shift when the data changes.
  std::mt19937_64 data_rng(options.seed);
  std::mt19937_64 name_rng(options.seed ^ 0x9e3779b97f4a7c15ULL);
  double dir_keep = options.dir_keep < 0 ? options.keep : options.dir_keep;
  // Data first, through the hidden links: a name reverted first could leave
  // an inode with no other way in.
  for (Inode* inode : InOrder(&inodes_)) {
    PowerLossDataLocked(inode, options.keep, options.whole_writes, [&] { return Uniform(&data_rng); }, stats);
  }
  for (Dir* dir : InOrder(&dirs_)) {
    PowerLossNamesLocked(dir, dir_keep, [&] { return Uniform(&name_rng); }, stats);
  }
  ClearLocked();
  return Status::OK();
}

}  // namespace commitlog
