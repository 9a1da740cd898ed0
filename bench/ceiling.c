// The disk's own limit for the I/O one benchmark cell made: the same number
// of batches of the cell's mean batch size, the same share of them written
// with O_DIRECT, the same number of batches in flight at once (commitlog's
// two flushers overlap a write with the previous batch's sync), on a file in
// a given state. No records, no checksums, no callers: only the syscalls,
// so a product doing the same I/O cannot beat it except by noise.
// Built and run by bench/lib/ceiling.js.
//
//   ceiling <dir> <batch_bytes> <batches> <overwrite|overwrite-uncached|fallocate|append>
//           <direct_share 0..1> <depth 1|2> <fdatasync|dsync|uring|uring-dsync> [turnaround_us]
//
// 'overwrite' leaves the prefill's pages in the page cache, as a segment
// the preparer zero-filled has them: an O_DIRECT write then also drops
// them. 'overwrite-uncached' drops them after the prefill (a segment whose
// pages were written back and evicted).
//
// 'uring' submits each batch as an io_uring write linked to an fdatasync
// (IOSQE_IO_LINK, IORING_FSYNC_DATASYNC) and waits for both in one
// io_uring_enter: the same I/O as 'fdatasync' with one system call instead
// of two. 'uring-dsync' submits one write with RWF_DSYNC instead (durable
// when it completes, as 'dsync' is). To measure what io_uring could give a
// flusher (a ring per I/O thread; raw system calls, so the bench needs no
// liburing-dev).
//
// With a turnaround (depth 1 only), the replay is a closed loop as a
// program's callers make one: the I/O thread sleeps until the main thread
// hands it the next batch, and the main thread, woken when a batch is done,
// works (spins) for turnaround_us before it does so, as JavaScript resolving
// a batch's promises and taking the callers' next appends would. Every
// caller waits for its batch, so that work is in series with the disk: the
// bound for any group commit whose callers take that long, and on a VM the
// I/O itself is slower when its thread sleeps between batches.
//
// Prints one JSON line: batches, batchBytes, seconds, latency of one batch
// (write and sync) p50/p99 and their sum in us, the turnaround, and the
// file's size at the end (a check that the batches were written).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct job {
  int fd_cached;
  int fd_direct;
  size_t batch;
  long batches;
  double direct_share;
  int dsync;
  int uring;  // 1: write linked to an fdatasync; 2: one RWF_DSYNC write
  void* buf;
  atomic_long next;
  uint64_t* lat_us;
  int failed;
  // Closed loop (turnaround_us > 0): a batch is handed over under mu.
  double turnaround_us;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  long handed;  // batches handed to the I/O thread
  long done;    // batches written and synced
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_u64(const void* a, const void* b) {
  uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
  return x < y ? -1 : x > y;
}

// Spreads the O_DIRECT batches evenly (a share of 0.25 makes every fourth
// one direct) rather than in one run, as the log's mix of sizes does.
static int is_direct(const struct job* j, long i) {
  return (long)((i + 1) * j->direct_share) > (long)(i * j->direct_share);
}

// Stops the replay; a main thread waiting for the batch learns of it.
static void* fail(struct job* j) {
  pthread_mutex_lock(&j->mu);
  j->failed = 1;
  pthread_cond_broadcast(&j->cv);
  pthread_mutex_unlock(&j->mu);
  return NULL;
}

// One io_uring of an I/O thread: the rings mapped, no liburing.
struct ring {
  int fd;
  unsigned *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
  struct io_uring_sqe* sqes;
  struct io_uring_cqe* cqes;
};

static int ring_init(struct ring* r) {
  struct io_uring_params p;
  memset(&p, 0, sizeof(p));
  r->fd = (int)syscall(__NR_io_uring_setup, 4, &p);
  if (r->fd < 0) return perror("io_uring_setup"), -1;
  size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  if (!(p.features & IORING_FEAT_SINGLE_MMAP)) return fprintf(stderr, "io_uring: no single mmap\n"), -1;
  size_t len = sq_len > cq_len ? sq_len : cq_len;
  char* q = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
  r->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
  if (q == MAP_FAILED || r->sqes == MAP_FAILED) return perror("io_uring mmap"), -1;
  r->sq_tail = (unsigned*)(q + p.sq_off.tail);
  r->sq_mask = (unsigned*)(q + p.sq_off.ring_mask);
  r->sq_array = (unsigned*)(q + p.sq_off.array);
  r->cq_head = (unsigned*)(q + p.cq_off.head);
  r->cq_tail = (unsigned*)(q + p.cq_off.tail);
  r->cq_mask = (unsigned*)(q + p.cq_off.ring_mask);
  r->cqes = (struct io_uring_cqe*)(q + p.cq_off.cqes);
  return 0;
}

