#include "crc32c.h"

#include <algorithm>
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
// The word at src + i, also stored at dst + i when copying: the CRC is then
// computed from the value stored, loaded once.
template <bool kCopy>
inline uint64_t TakeWord(char* dst, const char* src, size_t i) {
  uint64_t v;
  std::memcpy(&v, src + i, 8);
  if (kCopy) std::memcpy(dst + i, &v, 8);
  return v;
}

// The next sizeof(W) bytes of a tail, as TakeWord, advancing both pointers.
template <typename W, bool kCopy>
inline W TakeTail(char** dst, const char** src) {
  W v;
  std::memcpy(&v, *src, sizeof(W));
  if (kCopy) std::memcpy(*dst, &v, sizeof(W));
  *src += sizeof(W);
  if (kCopy) *dst += sizeof(W);
  return v;
}

// One crc32 instruction after another over src[i, n), each waiting for the
// last (3 cycles each). No alignment prologue: dst and src are rarely aligned
// alike, and unaligned 8-byte access costs the same on x86. A tail of under
// a word takes at most three instructions, not one per byte.
template <bool kCopy>
__attribute__((target("sse4.2"))) inline uint64_t ChainSse42(uint64_t c, char* dst,
                                                             const char* src, size_t i,
                                                             size_t n) {
  src += i;
  if (kCopy) dst += i;
  size_t left = n - i;
  for (; left >= 8; left -= 8) {
    c = _mm_crc32_u64(c, TakeWord<kCopy>(dst, src, 0));
    src += 8;
    if (kCopy) dst += 8;
  }
  if (left == 0) return c;
  if (left & 4) c = _mm_crc32_u32(static_cast<uint32_t>(c), TakeTail<uint32_t, kCopy>(&dst, &src));
  if (left & 2) c = _mm_crc32_u16(static_cast<uint32_t>(c), TakeTail<uint16_t, kCopy>(&dst, &src));
  if (left & 1) {
    uint8_t v = static_cast<uint8_t>(*src);
    if (kCopy) *dst = static_cast<char>(v);
    c = _mm_crc32_u8(static_cast<uint32_t>(c), v);
  }
  return c;
}

template <bool kCopy>
__attribute__((target("sse4.2"))) uint32_t ExtendSse42(uint32_t crc, char* dst, const char* src,
                                                       size_t n) {
  return ~static_cast<uint32_t>(ChainSse42<kCopy>(~crc, dst, src, 0, n));
}

bool DetectHardware() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
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

// Three lanes. crc32 has a latency of 3 cycles and a throughput of one per
// cycle, so one chain uses a third of it: three chains over three adjacent
// lanes of equal length run at once, and are folded into one at the end.
// The fold costs a carry-less multiply and a crc32 in sequence (about 12
// cycles on the Ice Lake-class core measured, up to 20 where pclmulqdq
// takes 14). There it pays from about 72 bytes, each call extending the
// last CRC as Add does; 96 leaves room for slower multipliers. Lanes of
// kLaneWordsMax words make the fold 3% of a round: twice as long gained
// under 2% at 64 KiB.
constexpr size_t kLanes = 3;
constexpr size_t kInterleaveBytesMin = 96;
constexpr size_t kLaneWordsMax = 128;
static_assert(kInterleaveBytesMin >= kLanes * 8, "every lane has a word");

// over[w][j - 1] is x^(64 w j - 33) mod P: what shifts a lane's register
// over j lanes of w words in FoldLanes. Lanes one word longer are 64 bits
// longer, so each entry is the one before it times x^64 or x^128.
struct LaneShiftTable {
  uint32_t over[kLaneWordsMax + 1][2];
};

constexpr LaneShiftTable MakeLaneShiftTable() {
  LaneShiftTable t{};
  t.over[1][0] = kXPow0 >> 31;                                    // x^31
  t.over[1][1] = MultModPPortable(t.over[1][0], kShift.x8n[3]);  // x^95
  for (size_t w = 2; w <= kLaneWordsMax; w++) {
    t.over[w][0] = MultModPPortable(t.over[w - 1][0], kShift.x8n[3]);
    t.over[w][1] = MultModPPortable(t.over[w - 1][1], kShift.x8n[4]);
  }
  return t;
}

