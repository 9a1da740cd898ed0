// Exports of the durable file replace and of ConfigFile's save protocol.
#include <napi.h>

#include <memory>
#include <string>

#include "../core/config_file.h"
#include "addon.h"
#include "errors.h"
#include "workers.h"

namespace commitlog {
namespace {

bool Bytes(const Napi::Value& v, std::string* out) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) return false;
  Napi::Uint8Array a = v.As<Napi::Uint8Array>();
  // Copied: the caller may change its buffer while the pool thread writes.
  out->assign(reinterpret_cast<const char*>(a.Data()), a.ByteLength());
  return true;
}

Napi::Value Fail(Napi::Env env, const char* usage) { return ThrowJs(env, Status::InvalidArgType(usage)); }

int ModeArg(const Napi::Value& v) {
  return v.IsNumber() ? static_cast<int>(v.As<Napi::Number>().Uint32Value() & 07777) : 0600;
}

// writeFileDurable(path, bytes, defaultMode) -> Promise<void>
Napi::Value WriteFileDurableJs(const Napi::CallbackInfo& info) {
  if (!CanRunJs(info.Env())) return Napi::Value();  // see addon.h
  auto data = std::make_shared<std::string>();
  if (!info[0].IsString() || !Bytes(info[1], data.get())) return Fail(info.Env(), "writeFileDurable(path, bytes, mode)");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int mode = ModeArg(info[2]);
  auto* w = new TaskWorker(info.Env(), "commitlog.writeFileDurable", [path, data, mode] {
    return WriteFileDurable(BindingIo(), path, data->data(), data->size(), mode);
  });
  return w->Queue();
}

// configResolve(path, defaultMode) -> Promise<{ target, mode }>
Napi::Value ConfigResolve(const Napi::CallbackInfo& info) {
  if (!CanRunJs(info.Env())) return Napi::Value();  // see addon.h
  if (!info[0].IsString()) return Fail(info.Env(), "configResolve(path, mode)");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int default_mode = ModeArg(info[1]);
  auto target = std::make_shared<std::string>();
  auto mode = std::make_shared<int>(default_mode);
  auto* w = new TaskWorker(
      info.Env(), "commitlog.configResolve",
      [path, default_mode, target, mode] {
        Status s = ResolveTarget(BindingIo(), path, target.get());
        if (s.ok()) s = ModeFor(BindingIo(), *target, default_mode, mode.get());
        return s;
      },
      [target, mode](Napi::Env env) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("target", *target);
        o.Set("mode", *mode);
        return o;
      });
  return w->Queue();
}

// configSave(target, bytes, mode, backupCurrent) -> Promise<void>: steps 1-3
// of a save (the new content visible, not yet durable); configCommit is the
// last. Two calls, so that the caller knows whether a failure came after the
// rename.
Napi::Value ConfigSave(const Napi::CallbackInfo& info) {
  if (!CanRunJs(info.Env())) return Napi::Value();  // see addon.h
  auto data = std::make_shared<std::string>();
  if (!info[0].IsString() || !Bytes(info[1], data.get())) return Fail(info.Env(), "configSave(target, bytes, mode, backup)");
  std::string target = info[0].As<Napi::String>().Utf8Value();
  int mode = ModeArg(info[2]);
  bool backup = Truthy(info[3]);
  auto* w = new TaskWorker(info.Env(), "commitlog.configSave", [target, data, mode, backup] {
    return ReplaceWithBackup(BindingIo(), target, data->data(), data->size(), mode, backup);
  });
  return w->Queue();
}

// configCommit(target, sweep) -> Promise<void>: the directory fsync that
// makes a save durable, then (with sweep) removal of leftovers of failed saves.
Napi::Value ConfigCommit(const Napi::CallbackInfo& info) {
  if (!CanRunJs(info.Env())) return Napi::Value();  // see addon.h
  if (!info[0].IsString()) return Fail(info.Env(), "configCommit(target, sweep)");
  std::string target = info[0].As<Napi::String>().Utf8Value();
  bool sweep = Truthy(info[1]);
  auto* w = new TaskWorker(info.Env(), "commitlog.configCommit",
                           [target, sweep] { return CommitSave(BindingIo(), target, sweep); });
  return w->Queue();
}

// configSyncFile(path) -> Promise<void>: fdatasync of the file, fsync of its
// directory.
Napi::Value ConfigSyncFile(const Napi::CallbackInfo& info) {
  if (!CanRunJs(info.Env())) return Napi::Value();  // see addon.h
  if (!info[0].IsString()) return Fail(info.Env(), "configSyncFile(path)");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  auto* w = new TaskWorker(info.Env(), "commitlog.configSyncFile", [path] { return SyncFileAndDir(BindingIo(), path); });
  return w->Queue();
}

// configRemove(target, main) -> Promise<void>: one of the two unlink steps
// of ConfigFile.remove(); configCommit(target, false) makes each durable.
Napi::Value ConfigRemove(const Napi::CallbackInfo& info) {
  if (!CanRunJs(info.Env())) return Napi::Value();  // see addon.h
  if (!info[0].IsString()) return Fail(info.Env(), "configRemove(target, main)");
  std::string target = info[0].As<Napi::String>().Utf8Value();
  bool main = Truthy(info[1]);
  auto* w = new TaskWorker(info.Env(), "commitlog.configRemove",
                           [target, main] { return RemoveCopies(BindingIo(), target, main); });
  return w->Queue();
}

