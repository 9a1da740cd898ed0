// Tests of the core without Node: the batch codec (pair assertions: what
// the writer seals, the reader accepts, and any damage is caught), and the
// committer's threads under real concurrency. Built and run by
// scripts/native-test.sh, under ThreadSanitizer and under
// AddressSanitizer + UndefinedBehaviorSanitizer.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "../core/batch.h"
#include "../core/coding.h"
#include "../core/crc32c.h"
#include "../core/log.h"
#include "../core/log_format.h"

using namespace commitlog;

static int failures = 0;
#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                     \
    }                                                                 \
  } while (0)

static std::string Record(uint64_t i, size_t len) {
  std::string r(len, '\0');
  for (size_t k = 0; k < len; k++) r[k] = static_cast<char>((i * 131 + k * 7) & 0xff);
  return r;
}

static void TestBatchRoundTrip() {
  for (uint32_t align : {512u, 4096u}) {
    for (int count : {1, 2, 17}) {
      BatchBuilder b;
      std::vector<std::string> recs;
      for (int i = 0; i < count; i++) {
        recs.push_back(Record(i, (i * 97) % 700));
        CHECK(b.Add(recs.back().data(), recs.back().size()));
      }
      SealInfo info;
      info.epoch = 0x1234;
      info.base_seq = 42;
      info.prev_crc = 7;
      info.file_offset = 8192;
      info.commit_seq = 40;
      info.timestamp_ms = 1700000000000;
      uint32_t span = b.Seal(info, align);
      CHECK(span % align == 0);
      BatchHeader h;
      CHECK(DecodeBatch(b.data(), span, &h) == BatchState::kValid);
      CHECK(h.base_seq == 42 && h.count == static_cast<uint32_t>(count) && h.prev_crc == 7);
      CHECK(h.epoch == 0x1234 && h.span == span && h.crc == b.sealed_crc());
      CHECK(h.version == format::kFormatVersion && h.header_len == format::kBatchHeaderSize);
      CHECK(h.file_offset == 8192 && h.commit_seq == 40 && h.timestamp_ms == 1700000000000);
      // Every single-byte change inside the used bytes is caught.
      std::string copy(b.data(), span);
      size_t used = h.used();
      for (size_t i = 0; i < used; i++) {
        copy[i] ^= 0x20;
        BatchHeader h2;
        CHECK(DecodeBatch(copy.data(), span, &h2) != BatchState::kValid);
        copy[i] ^= 0x20;
      }
      // Every truncation is incomplete, never valid.
      for (size_t n = 0; n < used; n++) {
        BatchHeader h3;
        CHECK(DecodeBatch(copy.data(), n, &h3) != BatchState::kValid);
      }
    }
  }
  char zeros[64] = {};
  BatchHeader h;
  CHECK(DecodeBatch(zeros, sizeof(zeros), &h) == BatchState::kZero);
}

static void TestCrc() {
  CHECK(crc32c::Value("123456789", 9) == 0xe3069283u);
  std::string data = Record(5, 1000);
  for (size_t off = 0; off < 16; off++) {
    CHECK(crc32c::Value(data.data() + off, 900) == crc32c::ExtendPortable(0, data.data() + off, 900));
  }
  CHECK(crc32c::Unmask(crc32c::Mask(0xdeadbeef)) == 0xdeadbeef);
}

// Many threads append concurrently (the JS thread is one in practice, but the
// committer must be safe for any); the flusher and preparer run alongside.
static void TestConcurrentAppendsAndRecovery(const std::string& dir) {
  LogOptions opts;
  opts.segment_bytes = 256 * 1024;
  opts.max_pending_bytes = 64 * 1024;
  const int kThreads = 4, kPerThread = 3000;
  std::unique_ptr<Log> log;
  Status s = Log::Open(PosixIo(), dir, opts, &log);
  CHECK(s.ok());
  if (!s.ok()) return;
  std::atomic<uint64_t> notified{0};
  log->Start([&] { notified.fetch_add(1); });
  std::vector<std::string> by_seq(kThreads * kPerThread);
  std::vector<std::thread> threads;
  std::atomic<int> full_retries{0};
  std::mutex map_mu;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; i++) {
        std::string r = Record(t * kPerThread + i, (i * 13) % 900);
        const char* p = r.data();
        size_t n = r.size();
        uint64_t seq;
        AppendResult res;
        while ((res = log->Append(&p, &n, 1, &seq)) == AppendResult::kFull) {
          full_retries++;
          std::this_thread::yield();
        }
        CHECK(res == AppendResult::kOk);
        std::lock_guard<std::mutex> l(map_mu);
        by_seq[seq] = r;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(log->Close().ok());
  CHECK(log->durable_seq() == static_cast<uint64_t>(kThreads * kPerThread));
  CHECK(notified.load() > 0);
  LogStats st;
  log->GetStats(&st);
  CHECK(st.records == static_cast<uint64_t>(kThreads * kPerThread));
  CHECK(st.segments_rolled > 0);
  log.reset();

  s = Log::Open(PosixIo(), dir, opts, &log);
  CHECK(s.ok());
  if (!s.ok()) return;
  log->Start([] {});
  ReadCursor cursor;
  uint64_t next = 0;
  while (next < by_seq.size()) {
    ReadResult rr;
    s = log->Read(next, UINT64_MAX, 1 << 20, &cursor, &rr);
    CHECK(s.ok());
    if (!s.ok() || rr.ends.empty()) break;
    uint32_t start = 0;
    for (size_t i = 0; i < rr.ends.size(); i++) {
      std::string got = rr.data.substr(start, rr.ends[i] - start);
      CHECK(got == by_seq[rr.first_seq + i]);
      start = rr.ends[i];
    }
    next = rr.first_seq + rr.ends.size();
  }
  CHECK(next == by_seq.size());
  CHECK(log->Close().ok());
  std::printf("core_test: %d appends from %d threads, %d full retries, %llu notifications\n",
              kThreads * kPerThread, kThreads, full_retries.load(),
              static_cast<unsigned long long>(notified.load()));
}

int main() {
  char tmpl[] = "/tmp/commitlog-core-XXXXXX";
  const char* dir = mkdtemp(tmpl);
  if (dir == nullptr) return 2;
  TestCrc();
  TestBatchRoundTrip();
  TestConcurrentAppendsAndRecovery(std::string(dir) + "/log");
  std::string rm = std::string("rm -rf ") + dir;
  if (std::system(rm.c_str()) != 0) failures++;
  if (failures > 0) {
    std::fprintf(stderr, "core_test: %d failures\n", failures);
    return 1;
  }
  std::printf("core_test: all passed\n");
  return 0;
}
