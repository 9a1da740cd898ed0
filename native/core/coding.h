// Little-endian fixed-width encoding. Every multi-byte field on disk is
// little-endian (docs/FORMAT.md); these helpers make that independent of the
// host's byte order.
#ifndef COMMITLOG_CORE_CODING_H_
#define COMMITLOG_CORE_CODING_H_

#include <cstdint>

namespace commitlog {

inline void EncodeFixed16(char* dst, uint16_t v) {
  auto* p = reinterpret_cast<uint8_t*>(dst);
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}

inline void EncodeFixed32(char* dst, uint32_t v) {
  auto* p = reinterpret_cast<uint8_t*>(dst);
  for (int i = 0; i < 4; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

inline void EncodeFixed64(char* dst, uint64_t v) {
  auto* p = reinterpret_cast<uint8_t*>(dst);
  for (int i = 0; i < 8; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

inline uint16_t DecodeFixed16(const char* src) {
  auto* p = reinterpret_cast<const uint8_t*>(src);
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}

inline uint32_t DecodeFixed32(const char* src) {
  auto* p = reinterpret_cast<const uint8_t*>(src);
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

inline uint64_t DecodeFixed64(const char* src) {
  auto* p = reinterpret_cast<const uint8_t*>(src);
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

}  // namespace commitlog

#endif  // COMMITLOG_CORE_CODING_H_
