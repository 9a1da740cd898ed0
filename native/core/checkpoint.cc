#include "checkpoint.h"

#include <cerrno>

#include "atomic_file.h"
#include "coding.h"
#include "crc32c.h"
#include "log_format.h"

namespace commitlog {

using namespace format;

std::string EncodeCheckpoint(const Checkpoint& cp) {
  std::string b(kCheckpointSize, '\0');
  char* p = &b[0];
  EncodeFixed32(p + 4, kCheckpointMagic);
  EncodeFixed16(p + 8, kFormatVersion);
  EncodeFixed16(p + 10, cp.clean ? kCheckpointFlagClean : 0);
  EncodeFixed64(p + 16, cp.durable_seq);
  EncodeFixed64(p + 24, cp.tail_base);
  EncodeFixed64(p + 32, cp.tail_end);
  EncodeFixed32(p + 40, cp.tail_crc);
  EncodeFixed32(p, crc32c::Mask(crc32c::Value(p + 4, kCheckpointSize - 4)));
  return b;
}

bool DecodeCheckpoint(const std::string& b, Checkpoint* cp) {
  if (b.size() != kCheckpointSize) return false;
  const char* p = b.data();
  if (DecodeFixed32(p) != crc32c::Mask(crc32c::Value(p + 4, kCheckpointSize - 4))) return false;
  if (DecodeFixed32(p + 4) != kCheckpointMagic) return false;
  if (DecodeFixed16(p + 8) != kFormatVersion) return false;
  cp->clean = (DecodeFixed16(p + 10) & kCheckpointFlagClean) != 0;
  cp->durable_seq = DecodeFixed64(p + 16);
  cp->tail_base = DecodeFixed64(p + 24);
  cp->tail_end = DecodeFixed64(p + 32);
  cp->tail_crc = DecodeFixed32(p + 40);
  return true;
}

Status WriteCheckpoint(Io* io, const std::string& dir, const Checkpoint& cp) {
  std::string b = EncodeCheckpoint(cp);
  return ReplaceFileDurable(io, JoinPath(dir, kCheckpointName), b.data(), b.size(), 0644);
}

Status ReadCheckpoint(Io* io, const std::string& dir, Checkpoint* cp, bool* found) {
  std::string path = JoinPath(dir, kCheckpointName);
  std::string bytes;
  Status s = ReadWholeFile(io, path, &bytes);
  *found = false;
  if (!s.ok()) {
    if (s.code() == Code::kIoError && s.err() == ENOENT) return Status::OK();
    return s;
  }
  if (!DecodeCheckpoint(bytes, cp)) return Status::Corruption("checkpoint fails its checksum", path, 0);
  *found = true;
  return Status::OK();
}

}  // namespace commitlog
