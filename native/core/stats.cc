#include "stats.h"

#include <cassert>

namespace commitlog {

int LatencyHistogram::BucketOf(uint64_t v) {
  if (v < (1u << kSubBits)) return static_cast<int>(v);
  int e = 63 - __builtin_clzll(v);  // e >= kSubBits
  int sub = static_cast<int>((v >> (e - kSubBits)) & ((1u << kSubBits) - 1));
  return ((e - kSubBits + 1) << kSubBits) + sub;
}

uint64_t LatencyHistogram::BucketHigh(int b) {
  if (b < (1 << kSubBits)) return static_cast<uint64_t>(b);
  int e = (b >> kSubBits) + kSubBits - 1;
  uint64_t sub = static_cast<uint64_t>(b & ((1 << kSubBits) - 1));
  uint64_t low = (uint64_t{1} << e) | (sub << (e - kSubBits));
  return low + (uint64_t{1} << (e - kSubBits)) - 1;
}

void LatencyHistogram::Record(uint64_t us) {
  int b = BucketOf(us);
  assert(b >= 0 && b < kBuckets);
  counts_[b]++;
  count_++;
  if (us > max_) max_ = us;
}

uint64_t LatencyHistogram::Quantile(double q) const {
  if (count_ == 0) return 0;
  uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(count_ - 1)) + 1;
  uint64_t seen = 0;
  for (int b = 0; b < kBuckets; b++) {
    seen += counts_[b];
    if (seen >= rank) {
      uint64_t high = BucketHigh(b);
      return high < max_ ? high : max_;
    }
  }
  return max_;
}

}  // namespace commitlog