static struct io_uring_sqe* ring_sqe(struct ring* r, unsigned tail) {
  unsigned i = tail & *r->sq_mask;
  r->sq_array[i] = i;
  memset(&r->sqes[i], 0, sizeof(r->sqes[i]));
  return &r->sqes[i];
}

// A write linked to an fdatasync (or, with dsync, one RWF_DSYNC write),
// submitted and waited for in one call. Returns 0 when the write was whole
// and the sync succeeded.
static int ring_write_sync(struct ring* r, int fd, const void* buf, size_t len, off_t off, int dsync) {
  unsigned tail = *r->sq_tail;
  struct io_uring_sqe* w = ring_sqe(r, tail);
  w->opcode = IORING_OP_WRITE;
  w->fd = fd;
  w->addr = (uintptr_t)buf;
  w->len = (unsigned)len;
  w->off = (uint64_t)off;
  w->user_data = 1;
  unsigned want = 1;
  if (dsync) {
    w->rw_flags = RWF_DSYNC;
  } else {
    w->flags = IOSQE_IO_LINK;
    struct io_uring_sqe* s = ring_sqe(r, tail + 1);
    s->opcode = IORING_OP_FSYNC;
    s->fd = fd;
    s->fsync_flags = IORING_FSYNC_DATASYNC;
    s->user_data = 2;
    want = 2;
  }
  __atomic_store_n(r->sq_tail, tail + want, __ATOMIC_RELEASE);
  unsigned submitted = 0, seen = 0;
  int ok = 1;
  while (seen < want) {
    long n = syscall(__NR_io_uring_enter, r->fd, want - submitted, want - seen, IORING_ENTER_GETEVENTS, NULL, 0);
    if (n < 0 && errno != EINTR) return perror("io_uring_enter"), -1;
    if (n > 0) submitted += (unsigned)n;
    unsigned head = *r->cq_head, ctail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
    for (; head != ctail; head++, seen++) {
      struct io_uring_cqe* c = &r->cqes[head & *r->cq_mask];
      if (c->user_data == 1 && c->res != (int)len) ok = 0;
      if (c->user_data == 2 && c->res != 0) ok = 0;
    }
    __atomic_store_n(r->cq_head, head, __ATOMIC_RELEASE);
  }
  if (!ok) fprintf(stderr, "io_uring: a short or failed write, or a failed sync\n");
  return ok ? 0 : -1;
}

static void* flusher(void* arg) {
  struct job* j = arg;
  struct ring ring = {.fd = -1};
  if (j->uring && ring_init(&ring) != 0) return fail(j);
  for (;;) {
    long i = atomic_fetch_add(&j->next, 1);
    if (i >= j->batches) {
      if (ring.fd >= 0) close(ring.fd);
      return NULL;
    }
    if (j->turnaround_us > 0) {
      pthread_mutex_lock(&j->mu);
      while (j->handed <= i) pthread_cond_wait(&j->cv, &j->mu);
      pthread_mutex_unlock(&j->mu);
    }
    int fd = is_direct(j, i) ? j->fd_direct : j->fd_cached;
    double s0 = now_s();
    if (j->uring) {
      if (ring_write_sync(&ring, fd, j->buf, j->batch, (off_t)i * j->batch, j->uring == 2) != 0) {
        close(ring.fd);
        return fail(j);
      }
    } else if (pwrite(fd, j->buf, j->batch, (off_t)i * j->batch) != (ssize_t)j->batch) {
      perror("pwrite");
      return fail(j);
    }
    // In 'dsync' mode the write itself is durable (O_DSYNC), as in sync: 'direct'.
    if (!j->dsync && !j->uring && fdatasync(fd) != 0) {
      perror("fdatasync");
      return fail(j);
    }
    j->lat_us[i] = (uint64_t)((now_s() - s0) * 1e6);
    if (j->turnaround_us > 0) {
      pthread_mutex_lock(&j->mu);
      j->done = i + 1;
      pthread_cond_broadcast(&j->cv);
      pthread_mutex_unlock(&j->mu);
    }
  }
}

// The main thread of a closed loop: waits for each batch, works for the
// turnaround, hands over the next.
static void callers(struct job* j) {
  for (long i = 0; i < j->batches; i++) {
    if (i > 0) {
      double until = now_s() + j->turnaround_us / 1e6;
      while (now_s() < until) {
      }
    }
    pthread_mutex_lock(&j->mu);
    j->handed = i + 1;
    pthread_cond_broadcast(&j->cv);
    while (j->done <= i && !j->failed) pthread_cond_wait(&j->cv, &j->mu);
    int failed = j->failed;
    pthread_mutex_unlock(&j->mu);
    if (failed) return;
  }
}

