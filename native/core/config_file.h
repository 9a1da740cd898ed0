// Power-loss-safe persistence of small whole files (configs, offsets,
// metrics), the design of RocketMQ issue #9705: the new content goes to a
// temp file that is forced to disk; the previous good version is kept as
// <name>.bak; the temp file is renamed over <name>; the directory is forced.
// Deciding whether content is *valid* is the caller's job (it knows the
// format); these functions only move bytes and names, durably.
#ifndef COMMITLOG_CORE_CONFIG_FILE_H_
#define COMMITLOG_CORE_CONFIG_FILE_H_

#include <cstddef>
#include <string>

#include "io.h"
#include "status.h"

namespace commitlog {

// The file a path designates: a symbolic link is followed, so that saving
// through a link replaces its target and keeps the link. A path that does
// not exist yet resolves through its directory.
Status ResolveTarget(Io* io, const std::string& path, std::string* target);

// Permission bits for a replacement of target: the current file's, or
// default_mode for a new file.
Status ModeFor(Io* io, const std::string& target, int default_mode, int* mode);

// Atomic durable replace without a backup (writeFileDurable).
Status WriteFileDurable(Io* io, const std::string& path, const char* data, size_t n,
                        int default_mode);

// The save protocol, in two calls so that the caller knows on which side of
// the rename a failure fell (ConfigFile's fail-stop rule, lib/config.ts).
// The caller holds the target's lock (LockFile) across both.
//
// ReplaceWithBackup, steps 1-3: writes the new content to a temp file and
// fdatasyncs it; when backup_current (the caller validated the current file),
// makes the current file <target>.bak through link + rename, so that a valid
// file exists under <target> at every instant (otherwise .bak is left alone,
// so a corrupt file can never replace a good backup); renames the temp file
// onto <target>. On success the new content is visible, not yet durable. On
// failure <target> is the file it was (after a failed final rename, .bak may
// already be another name for it) and the temp file is removed, unless that
// unlink fails too; CommitSave of a later save removes it then.
Status ReplaceWithBackup(Io* io, const std::string& target, const char* data, size_t n, int mode,
                         bool backup_current);

// Step 4: fsyncs the directory, which makes the renames of step 2 and 3
// durable. Then, with sweep, removes what earlier failed saves or crashes
// left (<target>.tmp-* and <target>.bak.tmp: under the lock no other save is
// in flight), best effort; sweep costs a directory listing, so the caller
// asks for it only when there may be some. On failure the new content is in
// place but not known to be durable.
Status CommitSave(Io* io, const std::string& target, bool sweep);

// fdatasyncs path and fsyncs its directory: makes a file that the caller is
// about to rely on durable, content and name (load() does it for the copy it
// returns, save() for a current file it did not make durable itself).
Status SyncFileAndDir(Io* io, const std::string& path);

// Renames from onto to (replacing it) and forces the directory: used to move
// a corrupt file aside, or to promote a surviving temp file.
Status MoveDurable(Io* io, const std::string& from, const std::string& to);

// Removal, in two calls for the same reason as the save (the caller holds
// the lock across both, and CommitSave(target, false) after each makes it
// durable). RemoveCopies(target, false) unlinks what load() falls back on
// when <target> is missing: <target>.bak, <target>.bak.tmp and temp files;
// RemoveCopies(target, true) unlinks <target> itself. In that order, each
// step made durable before the next, because a power loss reverts each name
// on its own: <target> gone but .bak back would bring back an older value.
// Names already gone are not an error. The lock file stays (see lib/config.ts).
Status RemoveCopies(Io* io, const std::string& target, bool main);

// Makes `dir` exist, durably: mkdir (an existing directory is fine), then an
// fsync of it and of its parent, also when it existed (the process that made
// it may have died before syncing it).
Status MakeDirDurable(Io* io, const std::string& dir, int mode);

// The checksum envelope of ConfigFile's `checksum` option (docs/FORMAT.md):
// magic, version, length and masked CRC32C before the content.
static constexpr size_t kEnvelopeHeaderSize = 16;
std::string WrapChecked(const char* payload, size_t n);
// True when bytes[0, n) is one complete, intact envelope; its content is
// then bytes[kEnvelopeHeaderSize, n). Otherwise *reason says what is wrong.
bool UnwrapChecked(const char* bytes, size_t n, std::string* reason);

// Takes <target>.lock exclusively, waiting for other processes. *fd holds it
// until UnlockFile.
Status LockFile(Io* io, const std::string& target, uint32_t mode, int* fd);
void UnlockFile(Io* io, int fd);

}  // namespace commitlog

#endif  // COMMITLOG_CORE_CONFIG_FILE_H_
