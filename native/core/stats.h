// Counters of a log, and a small log-linear latency histogram.
#ifndef COMMITLOG_CORE_STATS_H_
#define COMMITLOG_CORE_STATS_H_

#include <cstdint>
#include <string>

namespace commitlog {

// Log-linear histogram of microsecond values: exact below 16, then 16
// sub-buckets per power of two (at most ~6% error). Not thread-safe.
class LatencyHistogram {
 public:
  static constexpr int kSubBits = 4;
  static constexpr int kBuckets = (64 - kSubBits + 1) << kSubBits;

  void Record(uint64_t us);
  // The value at quantile q (0..1): the upper bound of its bucket.
  uint64_t Quantile(double q) const;
  uint64_t max() const { return max_; }
  uint64_t count() const { return count_; }

 private:
  static int BucketOf(uint64_t v);
  static uint64_t BucketHigh(int b);
  uint64_t counts_[kBuckets] = {};
  uint64_t count_ = 0;
  uint64_t max_ = 0;
};

struct LogStats {
  uint64_t appended_seq = 0;  // next sequence number to be assigned
  uint64_t durable_seq = 0;   // every record below this is durable
  uint64_t first_seq = 0;     // oldest record still in the log
  uint64_t records = 0;       // records written by this instance
  uint64_t batches = 0;       // batches written (one write + one sync each)
  uint64_t syncs = 0;         // fdatasync/fsync calls on segments
  uint64_t bytes_written = 0; // bytes passed to write, padding included
  uint64_t payload_bytes = 0; // record bytes, without frames and padding
  uint64_t padding_bytes = 0; // zero bytes added to reach the alignment
  uint64_t segments = 0;      // segment files in the log
  uint64_t segments_rolled = 0;
  uint64_t prepared_segments_used = 0;
  // sync 'auto': batches written with O_DIRECT (no page-cache copy).
  uint64_t direct_batches = 0;
  // Batches sealed while the batch before them was still syncing (two in
  // flight): their commit watermark is below their first record.
  uint64_t overlapped_batches = 0;
  // Freed segments the preparer made ready as the next segment, instead of
  // zero-filling a new file (recycle.h).
  uint64_t segments_recycled = 0;
  uint64_t pending_bytes = 0; // staged or being written, not yet durable
  uint64_t sync_us_p50 = 0;
  uint64_t sync_us_p99 = 0;
  uint64_t sync_us_max = 0;
  uint64_t batch_us_p50 = 0;  // write + sync of one batch
  uint64_t batch_us_p99 = 0;
  // Failures of the background thread, which no append waits for.
  uint64_t prepare_failures = 0;     // next segment could not be prepared
  uint64_t checkpoint_failures = 0;  // CHECKPOINT could not be written
  std::string last_background_error;
  // HEAD writes that failed (readers then lag behind until the next one).
  uint64_t head_failures = 0;
};

}  // namespace commitlog

#endif  // COMMITLOG_CORE_STATS_H_