// makeDirDurable(path, mode) -> Promise<void>
Napi::Value MakeDirDurableJs(const Napi::CallbackInfo& info) {
  if (!CanRunJs(info.Env())) return Napi::Value();  // see addon.h
  if (!info[0].IsString()) return Fail(info.Env(), "makeDirDurable(path, mode)");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int mode = info[1].IsNumber() ? static_cast<int>(info[1].As<Napi::Number>().Uint32Value() & 07777) : 0700;
  auto* w = new TaskWorker(info.Env(), "commitlog.makeDirDurable",
                           [path, mode] { return MakeDirDurable(BindingIo(), path, mode); });
  return w->Queue();
}

// moveDurable(from, to) -> Promise<void>
Napi::Value MoveDurableJs(const Napi::CallbackInfo& info) {
  if (!CanRunJs(info.Env())) return Napi::Value();  // see addon.h
  if (!info[0].IsString() || !info[1].IsString()) return Fail(info.Env(), "moveDurable(from, to)");
  std::string from = info[0].As<Napi::String>().Utf8Value();
  std::string to = info[1].As<Napi::String>().Utf8Value();
  auto* w = new TaskWorker(info.Env(), "commitlog.moveDurable", [from, to] { return MoveDurable(BindingIo(), from, to); });
  return w->Queue();
}

// lockFile(target, mode) -> Promise<fd>; waits for other processes' saves.
Napi::Value LockFileJs(const Napi::CallbackInfo& info) {
  if (!CanRunJs(info.Env())) return Napi::Value();  // see addon.h
  if (!info[0].IsString() || !info[1].IsNumber()) return Fail(info.Env(), "lockFile(target, mode)");
  std::string target = info[0].As<Napi::String>().Utf8Value();
  uint32_t mode = info[1].As<Napi::Number>().Uint32Value() & 07777;
  auto fd = std::make_shared<int>(-1);
  auto* w = new TaskWorker(
      info.Env(), "commitlog.lockFile",
      [target, mode, fd] { return LockFile(BindingIo(), target, mode, fd.get()); },
      [fd](Napi::Env env) -> Napi::Value {
        // Held by JavaScript from here on; see AddonData::held_locks.
        AddonData::Get(env)->held_locks.insert(*fd);
        return Napi::Number::New(env, *fd);
      },
      // Taken while the environment was being torn down: nobody will unlock it.
      [fd] { UnlockFile(BindingIo(), *fd); });
  return w->Queue();
}

// unlockFile(fd): only a fd that lockFile() gave and that is still held.
Napi::Value UnlockFileJs(const Napi::CallbackInfo& info) {
  if (!CanRunJs(info.Env())) return Napi::Value();  // see addon.h
  if (info[0].IsNumber()) {
    int fd = info[0].As<Napi::Number>().Int32Value();
    if (AddonData::Get(info.Env())->held_locks.erase(fd) == 1) UnlockFile(BindingIo(), fd);
  }
  return info.Env().Undefined();
}

// configWrap(bytes) -> Buffer: the content inside a checksum envelope.
Napi::Value ConfigWrap(const Napi::CallbackInfo& info) {
  std::string data;
  if (!Bytes(info[0], &data)) return Fail(info.Env(), "configWrap(bytes)");
  std::string out = WrapChecked(data.data(), data.size());
  return Napi::Buffer<char>::Copy(info.Env(), out.data(), out.size());
}

// configUnwrap(bytes) -> undefined if intact (content starts at byte 16),
// else the reason it is not.
Napi::Value ConfigUnwrap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    return Fail(env, "configUnwrap(bytes)");
  }
  Napi::Uint8Array a = info[0].As<Napi::Uint8Array>();
  std::string reason;
  if (UnwrapChecked(reinterpret_cast<const char*>(a.Data()), a.ByteLength(), &reason)) return env.Undefined();
  return Napi::String::New(env, reason);
}

}  // namespace

void RegisterConfigExports(Napi::Env env, Napi::Object exports) {
  exports.Set("writeFileDurable", Napi::Function::New(env, WriteFileDurableJs, "writeFileDurable"));
  exports.Set("configResolve", Napi::Function::New(env, ConfigResolve, "configResolve"));
  exports.Set("configSave", Napi::Function::New(env, ConfigSave, "configSave"));
  exports.Set("configCommit", Napi::Function::New(env, ConfigCommit, "configCommit"));
  exports.Set("configSyncFile", Napi::Function::New(env, ConfigSyncFile, "configSyncFile"));
  exports.Set("configRemove", Napi::Function::New(env, ConfigRemove, "configRemove"));
  exports.Set("makeDirDurable", Napi::Function::New(env, MakeDirDurableJs, "makeDirDurable"));
  exports.Set("moveDurable", Napi::Function::New(env, MoveDurableJs, "moveDurable"));
  exports.Set("lockFile", Napi::Function::New(env, LockFileJs, "lockFile"));
  exports.Set("unlockFile", Napi::Function::New(env, UnlockFileJs, "unlockFile"));
  exports.Set("configWrap", Napi::Function::New(env, ConfigWrap, "configWrap"));
  exports.Set("configUnwrap", Napi::Function::New(env, ConfigUnwrap, "configUnwrap"));
}

}  // namespace commitlog