// Puts the file in the state the log's segments are in before a batch
// lands: blocks written before (zero-filled segments), allocated but
// unwritten (fallocated ones, whose extents a sync must convert), or none
// (a growing file). Synced, so the preparation is not measured.
static int prepare(int fd, const char* state, size_t total, void* buf, size_t batch) {
  int uncached = strcmp(state, "overwrite-uncached") == 0;
  if (uncached || strcmp(state, "overwrite") == 0) {
    for (size_t off = 0; off < total; off += batch) {
      if (pwrite(fd, buf, batch, (off_t)off) != (ssize_t)batch) return perror("prefill"), -1;
    }
    if (uncached) {
      // Written back first, so that the pages are clean and can be dropped.
      if (fsync(fd) != 0) return perror("fsync"), -1;
      if (posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0) return perror("fadvise"), -1;
    }
  } else if (strcmp(state, "fallocate") == 0) {
    if (posix_fallocate(fd, 0, (off_t)total) != 0) return perror("fallocate"), -1;
  } else if (strcmp(state, "append") != 0) {
    return fprintf(stderr, "unknown state %s\n", state), -1;
  }
  return fsync(fd) == 0 ? 0 : (perror("fsync"), -1);
}

int main(int argc, char** argv) {
  if (argc != 8 && argc != 9) {
    fprintf(stderr, "usage: ceiling <dir> <batch_bytes> <batches> <overwrite|overwrite-uncached|fallocate|append> "
                    "<direct_share> <depth> <fdatasync|dsync|uring|uring-dsync> [turnaround_us]\n");
    return 2;
  }
  struct job j = {0};
  j.batch = ((size_t)strtoull(argv[2], NULL, 10) + 4095) / 4096 * 4096;
  j.batches = strtol(argv[3], NULL, 10);
  j.direct_share = atof(argv[5]);
  int depth = atoi(argv[6]);
  j.dsync = strcmp(argv[7], "dsync") == 0;
  j.uring = strcmp(argv[7], "uring") == 0 ? 1 : strcmp(argv[7], "uring-dsync") == 0 ? 2 : 0;
  int sync_ok = j.dsync || j.uring || strcmp(argv[7], "fdatasync") == 0;
  char* end = NULL;
  j.turnaround_us = argc == 9 ? strtod(argv[8], &end) : 0;
  if (argc == 9 && (end == argv[8] || *end != '\0')) j.turnaround_us = -1;  // refused below
  pthread_mutex_init(&j.mu, NULL);
  pthread_cond_init(&j.cv, NULL);
  if (!sync_ok || j.batches < 1 || depth < 1 || depth > 2 || j.direct_share < 0 || j.direct_share > 1 ||
      !(j.turnaround_us >= 0) || (j.turnaround_us > 0 && depth != 1)) {
    fprintf(stderr, "ceiling: bad arguments\n");
    return 2;
  }
  char path[4096];
  snprintf(path, sizeof(path), "%s/ceiling-%d.dat", argv[1], (int)getpid());
  int sync_flag = j.dsync ? O_DSYNC : 0;
  j.fd_cached = open(path, O_RDWR | O_CREAT | O_TRUNC | sync_flag, 0644);
  if (j.fd_cached < 0) return perror("open"), 1;
  // From here on a failure removes the file, as a success does.
  if (posix_memalign(&j.buf, 4096, j.batch) != 0) return unlink(path), 1;
  memset(j.buf, 0xab, j.batch);
  if (prepare(j.fd_cached, argv[4], j.batch * (size_t)j.batches, j.buf, j.batch) != 0) return unlink(path), 1;
  j.fd_direct = open(path, O_RDWR | O_DIRECT | sync_flag);
  if (j.fd_direct < 0) return perror("open O_DIRECT"), unlink(path), 1;
  j.lat_us = calloc((size_t)j.batches, sizeof(uint64_t));
  pthread_t threads[2];
  double t0 = now_s();
  for (int t = 0; t < depth; t++) pthread_create(&threads[t], NULL, flusher, &j);
  if (j.turnaround_us > 0) callers(&j);
  for (int t = 0; t < depth; t++) pthread_join(threads[t], NULL);
  double secs = now_s() - t0;
  if (j.failed) return unlink(path), 1;
  uint64_t sum_us = 0;
  for (long i = 0; i < j.batches; i++) sum_us += j.lat_us[i];
  struct stat st;
  if (fstat(j.fd_cached, &st) != 0) return perror("fstat"), unlink(path), 1;
  qsort(j.lat_us, (size_t)j.batches, sizeof(uint64_t), cmp_u64);
  printf("{\"batches\":%ld,\"batchBytes\":%zu,\"seconds\":%.6f,\"batchUsP50\":%llu,\"batchUsP99\":%llu,"
         "\"batchUsSum\":%llu,\"turnaroundUs\":%.1f,\"fileBytes\":%lld}\n",
         j.batches, j.batch, secs, (unsigned long long)j.lat_us[j.batches / 2],
         (unsigned long long)j.lat_us[(j.batches * 99) / 100], (unsigned long long)sum_us, j.turnaround_us,
         (long long)st.st_size);
  close(j.fd_direct);
  close(j.fd_cached);
  unlink(path);
  return 0;
}
