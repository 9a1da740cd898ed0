// CRC32C (Castagnoli), as used by LevelDB, RocksDB and ext4. Uses the SSE4.2
// or ARMv8 CRC instruction when the CPU has it, a slicing-by-8 table otherwise.
#ifndef COMMITLOG_CORE_CRC32C_H_
#define COMMITLOG_CORE_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace commitlog {
namespace crc32c {

// Returns the crc32c of concat(A, data[0, n)) where init_crc is the crc32c of A.
uint32_t Extend(uint32_t init_crc, const char* data, size_t n);

inline uint32_t Value(const char* data, size_t n) { return Extend(0, data, n); }

// The portable implementation, exposed so tests can compare it with the
// hardware one.
uint32_t ExtendPortable(uint32_t init_crc, const char* data, size_t n);

// True when Extend uses a CPU instruction.
bool IsHardwareAccelerated();

// A CRC stored next to the data it covers is masked (LevelDB): computing the
// CRC of a string that contains embedded CRCs is then not degenerate.
static constexpr uint32_t kMaskDelta = 0xa282ead8u;

inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }

inline uint32_t Unmask(uint32_t masked) {
  uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

}  // namespace crc32c
}  // namespace commitlog

#endif  // COMMITLOG_CORE_CRC32C_H_
