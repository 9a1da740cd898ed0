// FaultIo: an Io that forwards to another and injects faults at the
// system-call boundary, for tests only (compiled into the test addon, never
// into the production one). It is also a crash model: it remembers what a
// machine that lost power now would not have, and PowerLoss() makes the
// files look like that.
//
// Steps. Every call except pure reads and DropCache (PRead, Stat, ListDir,
// RealPath, FileSize, FindHole, Close, DropCache, and Open without O_WRONLY,
// O_RDWR or O_CREAT) is a numbered "step". A plan can:
//  - crash at step N: that step and everything after it fails with
//    ECANCELED and has no effect, as if the process had died right before
//    it (cleanup code cannot run either). Crash() does the same at once.
//  - fail step N with an errno (EIO, ENOSPC, ...), once, without effect,
//    optionally counting only steps of one kind ("write", "sync" (Sync and
//    SyncDir), "rename" (Rename and RenameNoReplace), "open", "link",
//    "unlink", "mkdir", "truncate", "allocate", "lock"). With short_write, a
//    failing write first writes the first half of its bytes.
//
// Durability model (with track_durability). Reads always see the real files,
// that is, the page cache; the model keeps, beside them, what the disk has.
//  - Data, per inode (st_dev, st_ino: names move, and every descriptor of the
//    inode counts) and per 512-byte sector. A sector that a write or a
//    shrinking Truncate changes becomes pending; the model keeps the bytes
//    the disk had in it (nothing past the durable size). Each inode has a
//    durable size. A successful Sync of any kind, through any descriptor of
//    the inode, makes every pending sector that is not doomed durable and
//    sets the durable size to the current size. A write through an O_DSYNC
//    (or O_SYNC) descriptor makes its own sectors durable, and the durable
//    size at least its end, when it returns. Files that tracking never saw
//    change are durable.
//  - A failed Sync (injected, or a real error) dooms every pending sector of
//    the inode: the bytes stay readable (Linux keeps the pages, marked clean,
//    after a writeback error), but no later Sync makes them durable (Linux
//    reports the error once, then forgets it). A write into a doomed sector
//    makes it an ordinary pending one again (the page is dirty again).
//    DropCache resolves the inode's doomed sectors: each independently either
//    reached the disk (with probability plan.keep, drawn from a generator
//    seeded with plan.seed) or reverts to the disk's bytes, which later reads
//    then show; either way it is durable from then on.
//  - Names, per directory (by inode) and per name. Before the first change
//    of a name (create, rename from or to, RenameNoReplace, link, unlink,
//    mkdir) since the last successful SyncDir of its directory, the model
//    records the name's durable entry: absence, or its file, kept alive by a
//    hidden hard link ".faultio-..." in the same directory. A successful
//    SyncDir makes the directory's entries durable and drops those records.
//  - PowerLoss(): first data, then names, each piece independently. Every
//    pending sector (doomed ones too) survives with probability keep or
//    reverts to the disk's bytes; a file's size becomes its durable size, or
//    the end of the last surviving sector past it. Then every name whose
//    entry changed since its directory's last SyncDir keeps its current
//    entry with probability dir_keep or reverts to its durable entry; a
//    reverted name that now is a directory (made since) loses the whole tree.
//    So after rename(tmp, target) all four combinations can happen: both
//    kept, both reverted, the new file orphaned, or under both names. The
//    record is then cleared: everything on the files is durable.
//  - Arm() starts a new record, unless plan.keep_state: then it is a process
//    restart without a power loss (new plan, counters reset, not crashed),
//    and what was not durable stays subject to a later PowerLoss(). Disarm()
//    forgets the record: everything becomes durable.
//
// Limits of the model:
//  - A failed SyncDir has no lasting effect: its directory's changes stay
//    pending, and a later successful SyncDir makes them durable (no doomed
//    directory entries).
//  - Sync and SyncDir are all-or-nothing; fsync and fdatasync are the same;
//    metadata other than the size (mode, times) is not modelled.
//  - A shrinking Truncate not covered by a Sync is modelled as zeroing the
//    cut sectors: after a power loss the size never drops below the durable
//    size. Allocate only changes the size.
//  - Every piece is independent of the others, with no order between files,
//    sectors or names. Real file systems order some of them (ext4 with
//    data=ordered writes data before the size that exposes it); the model
//    allows those states too, so it errs on the side of losing more.
//  - Renaming a directory is not modelled (passed through, as if durable),
//    and a name whose durable entry is a directory is never reverted. The
//    log and ConfigFile never rename or remove directories.
//  - Data written to an inode that has no name left at its first tracked
//    write (unlinked for good) is not tracked: it can never be seen again.
//  - The unit is a 512-byte sector everywhere, where Linux dooms and syncs
//    whole pages (4 KiB): the model tears finer than the page cache does.
//  - When the model cannot keep its own record (a hidden link fails, say),
//    the change is treated as durable.
//  - The tear option of PowerLoss is accepted and ignored: sectors tear
//    every write that spans more than one.
//  - Hidden ".faultio-" names sit in the directories while tracking; they
//    are removed by SyncDir (for names), by a Sync that leaves an inode
//    clean (for its data link), and by PowerLoss(), Arm() and Disarm().
#ifndef COMMITLOG_CORE_FAULT_IO_H_
#define COMMITLOG_CORE_FAULT_IO_H_

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <utility>
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
  // Arm() keeps the record of what is not durable (implies track_durability).
  bool keep_state = false;
  // DropCache: probability that a doomed sector reached the disk, and the
  // seed of the generator that decides.
  double keep = 0.5;
  uint64_t seed = 1;
};

