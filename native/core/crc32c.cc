#include "crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
#include <nmmintrin.h>
#include <wmmintrin.h>
#define COMMITLOG_CRC_X86 1
#elif defined(__aarch64__) && defined(__ARM_FEATURE_CRC32)
#include <arm_acle.h>
#define COMMITLOG_CRC_ARM 1
#endif

namespace commitlog {
namespace crc32c {
namespace {

constexpr uint32_t kPoly = 0x82f63b78u;  // reflected Castagnoli polynomial

struct Tables {
  uint32_t t[8][256];
};

constexpr Tables MakeTables() {
  Tables tb{};
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
    tb.t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; i++) {
    for (int s = 1; s < 8; s++) {
      uint32_t prev = tb.t[s - 1][i];
      tb.t[s][i] = (prev >> 8) ^ tb.t[0][prev & 0xff];
    }
  }
  return tb;
}

constexpr Tables kTables = MakeTables();

// Combine works on polynomials over GF(2) modulo the CRC polynomial P, held
// the way a reflected CRC register holds them: bit 31 is x^0, bit 0 is x^31.
// crc(A||B) = crc(A) * x^(8 len(B)) + crc(B) mod P (zlib's crc32_combine;
// the pre- and post-inversion of both CRCs cancel out).
constexpr uint32_t kXPow0 = 0x80000000u;

// L * x^32 mod P for L held in a CRC register: what the CRC of four zero
// bytes does to the register, one slicing-by-4 step.
constexpr uint32_t MulX32ModP(uint32_t l) {
  return kTables.t[3][l & 0xff] ^ kTables.t[2][(l >> 8) & 0xff] ^ kTables.t[1][(l >> 16) & 0xff] ^
         kTables.t[0][l >> 24];
}

// a * b mod P: the carry-less product, four bits of a at a time from a table
// of b's 16 multiples (no branches on the random bits of a CRC), then one
// reduction. Bit k of the product is x^(62 - k); shifted by one, its low
// half L and high half H make L * x^32 + H.
constexpr uint32_t MultModPPortable(uint32_t a, uint32_t b) {
  uint64_t m[16] = {};
  for (int i = 1; i < 16; i++) m[i] = (i & 1) ? m[i - 1] ^ b : m[i / 2] << 1;
  uint64_t c = 0;
  for (int i = 0; i < 32; i += 4) c ^= m[(a >> i) & 15] << i;
  c <<= 1;
  return MulX32ModP(static_cast<uint32_t>(c)) ^ static_cast<uint32_t>(c >> 32);
}

// x^(8 * 2^k) mod P for every bit k of a 64-bit length: shifting a CRC over
// len zero bytes multiplies it by the entries of len's set bits.
struct ShiftTable {
  uint32_t x8n[64];
};

constexpr ShiftTable MakeShiftTable() {
  ShiftTable st{};
  st.x8n[0] = kXPow0 >> 8;  // x^8
  for (int k = 1; k < 64; k++) st.x8n[k] = MultModPPortable(st.x8n[k - 1], st.x8n[k - 1]);
  return st;
}

constexpr ShiftTable kShift = MakeShiftTable();
// Below degree 32 squaring only moves the bit; x^32 is the first power P
// reduces, to P without its x^32 term: the reflected polynomial itself.
static_assert(kShift.x8n[1] == kXPow0 >> 16, "x^16");
static_assert(kShift.x8n[2] == kPoly, "x^32 mod P");

inline uint64_t LoadLE64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

#if defined(COMMITLOG_CRC_X86)
__attribute__((target("sse4.2"))) uint32_t ExtendSse42(uint32_t crc, const char* p, size_t n) {
  uint64_t c = ~crc;
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    c = _mm_crc32_u8(static_cast<uint32_t>(c), static_cast<uint8_t>(*p++));
    n--;
  }
  while (n >= 8) {
    c = _mm_crc32_u64(c, LoadLE64(p));
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    c = _mm_crc32_u8(static_cast<uint32_t>(c), static_cast<uint8_t>(*p++));
    n--;
  }
  return ~static_cast<uint32_t>(c);
}

bool DetectHardware() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
}

