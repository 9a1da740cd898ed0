// Micro-benchmark of what the batch checksum costs each thread: Seal on the
// flusher, Add on the appending thread, for batches of 1 KiB records; and
// ExtendCopy and Extend alone, per KiB, at record sizes from 64 B to 64 KiB.
// Uses
// only BatchBuilder's and crc32c's long-standing API, so the same file builds
// against an older batch.cc for a side-by-side comparison. Not a test: the
// machine decides the figures; compare ratios from one run.
//
//   g++ -std=c++17 -O2 native/core/batch.cc native/core/crc32c.cc \
//       native/test/batch_bench.cc -o build/batch_bench && build/batch_bench
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "../core/batch.h"
#include "../core/crc32c.h"
#include "../core/log_format.h"

using namespace commitlog;

namespace {

constexpr size_t kRecordBytes = 1024;

// Median over trials of the time per call of fn(), in nanoseconds.
template <typename Fn>
double NanosPerCall(int calls, Fn fn) {
  std::vector<double> trials;
  for (int t = 0; t < 9; t++) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < calls; i++) fn();
    std::chrono::duration<double, std::nano> d = std::chrono::steady_clock::now() - t0;
    trials.push_back(d.count() / calls);
  }
  std::sort(trials.begin(), trials.end());
  return trials[trials.size() / 2];
}

SealInfo Info() {
  SealInfo info;
  info.epoch = 1;
  info.base_seq = 100;
  info.commit_seq = 100;
  info.file_offset = 4096;
  info.timestamp_ms = 1700000000000;
  info.log_id = 42;
  return info;
}

void Fill(BatchBuilder* b, const std::string& rec, size_t batch_bytes) {
  b->Reset();
  while (b->payload_bytes() + BatchBuilder::FrameSize(rec.size()) <= batch_bytes) {
    b->Add(rec.data(), rec.size());
  }
}

void BenchSeal(const std::string& rec, size_t batch_bytes, const char* label) {
  BatchBuilder b;
  Fill(&b, rec, batch_bytes);
  SealInfo info = Info();
  volatile uint32_t sink = 0;
  double seal_ns = NanosPerCall(2000, [&] { sink = b.Seal(info, 4096); });
  // What a Seal that checksums the whole batch itself adds on top of one
  // that only checksums its header.
  size_t used = format::kBatchHeaderSize + b.payload_bytes();
  double full_ns = NanosPerCall(2000, [&] {
    sink = crc32c::Value(b.data() + format::kMagicOffset, used - format::kMagicOffset);
  });
  std::printf("seal %s (%u records): %.2f us; a one-pass CRC of its bytes: %.2f us\n", label,
              b.count(), seal_ns / 1000, full_ns / 1000);
}

void BenchAdd(const std::string& rec) {
  BatchBuilder b;
  Fill(&b, rec, 512 * 1024);  // reserve once, as a running log's builders are
  const int per_batch = static_cast<int>(b.count());
  int added = 0;
  double add_ns = NanosPerCall(per_batch * 20, [&] {
    if (added++ % per_batch == 0) b.Reset();
    b.Add(rec.data(), rec.size());
  });
  std::vector<char> dst(512 * 1024 + 8192);
  size_t off = 0;
  double copy_ns = NanosPerCall(per_batch * 20, [&] {
    if (off + BatchBuilder::FrameSize(rec.size()) > 512 * 1024) off = 0;
    std::memcpy(&dst[off + format::kRecordFrameSize], rec.data(), rec.size());
    off += BatchBuilder::FrameSize(rec.size());
  });
  std::printf("add 1 KiB: %.1f ns per record; memcpy alone: %.1f ns\n", add_ns, copy_ns);
}

// ExtendCopy (as Add calls it) and Extend (as readers verify) per KiB at one
// record size. Records land back to back in a 512 KiB buffer as in a batch,
// so at every alignment; each trial moves about 4 MiB, all in cache.
void BenchExtend(size_t n) {
  std::string src(n + 16, '\0');
  for (size_t i = 0; i < src.size(); i++) src[i] = static_cast<char>(i * 131 + 7);
  std::vector<char> dst(512 * 1024 + n + 16);
  const size_t stride = BatchBuilder::FrameSize(n);
  const int calls = static_cast<int>(std::max<size_t>(1, (4u << 20) / n));
  size_t off = format::kRecordFrameSize;
  uint32_t crc = 0;
  double copy_ns = NanosPerCall(calls, [&] {
    if (off + n > 512 * 1024) off = format::kRecordFrameSize + (off & 7) + 1;
    crc = crc32c::ExtendCopy(crc, &dst[off], src.data(), n);
    off += stride;
  });
  double extend_ns = NanosPerCall(calls, [&] {
    if (off + n > 512 * 1024) off = format::kRecordFrameSize + (off & 7) + 1;
    crc = crc32c::Extend(crc, &dst[off], n);
    off += stride;
  });
  volatile uint32_t sink = crc;
  (void)sink;
  std::printf("%6zu B: ExtendCopy %6.1f ns per KiB (%8.1f ns per call); Extend %6.1f ns per KiB\n",
              n, copy_ns * 1024 / n, copy_ns, extend_ns * 1024 / n);
}

}  // namespace

int main() {
  std::string rec(kRecordBytes, '\0');
  for (size_t i = 0; i < rec.size(); i++) rec[i] = static_cast<char>(i * 131 + 7);
  std::printf("crc32c hardware: %s\n", crc32c::IsHardwareAccelerated() ? "yes" : "no");
  BenchSeal(rec, 512 * 1024, "512 KiB");
  BenchSeal(rec, 44 * 1024, "44 KiB");
  BenchAdd(rec);
  for (size_t n : {64, 256, 1024, 4096, 65536}) BenchExtend(n);
  return 0;
}
