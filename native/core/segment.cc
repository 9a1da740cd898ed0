#include "segment.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstdio>

#include "log_format.h"

namespace commitlog {

std::string SegmentName(uint64_t base_seq) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%0*llu%s", static_cast<int>(format::kSegmentNameDigits),
                static_cast<unsigned long long>(base_seq), format::kSegmentSuffix);
  return buf;
}

bool ParseSegmentName(const std::string& name, uint64_t* base_seq) {
  using format::kSegmentNameDigits;
  if (name.size() != kSegmentNameDigits + format::kSegmentSuffixLen ||
      name.compare(kSegmentNameDigits, format::kSegmentSuffixLen, format::kSegmentSuffix) != 0) {
    return false;
  }
  uint64_t v = 0;
  for (size_t i = 0; i < kSegmentNameDigits; i++) {
    char c = name[i];
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *base_seq = v;
  return true;
}

int SegmentOpenFlags(SyncMode mode) {
  int flags = O_RDWR;
#if defined(O_DIRECT)
  // O_DSYNC makes each write return only once its data is durable, so the
  // direct mode needs no separate fdatasync call.
  if (mode == SyncMode::kDirect) flags |= O_DIRECT | O_DSYNC;
#else
  // macOS: no O_DIRECT, and O_DSYNC there does not flush the drive's cache,
  // so ActiveSegment::Append adds F_FULLFSYNC in this mode.
  if (mode == SyncMode::kDirect) flags |= O_DSYNC;
#endif
  return flags;
}

Status CreateSegmentFile(Io* io, const std::string& path, const LogOptions& options) {
  int fd;
  Status s = io->Open(path, O_RDWR | O_CREAT | O_EXCL, static_cast<int>(options.file_mode), &fd);
  if (!s.ok()) return s;
  if (options.preallocate == Preallocate::kFallocate) {
    s = io->Allocate(fd, options.segment_bytes);
  } else if (options.preallocate == Preallocate::kZero || options.preallocate == Preallocate::kAuto) {
    // Real zeros, not a hole or an unwritten extent: appends into written
    // blocks are plain overwrites, and fdatasync then has no metadata to flush.
    s = WriteZeros(io, fd, 0, options.segment_bytes);
  }
  // Not needed for correctness: every batch's own sync covers its sectors
  // (fdatasync the rest of the file too), and stale bytes a power loss might
  // leave elsewhere cannot be taken for records (version 2 batches name their
  // file offset and log). It keeps the flusher's syncs to its own batches:
  // without it the first batch's fdatasync would write the whole fill. An
  // empty file (preallocate 'none', the flusher's own roll) has nothing to
  // sync: no syscall on the flusher's time.
  if (s.ok() && options.preallocate != Preallocate::kNone) s = io->Sync(fd, SyncKind::kData);
  io->Close(fd);
  if (!s.ok()) io->Unlink(path);
  return s.WithPath(path);
}

Status WriteZeros(Io* io, int fd, uint64_t from, uint64_t to) {
  static const std::string kZeros(1 << 20, '\0');
  Status s;
  for (uint64_t off = from; s.ok() && off < to;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(kZeros.size(), to - off));
    s = io->PWrite(fd, kZeros.data(), n, off);
    off += n;
  }
  return s;
}

