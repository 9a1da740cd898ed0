// libFuzzer target: recovery and reading of a log directory whose segment
// files hold arbitrary bytes. The input is cut into up to three segment
// files (named so they continue each other when the bytes say so). Open must
// either fail with a Status or recover a log whose every record reads back
// with a valid checksum; it must never crash or read out of bounds.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "../core/coding.h"
#include "../core/log.h"
#include "../core/log_format.h"
#include "../core/segment.h"

using namespace commitlog;

static std::string Dir() {
  static std::string dir = [] {
    char tmpl[] = "/dev/shm/commitlog-fuzz-XXXXXX";
    char* d = mkdtemp(tmpl);
    if (d == nullptr) {
      char tmpl2[] = "/tmp/commitlog-fuzz-XXXXXX";
      d = mkdtemp(tmpl2);
    }
    return std::string(d) + "/log";
  }();
  return dir;
}

static void Clear(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return;
  while (struct dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") unlink((dir + "/" + n).c_str());
  }
  closedir(d);
}

static void WriteFile(const std::string& path, const char* p, size_t n) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) abort();
  if (n > 0 && write(fd, p, n) != static_cast<ssize_t>(n)) abort();
  close(fd);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  std::string dir = Dir();
  mkdir(dir.c_str(), 0755);
  Clear(dir);
  const char* p = reinterpret_cast<const char*>(data) + 2;
  size_t n = size - 2;
  int segments = 1 + data[0] % 3;
  // Later segments are named after the sequence numbers the earlier ones
  // would end at if their batches were valid: taken from their first header.
  size_t cut = segments == 1 ? n : (n * (1 + data[1] % 7)) / 8;
  uint64_t base = 0;
  size_t pos = 0;
  for (int i = 0; i < segments && pos <= n; i++) {
    size_t len = (i + 1 == segments) ? n - pos : std::min(cut, n - pos);
    WriteFile(JoinPath(dir, SegmentName(base)), p + pos, len);
    if (len >= format::kBatchHeaderSizeV1) {
      base = DecodeFixed64(p + pos + format::kBaseSeqOffset) + DecodeFixed32(p + pos + format::kCountOffset);
    } else {
      base += 1;
    }
    pos += len;
  }
  LogOptions o;
  o.recovery = (data[0] & 4) ? RecoveryMode::kTruncate : RecoveryMode::kStrict;
  o.preallocate = Preallocate::kNone;
  o.segment_bytes = 64 * 1024;
  o.align_bytes = (data[0] & 8) ? 4096 : 512;
  std::unique_ptr<Log> log;
  Status s = Log::Open(PosixIo(), dir, o, &log);
  if (s.ok()) {
    log->Start([] {});
    ReadCursor cursor;
    uint64_t next = log->first_seq();
    uint64_t end = log->durable_seq();
    while (next < end) {
      ReadResult rr;
      Status rs = log->Read(next, UINT64_MAX, 1 << 16, &cursor, &rr);
      if (!rs.ok()) abort();  // recovery accepted it: every record must read back
      if (rr.ends.empty()) {
        if (rr.first_seq >= end) break;  // only given-up numbers were left
        abort();
      }
      next = rr.first_seq + rr.ends.size();
    }
    const char* rec = "x";
    size_t len = 1;
    uint64_t seq;
    if (log->Append(&rec, &len, 1, &seq) == AppendResult::kOk && seq != end) abort();
    log->Close();
  }
  log.reset();
  Clear(dir);
  return 0;
}
