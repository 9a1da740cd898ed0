// Durable whole-file replacement: the new content is written to a temp file
// in the same directory, forced to disk, renamed over the target, and the
// directory is forced so that the rename itself survives power loss. At
// every instant, and after a power loss, the target holds either the old or
// the new content.
#ifndef COMMITLOG_CORE_ATOMIC_FILE_H_
#define COMMITLOG_CORE_ATOMIC_FILE_H_

#include <cstddef>
#include <string>

#include "io.h"
#include "status.h"

namespace commitlog {

// A new temp name for target: <target>.tmp-<pid>-<n>, which IsTempFor knows.
std::string TempPathFor(const std::string& target);

// Creates <dir>/<name>.tmp-<unique> exclusively with `mode`, writes `data`
// and fdatasyncs it. On success *tmp_path names it; on failure it is
// removed, unless that unlink fails too (callers sweep leftovers with
// IsTempFor: log recovery, ConfigFile's CommitSave and load()).
Status WriteTempDurable(Io* io, const std::string& target, const char* data, size_t n,
                        int mode, std::string* tmp_path);

// WriteTempDurable, then rename onto target, then fsync the directory. A
// failure up to the rename leaves target as it was, durable if it was, and
// removes the temp file (unless that unlink fails too). A failure of the
// directory fsync, the last step, leaves the new content as target: visible,
// but after a power loss target may hold the old or the new content.
Status ReplaceFileDurable(Io* io, const std::string& target, const char* data, size_t n,
                          int mode);

// Reads a whole file. ENOENT comes back as an IoError with that errno.
Status ReadWholeFile(Io* io, const std::string& path, std::string* out);

// True when name is a temp file that WriteTempDurable made for target_base.
bool IsTempFor(const std::string& name, const std::string& target_base);

}  // namespace commitlog

#endif  // COMMITLOG_CORE_ATOMIC_FILE_H_
