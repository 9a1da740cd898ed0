// Read-only inspection of log files for tests and tools (inspect.cc).
#ifndef COMMITLOG_BINDING_INSPECT_H_
#define COMMITLOG_BINDING_INSPECT_H_

#include <napi.h>

namespace commitlog {

struct RecoveryReport;

void RegisterInspectExports(Napi::Env env, Napi::Object exports);

// `log.recovery` as JavaScript sees it; an examination's plans add their own
// fields to the same object.
Napi::Object RecoveryReportToJs(Napi::Env env, const RecoveryReport& r);

}  // namespace commitlog

#endif  // COMMITLOG_BINDING_INSPECT_H_
