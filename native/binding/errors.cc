#include "errors.h"

#include <uv.h>

#include "addon.h"

namespace commitlog {

void SetErrorClass(Napi::Env env, Napi::Function cls) {
  AddonData* data = AddonData::Get(env);
  data->error_class = Napi::Persistent(cls);
}

Napi::Error MakeError(Napi::Env env, const char* code, const std::string& message) {
  AddonData* data = AddonData::Get(env);
  Napi::Object obj;
  if (!data->error_class.IsEmpty()) {
    obj = data->error_class.New({Napi::String::New(env, message), Napi::String::New(env, code)});
    if (obj.IsEmpty()) return Napi::Error();  // the environment is being torn down
  } else {
    obj = Napi::Error::New(env, message).Value();
    obj.Set("code", code);
  }
  return Napi::Error(env, obj);
}

static const char* CodeOf(const Status& s) {
  switch (s.code()) {
    case Code::kOk: return "OK";
    case Code::kIoError: return uv_err_name(-s.err());
    case Code::kCorruption: return "ERR_LOG_CORRUPT";
    case Code::kLocked: return "ERR_LOG_LOCKED";
    case Code::kClosed: return "ERR_LOG_CLOSED";
    case Code::kFailed: return "ERR_LOG_FAILED";
    case Code::kInvalidArgument: return "ERR_INVALID_ARG_VALUE";
    case Code::kNotFound: return "ERR_LOG_TRUNCATED";
  }
  return "ERR_UNKNOWN";
}

Napi::Error ToJsError(Napi::Env env, const Status& s) {
  std::string message = s.ToString();
  if (s.code() == Code::kIoError) {
    // Node's fs style: "EIO: i/o error, fdatasync '/path'".
    message = std::string(uv_err_name(-s.err())) + ": " + uv_strerror(-s.err()) + ", " + s.syscall();
    if (!s.path().empty()) message += " '" + s.path() + "'";
  }
  Napi::Error err = MakeError(env, CodeOf(s), message);
  if (err.IsEmpty()) return err;
  Napi::Object obj = err.Value();
  if (s.err() != 0) {
    obj.Set("errno", Napi::Number::New(env, -s.err()));
    obj.Set("syscall", Napi::String::New(env, s.syscall()));
  }
  if (s.code() == Code::kFailed && s.err() != 0) {
    // The error that made the log fail, as its own code.
    obj.Set("causeCode", Napi::String::New(env, uv_err_name(-s.err())));
  }
  if (!s.path().empty()) obj.Set("path", Napi::String::New(env, s.path()));
  if (s.has_offset()) obj.Set("offset", Napi::Number::New(env, static_cast<double>(s.offset())));
  return err;
}

}  // namespace commitlog
