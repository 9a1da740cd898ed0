#include "errors.h"

#include <uv.h>

#include <cassert>

#include "addon.h"

namespace commitlog {

void SetErrorClass(Napi::Env env, Napi::Function cls) {
  AddonData* data = AddonData::Get(env);
  data->error_class = Napi::Persistent(cls);
}

namespace {

const char* CodeOf(const Status& s) {
  switch (s.code()) {
    case Code::kOk: return "OK";
    case Code::kIoError: return uv_err_name(-s.err());
    case Code::kCorruption: return "ERR_LOG_CORRUPT";
    case Code::kLocked: return "ERR_LOG_LOCKED";
    case Code::kClosed: return "ERR_LOG_CLOSED";
    case Code::kFailed: return "ERR_LOG_FAILED";
    case Code::kInvalidArgument: return "ERR_INVALID_ARG_VALUE";
    case Code::kNotFound: return "ERR_LOG_TRUNCATED";
    case Code::kBusy: return "ERR_LOG_BUSY";
    case Code::kInvalidArgType: return "ERR_INVALID_ARG_TYPE";
    case Code::kOutOfRange: return "ERR_OUT_OF_RANGE";
    case Code::kNoMemory: return "ENOMEM";
  }
  return "ERR_UNKNOWN";
}

// The message: "<step>: " then, for system errors, Node's fs style
// ("EIO: i/o error, fdatasync '/path'"), for ERR_LOG_FAILED ours followed
// by the cause's message, else Status::ToString().
std::string MessageOf(const Status& s) {
  std::string step = s.step().empty() ? "" : s.step() + ": ";
  switch (s.code()) {
    case Code::kIoError: {
      std::string m = step + uv_err_name(-s.err()) + ": " + uv_strerror(-s.err()) + ", " + s.syscall();
      if (!s.path().empty()) m += " '" + s.path() + "'";
      return m;
    }
    case Code::kNoMemory:
      return step + "ENOMEM: " + s.message();
    case Code::kFailed:
      return step + s.message() + ": " + MessageOf(*s.cause());
    default:
      return s.ToString();
  }
}

// A LogError (or, before setErrorClass ran, an Error) with `code`.
Napi::Object NewLogError(Napi::Env env, const char* code, const std::string& message, Napi::Value cause) {
  AddonData* data = AddonData::Get(env);
  Napi::Object obj;
  if (data->error_class.IsEmpty()) {
    obj = Napi::Error::New(env, message).Value();
    obj.Set("code", code);
    if (!cause.IsEmpty()) obj.Set("cause", cause);
  } else if (cause.IsEmpty()) {
    obj = data->error_class.New({Napi::String::New(env, message), Napi::String::New(env, code)});
  } else {
    Napi::Object options = Napi::Object::New(env);
    options.Set("cause", cause);
    obj = data->error_class.New({Napi::String::New(env, message), Napi::String::New(env, code), options});
  }
  return obj;
}

}  // namespace

Napi::Error ToJsError(Napi::Env env, const Status& s) {
  assert(!s.ok());
  assert(s.code() != Code::kFailed || s.cause() != nullptr);
  std::string message = MessageOf(s);
  Napi::Object obj;
  if (s.code() == Code::kInvalidArgType) {
    obj = Napi::TypeError::New(env, message).Value();
  } else if (s.code() == Code::kOutOfRange || s.code() == Code::kInvalidArgument) {
    obj = Napi::RangeError::New(env, message).Value();
  } else {
    Napi::Value cause;
    if (s.code() == Code::kFailed) {
      Napi::Error c = ToJsError(env, *s.cause());
      if (c.IsEmpty()) return c;
      cause = c.Value();
    }
    obj = NewLogError(env, CodeOf(s), message, cause);
  }
  if (obj.IsEmpty()) return Napi::Error();  // the environment is being torn down
  if (s.code() == Code::kInvalidArgType || s.code() == Code::kOutOfRange ||
      s.code() == Code::kInvalidArgument) {
    obj.Set("code", CodeOf(s));
  }
  if (s.err() != 0) obj.Set("errno", Napi::Number::New(env, -s.err()));
  if (!s.syscall().empty()) obj.Set("syscall", Napi::String::New(env, s.syscall()));
  if (!s.path().empty()) obj.Set("path", Napi::String::New(env, s.path()));
  if (s.has_offset()) obj.Set("offset", Napi::Number::New(env, static_cast<double>(s.offset())));
  if (!s.step().empty()) obj.Set("step", Napi::String::New(env, s.step()));
  return Napi::Error(env, obj);
}

// An exception already pending (a getter of an argument threw) goes to the
// caller as it is: throwing a second one on top makes node-addon-api abort.
static bool ExceptionPending(Napi::Env env) {
  bool pending = false;
  return napi_is_exception_pending(env, &pending) == napi_ok && pending;
}

Napi::Value ThrowJs(Napi::Env env, const Status& status) {
  if (ExceptionPending(env)) return Napi::Value();
  Napi::Error err = ToJsError(env, status);
  if (!err.IsEmpty()) err.ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value RejectedPromise(Napi::Env env, const Status& status) {
  // Not Napi::Promise::Deferred: see PromiseWorker (workers.h).
  if (ExceptionPending(env)) return Napi::Value();
  napi_deferred deferred = nullptr;
  napi_value promise = nullptr;
  if (napi_create_promise(env, &deferred, &promise) != napi_ok || promise == nullptr) return Napi::Value();
  Napi::Error err = ToJsError(env, status);
  if (!err.IsEmpty()) napi_reject_deferred(env, deferred, err.Value());
  return Napi::Value(env, promise);
}

}  // namespace commitlog
