// inspectSegment(path) -> [{ offset, span, used, version, epoch, baseSeq,
// count, commitSeq, timestampMs, crc, prevCrc }], plus the state where the
// walk stopped. The batches of one segment file as the core's one
// BatchReader sees them: for tests and inspection tools, never for the log's
// own decisions. Synchronous: reads the whole file on the calling thread.
#include "inspect.h"

#include <fcntl.h>

#include "../core/reader.h"
#include "errors.h"

namespace commitlog {

namespace {

Napi::Value Num(Napi::Env env, uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); }

Napi::Object BatchToJs(Napi::Env env, uint64_t offset, const BatchHeader& h) {
  Napi::Object b = Napi::Object::New(env);
  b.Set("offset", Num(env, offset));
  b.Set("span", Num(env, h.span));
  b.Set("used", Num(env, h.used()));
  b.Set("version", Num(env, h.version));
  b.Set("epoch", Num(env, h.epoch));
  b.Set("baseSeq", Num(env, h.base_seq));
  b.Set("count", Num(env, h.count));
  b.Set("commitSeq", Num(env, h.commit_seq));
  b.Set("timestampMs", Num(env, h.timestamp_ms));
  b.Set("crc", Num(env, h.crc));
  b.Set("prevCrc", Num(env, h.prev_crc));
  b.Set("logId", Napi::String::New(env, std::to_string(h.log_id)));
  return b;
}

Napi::Value InspectSegment(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) {
    Napi::TypeError::New(env, "inspectSegment(path: string)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  Io* io = PosixIo();
  int fd;
  Status s = io->Open(path, O_RDONLY, 0, &fd);
  uint64_t size = 0;
  if (s.ok()) s = io->FileSize(fd, &size).WithPath(path);
  if (!s.ok()) {
    if (fd >= 0 && s.code() == Code::kIoError && s.syscall() != "open") io->Close(fd);
    ToJsError(env, s).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  BatchReader reader(io, fd, size);
  Napi::Array batches = Napi::Array::New(env);
  uint64_t pos = 0;
  BatchState st = BatchState::kZero;
  while (pos < size) {
    BatchHeader h;
    st = reader.ReadAt(pos, &h, &s);
    if (!s.ok() || st != BatchState::kValid) break;
    batches.Set(batches.Length(), BatchToJs(env, pos, h));
    pos += h.span;
  }
  io->Close(fd);
  if (!s.ok()) {
    ToJsError(env, s.WithPath(path)).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("batches", batches);
  out.Set("end", Num(env, pos));
  out.Set("size", Num(env, size));
  out.Set("stop", Napi::String::New(env, pos >= size ? "end of file" : DescribeBatchState(st)));
  return out;
}

}  // namespace

void RegisterInspectExports(Napi::Env env, Napi::Object exports) {
  exports.Set("inspectSegment", Napi::Function::New(env, InspectSegment, "inspectSegment"));
}

}  // namespace commitlog
