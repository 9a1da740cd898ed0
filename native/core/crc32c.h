// CRC32C (Castagnoli), as used by LevelDB, RocksDB and ext4. Uses the SSE4.2
// or ARMv8 CRC instruction when the CPU has it, a slicing-by-8 table otherwise;
// Combine uses the carry-less multiply instruction (x86 PCLMULQDQ) when there,
// and so do Extend and ExtendCopy from 96 bytes, to run three CRC chains over
// three lanes at once and fold them into one.
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

// Copies src[0, n) to dst and returns Extend(init_crc, dst, n), in one pass
// where the CPU has a CRC instruction: each word is loaded once, so the CRC
// covers exactly the bytes stored even if src changes meanwhile. The ranges
// must not overlap.
uint32_t ExtendCopy(uint32_t init_crc, char* dst, const char* src, size_t n);

// Returns the crc32c of concat(A, B) where crc_a is the crc32c of A, crc_b
// that of B, and len_b the length of B (zlib's crc32_combine). Takes and
// returns plain CRCs as Value/Extend do, never masked ones: a masked CRC is
// not linear in its data. Costs one multiplication modulo the polynomial
// per set bit of len_b, not a pass over B.
uint32_t Combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

// The portable implementation of Combine, exposed so tests can compare it
// with the one that uses the carry-less multiply instruction.
uint32_t CombinePortable(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

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