uint32_t NewEpoch() {
  // Not a secret, only distinct from the epochs of stale bytes a file might
  // hold: time, pid and a counter through a splitmix64 finalizer.
  static std::atomic<uint64_t> counter{0};
  uint64_t z = static_cast<uint64_t>(
      std::chrono::steady_clock::now().time_since_epoch().count());
  z ^= static_cast<uint64_t>(::getpid()) << 32;
  z += 0x9e3779b97f4a7c15ull * (counter.fetch_add(1) + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  uint32_t e = static_cast<uint32_t>(z);
  return e == 0 ? 1 : e;
}

ActiveSegment::ActiveSegment(Io* io, int fd, std::string path, uint64_t base_seq,
                             uint64_t offset, uint32_t epoch, uint32_t last_crc)
    : io_(io), fd_(fd), path_(std::move(path)), base_seq_(base_seq), offset_(offset),
      epoch_(epoch), last_crc_(last_crc) {
  assert(fd_ >= 0);
  assert(epoch_ != 0);
}

ActiveSegment::~ActiveSegment() { CloseFile(); }

void ActiveSegment::CloseFile() {
  if (direct_fd_ >= 0) io_->Close(direct_fd_);
  direct_fd_ = -1;
  if (fd_ >= 0) io_->Close(fd_);
  fd_ = -1;
}

Status ActiveSegment::Write(const char* data, uint32_t span, uint32_t crc, bool direct) {
  assert(fd_ >= 0);
  assert(span > 0);
  assert(offset_ % format::kMinAlign == 0);
  assert(!direct || direct_fd_ >= 0);
  Status s = io_->PWrite(direct ? direct_fd_ : fd_, data, span, offset_);
  if (!s.ok() && direct && s.err() == EINVAL) {
    // Some filesystems accept O_DIRECT at open and refuse the write (an
    // alignment they need and do not tell). Part of the batch may have been
    // written when a continued write got EINVAL: the buffered write below
    // writes all of it again, from now on through the page cache.
    direct_off_ = true;
    s = io_->PWrite(fd_, data, span, offset_);
  }
  if (!s.ok()) return s.WithPath(path_);
  offset_ += span;
  last_crc_ = crc;
  return Status::OK();
}

bool ActiveSegment::NeedsSync(SyncMode mode) {
  switch (mode) {
    case SyncMode::kFdatasync:
    case SyncMode::kFsync:
    case SyncMode::kAuto:
      return true;
    case SyncMode::kDirect:
#if defined(__APPLE__)
      // macOS has no O_DIRECT and its O_DSYNC does not flush the drive's
      // cache: F_FULLFSYNC (Io::Sync there) does. Not tested on macOS.
      return true;
#else
      return false;  // Linux: O_DIRECT | O_DSYNC, the write returned once durable
#endif
    case SyncMode::kNone:  // page cache only, by the user's choice
      return false;
  }
  return true;
}

Status ActiveSegment::Sync(SyncMode mode, uint64_t* sync_us) const {
  assert(fd_ >= 0);
  *sync_us = 0;
  if (!NeedsSync(mode)) return Status::OK();
  auto t0 = std::chrono::steady_clock::now();
  // Overwriting preallocated, already-written blocks needs no metadata, so
  // fdatasync is one device flush; a growing file also gets its new size
  // flushed, which is what reading the batch back needs. After an O_DIRECT
  // write the data is in the device, not yet past its volatile cache: the
  // same fdatasync flushes it (and converts unwritten extents).
  Status s = io_->Sync(fd_, mode == SyncMode::kFsync ? SyncKind::kFull : SyncKind::kData);
  *sync_us = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                       std::chrono::steady_clock::now() - t0)
                                       .count());
  return s.ok() ? s : s.WithPath(path_);
}

bool ActiveSegment::WantsDirect(uint32_t span) {
#if defined(O_DIRECT)
  if (direct_off_) return false;
  if (span < kAutoDirectMinBytes || span % kDirectAlign != 0 || offset_ % kDirectAlign != 0) {
    return false;
  }
  if (direct_fd_ < 0) {
    Status s = io_->Open(path_, O_RDWR | O_DIRECT, 0, &direct_fd_);
    if (!s.ok()) {
      // EINVAL: no O_DIRECT here (tmpfs). Anything else: the buffered
      // descriptor still works; the batch says whether it does.
      direct_fd_ = -1;
      direct_off_ = true;
      return false;
    }
  }
  return true;
#else
  (void)span;
  return false;
#endif
}

void SegmentSet::Reset(std::vector<SegmentMeta> segs) {
  std::lock_guard<std::mutex> l(mu_);
  segs_ = std::move(segs);
  added_ = 0;
}

void SegmentSet::Add(SegmentMeta seg) {
  std::lock_guard<std::mutex> l(mu_);
  assert(segs_.empty() || segs_.back().base_seq < seg.base_seq);
  segs_.push_back(std::move(seg));
  added_++;
}

void SegmentSet::NoteBatch(uint64_t seq, uint32_t count, uint64_t offset, uint64_t end_offset,
                           uint64_t timestamp_ms) {
  std::lock_guard<std::mutex> l(mu_);
  assert(!segs_.empty());
  assert(seq >= segs_.back().end_seq);
  assert(end_offset > offset);
  segs_.back().end_seq = seq + count;
  segs_.back().size_bytes = end_offset;
  segs_.back().newest_ms = std::max(segs_.back().newest_ms, timestamp_ms);
  auto& idx = segs_.back().index;
  if (idx.empty() || offset >= idx.back().offset + kIndexStrideBytes) idx.push_back({seq, offset});
}