struct PowerLossOptions {
  uint64_t seed = 1;
  double keep = 0;       // probability that a pending sector survives
  double dir_keep = -1;  // probability that a changed name survives; < 0: keep
  bool tear = false;     // accepted, ignored (see the limits above)
  // Each pending write survives or is lost as a whole (probability keep),
  // independently of the others and of their order, as a drive that acked
  // writes into its volatile cache may lose any of them: a later write on
  // disk after an earlier one lost, which per-sector chances make all but
  // impossible for writes of many sectors. Sectors no write covers (a
  // shrinking Truncate) still draw one by one. A sector that several
  // writes changed follows the last of them.
  bool whole_writes = false;
};

struct PowerLossStats {
  // Pending writes (those with a sector still pending) by what survived of
  // their pending sectors: all, none, or some.
  uint64_t writes_kept = 0;
  uint64_t writes_lost = 0;
  uint64_t writes_torn = 0;
  uint64_t sectors_kept = 0;  // pending sectors, doomed ones included
  uint64_t sectors_lost = 0;
  uint64_t doomed_sectors = 0;  // of those, how many were doomed
  uint64_t dir_ops_undone = 0;  // changed names reverted to their durable entry
  uint64_t names_kept = 0;      // changed names that kept their current entry
};

class FaultIo final : public Io {
 public:
  explicit FaultIo(Io* base) : base_(base) {}
  FaultIo(const FaultIo&) = delete;
  FaultIo& operator=(const FaultIo&) = delete;

  void Arm(const FaultPlan& plan);
  void Disarm();
  // From now on every step fails with ECANCELED, as if the process died.
  void Crash();
  // With track_durability: makes the files what the disk has, as described
  // above, then clears the record. Call after Crash(), with the files closed.
  Status PowerLoss(const PowerLossOptions& options, PowerLossStats* stats);
  int64_t steps() const;
  // Steps of one kind ("sync", "rename", ...) since Arm.
  int64_t steps(const std::string& kind) const;
  bool crashed() const;

  Status Open(const std::string& path, int flags, int mode, int* fd) override;
  void Close(int fd) override;
  Status PWrite(int fd, const char* data, size_t n, uint64_t off) override;
  Status PRead(int fd, char* buf, size_t n, uint64_t off, size_t* got) override {
    return base_->PRead(fd, buf, n, off, got);
  }
  Status Sync(int fd, SyncKind kind) override;
  Status Truncate(int fd, uint64_t size) override;
  Status DropCache(int fd) override;
  Status Allocate(int fd, uint64_t size) override;
  Status FileSize(int fd, uint64_t* size) override { return base_->FileSize(fd, size); }
  Status FindHole(int fd, uint64_t from, uint64_t* start, uint64_t* end) override {
    return base_->FindHole(fd, from, start, end);
  }
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
  static constexpr uint64_t kSector = 512;
  using Key = std::pair<uint64_t, uint64_t>;  // st_dev, st_ino

