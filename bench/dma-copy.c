// What a record's copy into a staging buffer costs, by what the buffer's
// last write was: the main thread copies 64 KiB records into a 2 MiB
// buffer, which is then written to a file and synced, 300 times. With
// O_DIRECT the device (on a VM, the host's I/O thread) reads the buffer
// itself; through the page cache a kernel copy on this CPU does. Each way
// copies with memcpy and with non-temporal stores (movnti, then sfence,
// which take no ownership of the destination's cache lines first). A fifth
// way is the control: no write, the buffer's lines flushed from every
// cache before each pass. These are memcpy and one sequential movnti loop,
// not commitlog's copy (three CRC lanes of 8-byte stores), whose costs move
// more (README).
// README, "The copy into a buffer an O_DIRECT write just read".
//
//   dma-copy <dir> [rounds] [writes]
//   npm run bench:dma-copy
//
// Prints one JSON line per way: microseconds per 64 KiB copied (the median
// of the rounds; each round runs the five ways, starting with another one
// each time). Removes its file.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

enum { kRecord = 64 << 10, kBuffer = 2 << 20, kOffset = 76 };
static int writes = 300;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void copy_stream(char* dst, const char* src, size_t n) {
#if defined(__x86_64__)
  for (size_t i = 0; i + 8 <= n; i += 8) {
    long long v;
    memcpy(&v, src + i, 8);
    _mm_stream_si64((long long*)(dst + i), v);
  }
  _mm_sfence();
#else
  memcpy(dst, src, n);
#endif
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

// Evicts the buffer's lines from every cache (the control: lines no cache
// of this CPU holds, whoever took them).
static void flush(char* buf) {
#if defined(__x86_64__)
  for (size_t i = 0; i < kBuffer; i += 64) _mm_clflush(buf + i);
  _mm_mfence();
#else
  (void)buf;
#endif
}

// Says why (`what` failed, or nothing when said already), removes the file.
static double fail_file(const char* what, int fd, const char* path) {
  if (what != NULL) perror(what);
  if (fd >= 0) close(fd);
  unlink(path);
  return -1;
}

// Microseconds per record copied, over `writes` writes of the buffer; with
// way 'flushed' no write, the buffer's lines flushed before each pass.
static double one(const char* path, int direct, int stream, int flushed, char* buf, const char* src) {
  int fd = -1;
  if (!flushed) {
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | (direct ? O_DIRECT : 0), 0644);
    if (fd < 0) return fail_file("open", fd, path);
  }
  double copy_s = 0;
  long copies = 0;
  for (int w = 0; w < writes; w++) {
    if (flushed) flush(buf);
    double t0 = now_s();
    // At a record frame's offset, as a batch lays records out.
    for (size_t off = kOffset; off + kRecord <= kBuffer; off += kRecord, copies++) {
      if (stream) {
        copy_stream(buf + off, src, kRecord);
      } else {
        memcpy(buf + off, src, kRecord);
      }
    }
    copy_s += now_s() - t0;
    if (flushed) continue;
    ssize_t n = pwrite(fd, buf, kBuffer, (off_t)(w % 16) * kBuffer);
    if (n != kBuffer) {
      if (n >= 0) fprintf(stderr, "pwrite: short write, %zd of %d bytes\n", n, kBuffer);
      return fail_file(n >= 0 ? NULL : "pwrite", fd, path);
    }
    if (fdatasync(fd) != 0) return fail_file("fdatasync", fd, path);
  }
  if (fd >= 0) {
    close(fd);
    unlink(path);
  }
  return copy_s / copies * 1e6;
}

int main(int argc, char** argv) {
  if (argc < 2 || argc > 4) {
    fprintf(stderr, "usage: dma-copy <dir> [rounds] [writes]\n");
    return 2;
  }
  int rounds = argc >= 3 ? atoi(argv[2]) : 5;
  if (argc == 4) writes = atoi(argv[3]);
  if (rounds < 1 || rounds > 100 || writes < 1) {
    fprintf(stderr, "dma-copy: rounds 1..100, writes 1 or more\n");
    return 2;
  }
  char path[4096];
  snprintf(path, sizeof(path), "%s/dma-copy-%d.dat", argv[1], (int)getpid());
  char* buf = NULL;
  char* src = malloc(kRecord);
  if (posix_memalign((void**)&buf, 4096, kBuffer) != 0 || src == NULL) return 1;
  memset(buf, 1, kBuffer);
  memset(src, 3, kRecord);
  static const char* names[5][2] = {{"O_DIRECT", "memcpy"},   {"O_DIRECT", "non-temporal"},
                                    {"page cache", "memcpy"}, {"page cache", "non-temporal"},
                                    {"none, lines flushed", "memcpy"}};
  double us[5][100];
  for (int r = 0; r < rounds; r++) {
    for (int k = 0; k < 5; k++) {
      int way = (k + r) % 5;  // each round starts with another way
      us[way][r] = one(path, way < 2, way == 1 || way == 3, way == 4, buf, src);
      if (us[way][r] < 0) return 1;
    }
  }
  for (int way = 0; way < 5; way++) {
    qsort(us[way], (size_t)rounds, sizeof(double), cmp_double);
    printf("{\"write\":\"%s\",\"copy\":\"%s\",\"usPer64KiB\":%.2f,\"rounds\":%d}\n", names[way][0], names[way][1],
           us[way][rounds / 2], rounds);
  }
  return 0;
}
