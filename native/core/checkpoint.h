// CHECKPOINT: a 48-byte file recording a sequence number below which every
// record was acknowledged, so that recovery can tell a torn tail (never
// acknowledged) from lost acknowledged data. Written on segment roll and on
// close, off the append path, by ReplaceFileDurable. Layout in docs/FORMAT.md.
#ifndef COMMITLOG_CORE_CHECKPOINT_H_
#define COMMITLOG_CORE_CHECKPOINT_H_

#include <cstdint>
#include <string>

#include "io.h"
#include "status.h"

namespace commitlog {

struct Checkpoint {
  uint64_t durable_seq = 0;  // every seq below this was acknowledged
  bool clean = false;        // written by close(): nothing follows tail_end
  uint64_t tail_base = 0;    // with clean: last segment and its end
  uint64_t tail_end = 0;
  uint32_t tail_crc = 0;
};

std::string EncodeCheckpoint(const Checkpoint& cp);
bool DecodeCheckpoint(const std::string& bytes, Checkpoint* cp);

Status WriteCheckpoint(Io* io, const std::string& dir, const Checkpoint& cp);
// *found is false when there is no checkpoint file. A file that fails its
// CRC is reported as kCorruption.
Status ReadCheckpoint(Io* io, const std::string& dir, Checkpoint* cp, bool* found);

}  // namespace commitlog

#endif  // COMMITLOG_CORE_CHECKPOINT_H_