bool SegmentSet::Locate(uint64_t seq, SegmentMeta* seg, uint64_t* start_offset,
                        bool* is_last, uint64_t* next_base) const {
  std::lock_guard<std::mutex> l(mu_);
  if (segs_.empty() || seq < segs_.front().base_seq) return false;
  auto it = std::upper_bound(segs_.begin(), segs_.end(), seq,
                             [](uint64_t s, const SegmentMeta& m) { return s < m.base_seq; });
  --it;
  seg->base_seq = it->base_seq;
  seg->end_seq = it->end_seq;
  seg->path = it->path;
  auto e = std::upper_bound(it->index.begin(), it->index.end(), seq,
                            [](uint64_t s, const IndexEntry& x) { return s < x.seq; });
  *start_offset = e == it->index.begin() ? 0 : (e - 1)->offset;
  *is_last = (it + 1 == segs_.end());
  *next_base = *is_last ? UINT64_MAX : (it + 1)->base_seq;
  return true;
}

std::vector<std::string> SegmentSet::Before(uint64_t seq, uint64_t* new_first) const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> paths;
  size_t n = 0;
  while (n + 1 < segs_.size() && segs_[n + 1].base_seq <= seq) {
    paths.push_back(segs_[n].path);
    n++;
  }
  *new_first = segs_.empty() ? 0 : segs_[n].base_seq;
  return paths;
}

void SegmentSet::RemoveFirst(size_t n) {
  std::lock_guard<std::mutex> l(mu_);
  assert(n < segs_.size());
  segs_.erase(segs_.begin(), segs_.begin() + static_cast<std::ptrdiff_t>(n));
}

bool SegmentSet::CutPoint(uint64_t seq, SegmentMeta* holder, uint64_t* start_offset,
                          std::vector<std::string>* drop) const {
  std::lock_guard<std::mutex> l(mu_);
  drop->clear();
  auto it = std::lower_bound(segs_.begin(), segs_.end(), seq,
                             [](const SegmentMeta& m, uint64_t s) { return m.base_seq < s; });
  for (auto d = it; d != segs_.end(); ++d) drop->push_back(d->path);
  if (it == segs_.begin()) return false;
  --it;
  holder->base_seq = it->base_seq;
  holder->end_seq = it->end_seq;
  holder->path = it->path;
  holder->index.clear();
  *start_offset = 0;
  for (const IndexEntry& e : it->index) {
    if (e.seq > seq) break;
    *start_offset = e.offset;
  }
  return true;
}

void SegmentSet::CutFrom(uint64_t seq, uint64_t kept_end) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = std::lower_bound(segs_.begin(), segs_.end(), seq,
                             [](const SegmentMeta& m, uint64_t s) { return m.base_seq < s; });
  segs_.erase(it, segs_.end());
  if (segs_.empty()) return;
  SegmentMeta& last = segs_.back();
  last.end_seq = std::min(last.end_seq, seq);
  last.size_bytes = std::min(last.size_bytes, kept_end);
  // An entry names a batch's first record: one at or past seq points into
  // what is gone; the batch cut down to end at seq keeps its entry.
  while (!last.index.empty() && last.index.back().seq >= seq) last.index.pop_back();
}

uint64_t SegmentSet::first_seq(uint64_t if_empty) const {
  std::lock_guard<std::mutex> l(mu_);
  return segs_.empty() ? if_empty : segs_.front().base_seq;
}

size_t SegmentSet::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return segs_.size();
}

std::vector<SegmentMeta> SegmentSet::List() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<SegmentMeta> out;
  out.reserve(segs_.size());
  for (const SegmentMeta& m : segs_) {
    out.push_back(SegmentMeta{m.base_seq, m.end_seq, m.path, {}, m.size_bytes, m.newest_ms});
  }
  return out;
}

uint64_t SegmentSet::added() const {
  std::lock_guard<std::mutex> l(mu_);
  return added_;
}

}  // namespace commitlog
