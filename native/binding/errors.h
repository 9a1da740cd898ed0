// The one place where a core Status becomes a JS error. Every error the
// addon raises or rejects with, including argument errors, is a Status first.
#ifndef COMMITLOG_BINDING_ERRORS_H_
#define COMMITLOG_BINDING_ERRORS_H_

#include <napi.h>

#include "../core/status.h"

namespace commitlog {

// Stores the JS LogError class that ToJsError instantiates (better-sqlite3's
// approach: errors are made by a JS class, so `instanceof` works).
void SetErrorClass(Napi::Env env, Napi::Function cls);

// Builds the JS error for a failed Status, like Node's fs errors:
//  - `code`: a libuv name for system errors ('EIO', 'ENOSPC', 'ENOMEM', ...)
//    or one of ours ('ERR_LOG_CORRUPT', 'ERR_LOG_CLOSED', ...);
//  - `errno` (negative), `syscall`, `path`, `offset` where they apply;
//  - `step`: the failed step ("roll: fsync directory"), also the message's
//    prefix, where one was named (Status::WithStep);
//  - for ERR_LOG_FAILED, `cause`: the system error that stopped the log;
//  - a TypeError with code ERR_INVALID_ARG_TYPE (kInvalidArgType), a
//    RangeError with ERR_OUT_OF_RANGE (kOutOfRange) or ERR_INVALID_ARG_VALUE
//    (kInvalidArgument), as Node's own argument errors; a LogError otherwise.
// Empty if the environment is being torn down (see CanRunJs in addon.h).
Napi::Error ToJsError(Napi::Env env, const Status& status);

// Throws ToJsError(env, status) into JavaScript; returns undefined for the
// caller to return.
Napi::Value ThrowJs(Napi::Env env, const Status& status);

// A promise already rejected with ToJsError(env, status).
Napi::Value RejectedPromise(Napi::Env env, const Status& status);

}  // namespace commitlog

#endif  // COMMITLOG_BINDING_ERRORS_H_