constexpr LaneShiftTable kLaneShift = MakeLaneShiftTable();
// x^95 and x^223 mod P, as published with Intel's CRC32C white paper.
static_assert(kLaneShift.over[1][1] == 0x493c7d27u, "x^95 mod P");
static_assert(kLaneShift.over[2][1] == 0xba4fc28eu, "x^223 mod P");
static_assert(kLaneShift.over[4][0] == 0xba4fc28eu, "x^223 mod P");

// The register after three lanes of w words, from the register after lane 0
// and those of lanes 1 and 2 run from zero: lane 0's shifted over two lanes,
// lane 1's over one, plus lane 2's (crc(A||B) = crc(A) * x^(8 len(B)) +
// crc(B), as in Combine). The carry-less product a * b read as a word is
// a * b * x (its bit k is x^(62 - k), a word's bit k is x^(63 - k)), and
// crc32 of a word from a zero register multiplies it by x^32: hence the
// x^-33 in the table. One crc32 reduces both products: it is linear.
__attribute__((target("pclmul,sse4.2"))) inline __m128i Clmul32(uint64_t a, uint32_t b) {
  return _mm_clmulepi64_si128(_mm_cvtsi32_si128(static_cast<int>(static_cast<uint32_t>(a))),
                              _mm_cvtsi32_si128(static_cast<int>(b)), 0);
}

__attribute__((target("pclmul,sse4.2"))) inline uint64_t FoldLanes(uint64_t c0, uint64_t c1,
                                                                    uint64_t c2, size_t w) {
  __m128i q0 = Clmul32(c0, kLaneShift.over[w][1]);
  __m128i q1 = Clmul32(c1, kLaneShift.over[w][0]);
  uint64_t q = static_cast<uint64_t>(_mm_cvtsi128_si64(_mm_xor_si128(q0, q1)));
  return _mm_crc32_u64(0, q) ^ c2;
}

// ChainSse42 in three lanes while at least kInterleaveBytesMin bytes are
// left: rounds of kLaneWordsMax-word lanes, then a round of lanes as long as
// what is left allows, then one chain over the rest.
template <bool kCopy>
__attribute__((target("pclmul,sse4.2"))) uint32_t ExtendInterleaved(uint32_t crc, char* dst,
                                                                     const char* src, size_t n) {
  uint64_t c = ~crc;
  size_t i = 0;
  while (n - i >= kInterleaveBytesMin) {
    size_t w = std::min((n - i) / (kLanes * 8), kLaneWordsMax);
    size_t lane = 8 * w;
    uint64_t c1 = 0;
    uint64_t c2 = 0;
    for (size_t end = i + lane; i < end; i += 8) {
      c = _mm_crc32_u64(c, TakeWord<kCopy>(dst, src, i));
      c1 = _mm_crc32_u64(c1, TakeWord<kCopy>(dst, src, i + lane));
      c2 = _mm_crc32_u64(c2, TakeWord<kCopy>(dst, src, i + 2 * lane));
    }
    c = FoldLanes(c, c1, c2, w);
    i += 2 * lane;
  }
  return ~static_cast<uint32_t>(ChainSse42<kCopy>(c, dst, src, i, n));
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
  if (n >= kInterleaveBytesMin && kClmul) return ExtendInterleaved<false>(crc, nullptr, data, n);
  if (kHardware) return ExtendSse42<false>(crc, nullptr, data, n);
#elif defined(COMMITLOG_CRC_ARM)
  return ExtendArm(crc, data, n);
#endif
  return ExtendPortable(crc, data, n);
}

uint32_t ExtendCopy(uint32_t crc, char* dst, const char* src, size_t n) {
#if defined(COMMITLOG_CRC_X86)
  if (n >= kInterleaveBytesMin && kClmul) return ExtendInterleaved<true>(crc, dst, src, n);
  if (kHardware) return ExtendSse42<true>(crc, dst, src, n);
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
