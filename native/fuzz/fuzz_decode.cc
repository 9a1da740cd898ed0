// libFuzzer target: the pure decoders (batch header + frames, checkpoint)
// on arbitrary bytes. Must never crash, read out of bounds, or accept bytes
// whose checksum does not match.
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
  return 0;
}
