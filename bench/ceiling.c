// The disk's own limit for the log's write pattern: aligned batches of a
// given size, one write and one fdatasync each, either appending to a new
// file or overwriting blocks written before (as a zero-filled segment is),
// with or without O_DIRECT. Built and run by bench/run.js.
//
//   ceiling <dir> <batch_bytes> <batches> <append|overwrite> <direct 0|1>
//
// Prints one JSON line: batches, seconds, sync latency p50/p99 in us.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_u64(const void* a, const void* b) {
  uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: ceiling <dir> <batch_bytes> <batches> <append|overwrite> <direct>\n");
    return 2;
  }
  const char* dir = argv[1];
  size_t batch = (size_t)strtoull(argv[2], NULL, 10);
  long batches = strtol(argv[3], NULL, 10);
  int overwrite = strcmp(argv[4], "overwrite") == 0;
  int direct = atoi(argv[5]);
  batch = (batch + 4095) / 4096 * 4096;
  char path[4096];
  snprintf(path, sizeof(path), "%s/ceiling-%d.dat", dir, (int)getpid());
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) { perror("open"); return 1; }
  void* buf;
  if (posix_memalign(&buf, 4096, batch) != 0) return 1;
  memset(buf, 0xab, batch);
  if (overwrite) {
    // Pre-write the whole range, as a zero-filled segment is, and sync it.
    for (long i = 0; i < batches; i++) {
      if (pwrite(fd, buf, batch, (off_t)i * batch) != (ssize_t)batch) { perror("prefill"); return 1; }
    }
    if (fsync(fd) != 0) { perror("fsync"); return 1; }
  }
  if (direct) {
    close(fd);
    fd = open(path, O_RDWR | O_DIRECT);
    if (fd < 0) { perror("open O_DIRECT"); return 1; }
  }
  uint64_t* lat = calloc((size_t)batches, sizeof(uint64_t));
  double t0 = now_s();
  for (long i = 0; i < batches; i++) {
    if (pwrite(fd, buf, batch, (off_t)i * batch) != (ssize_t)batch) { perror("pwrite"); return 1; }
    double s0 = now_s();
    if (fdatasync(fd) != 0) { perror("fdatasync"); return 1; }
    lat[i] = (uint64_t)((now_s() - s0) * 1e6);
  }
  double secs = now_s() - t0;
  qsort(lat, (size_t)batches, sizeof(uint64_t), cmp_u64);
  printf("{\"batches\":%ld,\"batchBytes\":%zu,\"seconds\":%.6f,\"syncUsP50\":%llu,\"syncUsP99\":%llu}\n",
         batches, batch, secs, (unsigned long long)lat[batches / 2],
         (unsigned long long)lat[(batches * 99) / 100]);
  close(fd);
  unlink(path);
  return 0;
}