  // A sector changed since its inode's last successful Sync.
  struct Sector {
    std::string old;  // what the disk has; shorter where the durable size ends
    bool doomed = false;
    uint64_t gen = 0;  // the write that last changed it (FaultIo::writes_)
  };
  struct Inode {
    uint64_t order = 0;   // draws follow first-seen order, for replayable seeds
    std::string link;     // hidden hard link that reaches the inode
    uint64_t durable_size = 0;
    std::map<uint64_t, Sector> pending;  // by sector index
    std::vector<std::pair<uint64_t, uint64_t>> writes;  // sector ranges [first, end)
  };
  // A name's durable entry.
  struct Entry {
    enum Kind { kAbsent, kFile, kDir } kind = kAbsent;
    std::string link;  // kFile: hidden hard link to the durable file
  };
  struct Dir {
    uint64_t order = 0;
    std::string path;
    std::map<std::string, Entry> names;  // names changed since the last SyncDir
  };
  using Chance = std::function<double()>;

  // Counts a step of `kind`; returns a non-OK status if it must not happen,
  // with injected_ set for an injected failure (not a crash). Holds mu_.
  Status StepLocked(const char* kind, const char* syscall);
  Status Step(const char* kind, const char* syscall) {
    std::lock_guard<std::mutex> l(mu_);
    return StepLocked(kind, syscall);
  }
  bool tracking() const { return armed_ && plan_.track_durability; }

  // Data. The Locked ones hold mu_.
  Inode* TrackInodeLocked(int fd);  // nullptr if it cannot be tracked
  Inode* FindInodeLocked(int fd, Key* key, uint64_t* size);
  std::string LinkInodeLocked(int fd, uint64_t dev, uint64_t ino);
  void DirtyLocked(Inode* inode, uint64_t begin, uint64_t end);
  void BeforeWriteLocked(int fd, uint64_t off, size_t n);
  void AfterWriteLocked(int fd, uint64_t off, size_t n);
  void BeforeTruncateLocked(int fd, uint64_t size);
  void SyncedLocked(int fd, bool ok);
  // A Sync that ran while other threads wrote: makes durable only the
  // sectors of `snapshot` (index -> gen when it started) not changed since,
  // and at most the size it started with.
  void SyncedSnapshotLocked(int fd, const Key& key, const std::map<uint64_t, uint64_t>& snapshot,
                            uint64_t size);
  static void PruneWrites(Inode* inode);
  void ForgetIfCleanLocked(const Key& key, uint64_t size);
  void RevertSector(int fd, uint64_t index, const std::string& old, uint64_t size);
  void PowerLossDataLocked(Inode* inode, double keep, bool whole_writes, const Chance& chance,
                           PowerLossStats* stats);

  // Names.
  void CaptureNameLocked(const std::string& path);
  void CaptureRenameLocked(const std::string& from, const std::string& to);
  void PowerLossNamesLocked(Dir* dir, double keep, const Chance& chance, PowerLossStats* stats);
  void RemoveTree(const std::string& path);
  std::string HiddenPath(const std::string& dir, const char* what);
  // Forgets the record, removing the hidden links.
  void ClearLocked();

  Io* const base_;
  mutable std::mutex mu_;
  FaultPlan plan_;
  bool armed_ = false;
  bool crashed_ = false;
  uint64_t writes_ = 0;  // numbers the changes of sectors, for Sync's snapshot
  bool injected_ = false;
  int64_t steps_ = 0;
  int64_t kind_steps_ = 0;
  std::map<std::string, int64_t> steps_by_kind_;
  std::mt19937_64 drop_rng_;  // DropCache's draws, seeded by plan_.seed

  std::map<int, std::string> fd_path_;  // path each descriptor was opened by
  std::map<Key, Inode> inodes_;
  std::map<Key, Dir> dirs_;
  uint64_t order_ = 0;
  uint64_t hidden_counter_ = 0;
};

}  // namespace commitlog

#endif  // COMMITLOG_CORE_FAULT_IO_H_
