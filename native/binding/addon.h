// Per-environment state of the addon (main thread and each worker thread
// that loads it get their own).
#ifndef COMMITLOG_BINDING_ADDON_H_
#define COMMITLOG_BINDING_ADDON_H_

#include <napi.h>

#include "../core/io.h"

namespace commitlog {

// The Io every operation uses: the real one, or in the test addon
// (COMMITLOG_FAULT_INJECTION) a FaultIo wrapping it.
Io* BindingIo();


struct AddonData {
  Napi::FunctionReference error_class;
  Napi::FunctionReference log_handle_ctor;

  static AddonData* Get(Napi::Env env) { return env.GetInstanceData<AddonData>(); }
};

}  // namespace commitlog

#endif  // COMMITLOG_BINDING_ADDON_H_
