// The one place where a core Status becomes a JS error.
#ifndef COMMITLOG_BINDING_ERRORS_H_
#define COMMITLOG_BINDING_ERRORS_H_

#include <napi.h>

#include "../core/status.h"

namespace commitlog {

// Stores the JS LogError class that ToJsError instantiates (better-sqlite3's
// approach: errors are made by a JS class, so `instanceof` works).
void SetErrorClass(Napi::Env env, Napi::Function cls);

// Builds an error whose `code` is a libuv name for system errors ('EIO',
// 'ENOSPC', ...) or one of ours ('ERR_LOG_CORRUPT', ...), with errno,
// syscall, path and offset where they apply, like Node's fs errors. Empty
// if the environment is being torn down (see CanRunJs in addon.h).
Napi::Error ToJsError(Napi::Env env, const Status& status);

// Same, from a code and message of our own.
Napi::Error MakeError(Napi::Env env, const char* code, const std::string& message);

}  // namespace commitlog

#endif  // COMMITLOG_BINDING_ERRORS_H_
