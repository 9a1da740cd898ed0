// Recycling: segments that left the log (truncateBefore, retention) become
// new segments instead of being unlinked, so that the preparer need not
// zero-fill a fresh file (RocksDB's recycle_log_file_num, PostgreSQL's WAL
// recycling). The old batches stay in the file. docs/FORMAT.md, "Recycled
// segments", says why none of them is ever read as a record, as proof, or as
// damage: every record in a recycled file is below the CHECKPOINT's
// first_seq, made durable before the file was renamed, and every number the
// log hands out later is at or above it.
//
// Only segments wholly below that durable first_seq may be recycled: never
// what truncateFrom drops (its numbers are handed out again, so its batches
// could continue the log) nor a segment recovery deletes.
//
// The life of a recycled file: Log::DeleteSegmentsBefore renames the segment
// to RecycledSegmentPath (Committer::Recycle) once first_seq is durable, the
// preparer makes it ready (ReuseSegmentFile), and a roll renames it to the
// new segment's name, as it does any prepared file. A crash anywhere leaves a
// prepared-* leftover, which recovery removes, or the old name, which lies
// below first_seq, which recovery removes too.
#ifndef COMMITLOG_CORE_RECYCLE_H_
#define COMMITLOG_CORE_RECYCLE_H_

#include <cstdint>
#include <string>

#include "io.h"
#include "status.h"

namespace commitlog {

// The temporary name of the n-th file this process recycles in `dir`. A
// prepared-* name, so that any open (of this code or of older code) removes
// it as a leftover.
std::string RecycledSegmentPath(const std::string& dir, uint64_t n);

// Whether the segment file at `path` may be reused for segments of
// `segment_bytes`: a regular file of exactly that size (a file that grew
// with its batches is shorter, and is unlinked as before), with the
// permission bits new files get now (`file_mode`) and no other hard link.
// Reads only.
bool QualifiesForReuse(Io* io, const std::string& path, uint64_t segment_bytes, uint32_t file_mode);

// Makes a recycled file ready to be the next segment, as CreateSegmentFile
// makes a new one: zeros over every hole (an unwritten tail a fallocated
// segment kept after its last batch, say), so that appends only overwrite
// written blocks and fdatasync has no metadata to flush, then a sync, so
// that the flusher's syncs cover only its own batches. Never writes more
// than zero-filling a new file would. Fails if the file is no longer
// `segment_bytes` long. The caller unlinks it on failure.
Status ReuseSegmentFile(Io* io, const std::string& path, uint64_t segment_bytes);

}  // namespace commitlog

#endif  // COMMITLOG_CORE_RECYCLE_H_
