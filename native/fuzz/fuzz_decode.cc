// libFuzzer target: the pure decoders (batch header + frames, checkpoint)
// on arbitrary bytes. Must never crash, read out of bounds, or accept bytes
// whose checksum does not match; and the CRC they rely on agrees with the
// portable one on those bytes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "../core/batch.h"
#include "../core/checkpoint.h"
#include "../core/crc32c.h"
#include "../core/coding.h"
#include "../core/log_format.h"

using namespace commitlog;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* p = reinterpret_cast<const char*>(data);
  for (size_t off = 0; off < size; off += 512) {
    BatchHeader h;
    if (DecodeBatch(p + off, size - off, &h) == BatchState::kValid) {
      // Pair assertion: what decodes as valid carries a matching CRC and
      // frames that add up, all inside the input.
      size_t used = h.used();
      if (used > size - off) abort();
      uint32_t crc = crc32c::Mask(crc32c::Value(p + off + 4, used - 4));
      if (crc != h.crc) abort();
      if (!CheckFrames(p + off + h.header_len, h.payload_len, h.count)) abort();
      if (h.commit_seq > h.base_seq) abort();
    }
  }
  Checkpoint cp;
  DecodeCheckpoint(std::string(p, size), &cp);
  // Extend and ExtendCopy (three lanes from 96 bytes) against the table:
  // the first byte picks the misalignments, the next four the initial CRC.
  size_t src_off = size > 0 ? std::min<size_t>(data[0] & 15, size) : 0;
  size_t dst_off = size > 0 ? data[0] >> 4 : 0;
  uint32_t init = size >= 5 ? DecodeFixed32(p + 1) : 0;
  size_t n = size - src_off;
  uint32_t want = crc32c::ExtendPortable(init, p + src_off, n);
  if (crc32c::Extend(init, p + src_off, n) != want) abort();
  std::string dst(dst_off + n, '\0');
  if (crc32c::ExtendCopy(init, &dst[dst_off], p + src_off, n) != want) abort();
  if (dst.compare(dst_off, n, p + src_off, n) != 0) abort();
  return 0;
}