// ExtendSse42 while copying. No alignment prologue: dst and src are rarely
// aligned alike, and unaligned 8-byte access costs the same on x86.
__attribute__((target("sse4.2"))) uint32_t ExtendCopySse42(uint32_t crc, char* dst, const char* src,
                                                              size_t n) {
  uint64_t c = ~crc;
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, src, 8);
    std::memcpy(dst, &v, 8);
    c = _mm_crc32_u64(c, v);
    src += 8;
    dst += 8;
    n -= 8;
  }
  while (n > 0) {
    *dst = *src++;
    c = _mm_crc32_u8(static_cast<uint32_t>(c), static_cast<uint8_t>(*dst++));
    n--;
  }
  return ~static_cast<uint32_t>(c);
}

// MultModPPortable with the carry-less multiply instruction, and the CRC
// instruction over a zero word for L * x^32 mod P.
__attribute__((target("pclmul,sse4.2"))) uint32_t MultModPClmul(uint32_t a, uint32_t b) {
  __m128i prod = _mm_clmulepi64_si128(_mm_cvtsi32_si128(static_cast<int>(a)),
                                      _mm_cvtsi32_si128(static_cast<int>(b)), 0);
  uint64_t c = static_cast<uint64_t>(_mm_cvtsi128_si64(prod)) << 1;
  return _mm_crc32_u32(static_cast<uint32_t>(c), 0) ^ static_cast<uint32_t>(c >> 32);
}

__attribute__((target("pclmul,sse4.2"))) uint32_t CombineClmul(uint32_t crc_a, uint32_t crc_b,
                                                                 uint64_t len_b) {
  for (int k = 0; len_b != 0; k++, len_b >>= 1) {
    if (len_b & 1) crc_a = MultModPClmul(kShift.x8n[k], crc_a);
  }
  return crc_a ^ crc_b;
}

bool DetectClmul() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("pclmul");
}
#elif defined(COMMITLOG_CRC_ARM)
uint32_t ExtendArm(uint32_t crc, const char* p, size_t n) {
  uint32_t c = ~crc;
  while (n >= 8) {
    c = __crc32cd(c, LoadLE64(p));
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    c = __crc32cb(c, static_cast<uint8_t>(*p++));
    n--;
  }
  return ~c;
}

bool DetectHardware() { return true; }
bool DetectClmul() { return false; }
#else
bool DetectHardware() { return false; }
bool DetectClmul() { return false; }
#endif

const bool kHardware = DetectHardware();
const bool kClmul = DetectClmul();

}  // namespace

uint32_t ExtendPortable(uint32_t crc, const char* p, size_t n) {
  const auto& t = kTables.t;
  uint32_t c = ~crc;
  while (n >= 8) {
    uint64_t v = LoadLE64(p) ^ c;
    c = t[7][v & 0xff] ^ t[6][(v >> 8) & 0xff] ^ t[5][(v >> 16) & 0xff] ^
        t[4][(v >> 24) & 0xff] ^ t[3][(v >> 32) & 0xff] ^ t[2][(v >> 40) & 0xff] ^
        t[1][(v >> 48) & 0xff] ^ t[0][v >> 56];
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    c = t[0][(c ^ static_cast<uint8_t>(*p++)) & 0xff] ^ (c >> 8);
    n--;
  }
  return ~c;
}

uint32_t Extend(uint32_t crc, const char* data, size_t n) {
#if defined(COMMITLOG_CRC_X86)
  if (kHardware) return ExtendSse42(crc, data, n);
#elif defined(COMMITLOG_CRC_ARM)
  return ExtendArm(crc, data, n);
#endif
  return ExtendPortable(crc, data, n);
}

uint32_t ExtendCopy(uint32_t crc, char* dst, const char* src, size_t n) {
#if defined(COMMITLOG_CRC_X86)
  if (kHardware) return ExtendCopySse42(crc, dst, src, n);
#endif
  // A separate pass still reads back what was stored, not src.
  if (n > 0) std::memcpy(dst, src, n);
  return Extend(crc, dst, n);
}

uint32_t CombinePortable(uint32_t crc_a, uint32_t crc_b, uint64_t len_b) {
  for (int k = 0; len_b != 0; k++, len_b >>= 1) {
    if (len_b & 1) crc_a = MultModPPortable(kShift.x8n[k], crc_a);
  }
  return crc_a ^ crc_b;
}

uint32_t Combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b) {
#if defined(COMMITLOG_CRC_X86)
  if (kClmul) return CombineClmul(crc_a, crc_b, len_b);
#endif
  return CombinePortable(crc_a, crc_b, len_b);
}

bool IsHardwareAccelerated() { return kHardware; }

}  // namespace crc32c
}  // namespace commitlog
