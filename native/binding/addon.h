// Per-environment state of the addon (main thread and each worker thread
// that loads it get their own).
#ifndef COMMITLOG_BINDING_ADDON_H_
#define COMMITLOG_BINDING_ADDON_H_

#include <napi.h>

#include <set>

#include "../core/io.h"

namespace commitlog {

// The Io every operation uses: the real one, or in the test addon
// (COMMITLOG_FAULT_INJECTION) a FaultIo wrapping it.
Io* BindingIo();

// False once the environment is being torn down (worker.terminate(), or the
// process exiting): JavaScript can no longer run there, so a callback must
// not build values, settle promises or call functions; every such call would
// fail. Checked on entry of every callback the event loop (not JavaScript)
// starts: thread-safe function calls and async work completions. The addon
// is also built with NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS, so that a call
// that fails anyway (teardown began midway) is not turned into a fatal
// error, and code that uses a value it built checks IsEmpty() first.
// Entry points that create promises or errors check it first: a call made
// while worker.terminate() tears the environment down would otherwise make
// node-addon-api create an error there, which aborts the process. They then
// return nothing; the JavaScript that called them does not run on.
bool CanRunJs(Napi::Env env);

// JavaScript truthiness of v; false if it cannot be had. Not
// v.ToBoolean().Value(): once worker.terminate() has begun, ToBoolean fails
// and returns an empty Boolean, whose Value() then reports that failure
// through a null env, which node-addon-api makes a fatal error (an abort,
// seen in test/log.worker.test.ts). The same holds for any call chained on
// a value that may be empty.
bool Truthy(const Napi::Value& v);

struct AddonData {
  Napi::FunctionReference error_class;
  Napi::FunctionReference log_handle_ctor;
  Napi::FunctionReference reader_handle_ctor;
  // ConfigFile lock fds that JavaScript holds: lockFile() resolved and
  // unlockFile() not called yet. A worker terminated between the two never
  // unlocks, and the flock, held by the whole process, would block every
  // later save of that file; so whatever is left is unlocked when the
  // environment goes away. JS thread only.
  std::set<int> held_locks;

  AddonData() = default;
  AddonData(const AddonData&) = delete;
  AddonData& operator=(const AddonData&) = delete;
  ~AddonData();

  static AddonData* Get(Napi::Env env) { return env.GetInstanceData<AddonData>(); }
};

}  // namespace commitlog

#endif  // COMMITLOG_BINDING_ADDON_H_
