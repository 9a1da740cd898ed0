// Read-only inspection of log files for tests and tools (inspect.cc).
#ifndef COMMITLOG_BINDING_INSPECT_H_
#define COMMITLOG_BINDING_INSPECT_H_

#include <napi.h>

namespace commitlog {

void RegisterInspectExports(Napi::Env env, Napi::Object exports);

}  // namespace commitlog

#endif  // COMMITLOG_BINDING_INSPECT_H_
