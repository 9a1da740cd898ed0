// Module entry: registers the exports and the per-environment state.
#include <napi.h>

#include <string>

#include "../core/config_file.h"
#include "../core/crc32c.h"
#if defined(COMMITLOG_FAULT_INJECTION)
#include "../core/fault_io.h"
#endif
#include "../core/log_format.h"
#include "addon.h"
#include "errors.h"
#include "inspect.h"
#include "log_handle.h"
#include "reader_handle.h"
#include "workers.h"

namespace commitlog {

void RegisterConfigExports(Napi::Env env, Napi::Object exports);

#if defined(COMMITLOG_FAULT_INJECTION)
static FaultIo* TestIo() {
  static FaultIo io(PosixIo());
  return &io;
}
Io* BindingIo() { return TestIo(); }
#else
Io* BindingIo() { return PosixIo(); }
#endif

bool CanRunJs(Napi::Env env) {
  // napi_coerce_to_bool is one of the calls that check, before doing
  // anything, that the environment can still run JavaScript (and that no
  // exception is pending); on undefined it has no other effect.
  napi_value result;
  return napi_coerce_to_bool(env, env.Undefined(), &result) == napi_ok;
}

bool Truthy(const Napi::Value& v) {
  if (v.IsEmpty()) return false;
  napi_value b;
  bool out = false;
  if (napi_coerce_to_bool(v.Env(), v, &b) != napi_ok) return false;
  if (napi_get_value_bool(v.Env(), b, &out) != napi_ok) return false;
  return out;
}

AddonData::~AddonData() {
  for (int fd : held_locks) UnlockFile(BindingIo(), fd);
}

namespace {

// An empty value (the read failed: teardown, or a getter threw) is invalid,
// never "not given": defaults must not stand in for what the caller said.
bool ParseEnum(const Napi::Object& o, const char* key, const char* const* names, int n, int* out) {
  Napi::Value v = o.Get(key);
  if (v.IsEmpty()) return false;
  if (v.IsUndefined()) return true;
  if (!v.IsString()) return false;
  std::string s = v.As<Napi::String>().Utf8Value();
  for (int i = 0; i < n; i++) {
    if (s == names[i]) {
      *out = i;
      return true;
    }
  }
  return false;
}

bool ParseNumber(const Napi::Object& o, const char* key, double lo, double hi, double* out) {
  Napi::Value v = o.Get(key);
  if (v.IsEmpty()) return false;
  if (v.IsUndefined()) return true;
  if (!v.IsNumber()) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= lo && d <= hi) || d != static_cast<double>(static_cast<uint64_t>(d))) return false;
  *out = d;
  return true;
}

// The façade validates options with precise messages; this re-check only
// keeps garbage from reaching the core's assertions.
bool ParseOptions(const Napi::Object& o, LogOptions* opt) {
  static const char* const kSync[] = {"fdatasync", "fsync", "direct", "none", "auto"};
  static const char* const kPrealloc[] = {"zero", "fallocate", "none", "auto"};
  static const char* const kRecovery[] = {"strict", "truncate"};
  int sync = 4, prealloc = 3, recovery = 0;
  double align = opt->align_bytes, seg = static_cast<double>(opt->segment_bytes);
  double pending = static_cast<double>(opt->max_pending_bytes), delay = opt->max_batch_delay_us;
  double broken = static_cast<double>(opt->broken_bytes_max);
  double recycle = opt->recycle_segments;
  double in_flight = opt->batches_in_flight;
  bool ok = ParseEnum(o, "sync", kSync, 5, &sync) && ParseEnum(o, "preallocate", kPrealloc, 4, &prealloc) &&
            ParseEnum(o, "recovery", kRecovery, 2, &recovery) &&
            ParseNumber(o, "alignBytes", format::kMinAlign, format::kMaxAlign, &align) &&
            ParseNumber(o, "segmentBytes", 4096, 1ull << 40, &seg) &&
            ParseNumber(o, "maxPendingBytes", 1, 1ull << 30, &pending) &&
            ParseNumber(o, "maxBatchDelayMicros", 0, 1e6, &delay) &&
            ParseNumber(o, "brokenBytesMax", 0, 1ull << 30, &broken) &&
            ParseNumber(o, "recycleSegments", 0, 1024, &recycle) &&
            ParseNumber(o, "batchesInFlight", 1, 2, &in_flight);
  uint32_t a = static_cast<uint32_t>(align);
  if (!ok || (a & (a - 1)) != 0) return false;
  opt->sync = static_cast<SyncMode>(sync);
  opt->preallocate = static_cast<Preallocate>(prealloc);
  opt->recovery = static_cast<RecoveryMode>(recovery);
  opt->align_bytes = a;
  opt->segment_bytes = static_cast<uint64_t>(seg);
  opt->max_pending_bytes = static_cast<uint64_t>(pending);
  opt->max_batch_delay_us = static_cast<uint32_t>(delay);
  opt->broken_bytes_max = static_cast<uint64_t>(broken);
  opt->recycle_segments = static_cast<uint32_t>(recycle);
  opt->batches_in_flight = static_cast<uint32_t>(in_flight);
  Napi::Value create = o.Get("create");
  if (create.IsEmpty()) return false;
  opt->create = create.IsUndefined() || Truthy(create);
  double mode = -1;
  if (!ParseNumber(o, "mode", 0, 0777, &mode)) return false;
  if (mode >= 0) {
    opt->file_mode = static_cast<uint32_t>(mode);
    opt->inherit_mode = false;
    // The log reads and writes its own files (lib/options.ts says so first).
    if ((opt->file_mode & 0600) != 0600) return false;
  }
  return true;
}

// open(dir, options, onDurable) -> Promise<LogHandle>
Napi::Value Open(const Napi::CallbackInfo& info) {
  if (!CanRunJs(info.Env())) return Napi::Value();  // see addon.h
  Napi::Env env = info.Env();
  LogOptions options;
  if (!info[0].IsString() || !info[1].IsObject() || !info[2].IsFunction()) {
    return ThrowJs(env, Status::InvalidArgType("open(dir: string, options: object, onDurable: function)"));
  }
  if (!ParseOptions(info[1].As<Napi::Object>(), &options)) {
    return ThrowJs(env, Status::InvalidArgument("open: an option has an invalid value"));
  }
  auto* w = new OpenWorker(env, info[0].As<Napi::String>().Utf8Value(), options,
                           info[2].As<Napi::Function>());
  return w->Queue();
}

Napi::Value SetErrorClassJs(const Napi::CallbackInfo& info) {
  if (info[0].IsFunction()) SetErrorClass(info.Env(), info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// crc32c(bytes, init = 0) -> number; exposed for tests and benchmarks.
Napi::Value Crc32c(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray()) return ThrowJs(env, Status::InvalidArgType("crc32c(bytes: Uint8Array)"));
  Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
  uint32_t init = info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 0;
  const char* p = static_cast<const char*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  return Napi::Number::New(env, crc32c::Extend(init, p, ta.ByteLength()));
}

#if defined(COMMITLOG_FAULT_INJECTION)
// The fault plan and the crash model: see native/core/fault_io.h.
// fault.arm({ crashAt?, failAt?, errno?, kind?, shortWrite?, trackDurability?,
// keepState?, seed?, keep? })
FaultPlan ParseFaultPlan(const Napi::Value& v) {
  FaultPlan plan;
  if (!v.IsObject()) return plan;
  Napi::Object o = v.As<Napi::Object>();
  if (Napi::Value v = o.Get("crashAt"); v.IsNumber()) plan.crash_at = v.As<Napi::Number>().Int64Value();
  if (Napi::Value v = o.Get("failAt"); v.IsNumber()) plan.fail_at = v.As<Napi::Number>().Int64Value();
  if (Napi::Value v = o.Get("errno"); v.IsNumber()) plan.fail_errno = v.As<Napi::Number>().Int32Value();
  if (Napi::Value v = o.Get("kind"); v.IsString()) plan.fail_kind = v.As<Napi::String>().Utf8Value();
  plan.track_durability = Truthy(o.Get("trackDurability"));
  plan.short_write = Truthy(o.Get("shortWrite"));
  plan.keep_state = Truthy(o.Get("keepState"));
  if (Napi::Value v = o.Get("seed"); v.IsNumber()) plan.seed = static_cast<uint64_t>(v.As<Napi::Number>().Int64Value());
  if (Napi::Value v = o.Get("keep"); v.IsNumber()) plan.keep = v.As<Napi::Number>().DoubleValue();
  return plan;
}

Napi::Value FaultArm(const Napi::CallbackInfo& info) {
  TestIo()->Arm(ParseFaultPlan(info[0]));
  return info.Env().Undefined();
}

// fault.restart(plan?): a process restart without a power loss.
Napi::Value FaultRestart(const Napi::CallbackInfo& info) {
  FaultPlan plan = ParseFaultPlan(info[0]);
  plan.keep_state = true;
  TestIo()->Arm(plan);
  return info.Env().Undefined();
}

Napi::Value FaultDisarm(const Napi::CallbackInfo& info) {
  TestIo()->Disarm();
  return info.Env().Undefined();
}

Napi::Value FaultSteps(const Napi::CallbackInfo& info) {
  // steps(kind?): all steps, or those of one kind (see fault_io.h).
  int64_t n = info[0].IsString() ? TestIo()->steps(info[0].As<Napi::String>().Utf8Value()) : TestIo()->steps();
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

Napi::Value FaultCrash(const Napi::CallbackInfo& info) {
  TestIo()->Crash();
  return info.Env().Undefined();
}

// powerLoss({ seed?, keep?, dirKeep?, tear?, wholeWrites? }) -> { writesLost, writesKept,
// writesTorn, dirOpsUndone, sectorsLost, sectorsKept, doomedSectors, namesKept }
Napi::Value FaultPowerLoss(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PowerLossOptions opt;
  if (info[0].IsObject()) {
    Napi::Object o = info[0].As<Napi::Object>();
    if (Napi::Value v = o.Get("seed"); v.IsNumber()) opt.seed = static_cast<uint64_t>(v.As<Napi::Number>().Int64Value());
    if (Napi::Value v = o.Get("keep"); v.IsNumber()) opt.keep = v.As<Napi::Number>().DoubleValue();
    if (Napi::Value v = o.Get("dirKeep"); v.IsNumber()) opt.dir_keep = v.As<Napi::Number>().DoubleValue();
    opt.tear = Truthy(o.Get("tear"));
    opt.whole_writes = Truthy(o.Get("wholeWrites"));
  }
  PowerLossStats st;
  TestIo()->PowerLoss(opt, &st);
  Napi::Object out = Napi::Object::New(env);
  auto set = [&](const char* key, uint64_t v) { out.Set(key, Napi::Number::New(env, static_cast<double>(v))); };
  set("writesLost", st.writes_lost);
  set("writesKept", st.writes_kept);
  set("writesTorn", st.writes_torn);
  set("dirOpsUndone", st.dir_ops_undone);
  set("sectorsLost", st.sectors_lost);
  set("sectorsKept", st.sectors_kept);
  set("doomedSectors", st.doomed_sectors);
  set("namesKept", st.names_kept);
  return out;
}

Napi::Value FaultCrashed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), TestIo()->crashed());
}

// fault.io: synchronous calls straight into the test Io, to test the model
// itself. They throw the error a failed Status makes (with its code).
Napi::Value IoDone(Napi::Env env, const Status& s) {
  if (!s.ok()) ToJsError(env, s).ThrowAsJavaScriptException();
  return env.Undefined();
}
std::string StrArg(const Napi::CallbackInfo& info, int i) { return info[i].As<Napi::String>().Utf8Value(); }
int IntArg(const Napi::CallbackInfo& info, int i) { return info[i].As<Napi::Number>().Int32Value(); }
uint64_t U64Arg(const Napi::CallbackInfo& info, int i) {
  return static_cast<uint64_t>(info[i].As<Napi::Number>().Int64Value());
}

// io.open(path, flags, mode = 0o644) -> fd
Napi::Value IoOpen(const Napi::CallbackInfo& info) {
  int fd = -1;
  int mode = info[2].IsNumber() ? IntArg(info, 2) : 0644;
  Status s = TestIo()->Open(StrArg(info, 0), IntArg(info, 1), mode, &fd);
  if (!s.ok()) return IoDone(info.Env(), s);
  return Napi::Number::New(info.Env(), fd);
}
// io.write(fd, bytes, offset)
Napi::Value IoWrite(const Napi::CallbackInfo& info) {
  Napi::TypedArray ta = info[1].As<Napi::TypedArray>();
  const char* p = static_cast<const char*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  return IoDone(info.Env(), TestIo()->PWrite(IntArg(info, 0), p, ta.ByteLength(), U64Arg(info, 2)));
}
// io.sync(fd, full = false)
Napi::Value IoSync(const Napi::CallbackInfo& info) {
  SyncKind kind = Truthy(info[1]) ? SyncKind::kFull : SyncKind::kData;
  return IoDone(info.Env(), TestIo()->Sync(IntArg(info, 0), kind));
}
Napi::Value IoTruncate(const Napi::CallbackInfo& info) {
  return IoDone(info.Env(), TestIo()->Truncate(IntArg(info, 0), U64Arg(info, 1)));
}
Napi::Value IoDropCache(const Napi::CallbackInfo& info) {
  return IoDone(info.Env(), TestIo()->DropCache(IntArg(info, 0)));
}
Napi::Value IoClose(const Napi::CallbackInfo& info) {
  TestIo()->Close(IntArg(info, 0));
  return info.Env().Undefined();
}
Napi::Value IoSyncDir(const Napi::CallbackInfo& info) {
  return IoDone(info.Env(), TestIo()->SyncDir(StrArg(info, 0)));
}
Napi::Value IoRename(const Napi::CallbackInfo& info) {
  return IoDone(info.Env(), TestIo()->Rename(StrArg(info, 0), StrArg(info, 1)));
}
Napi::Value IoRenameNoReplace(const Napi::CallbackInfo& info) {
  return IoDone(info.Env(), TestIo()->RenameNoReplace(StrArg(info, 0), StrArg(info, 1)));
}
Napi::Value IoLink(const Napi::CallbackInfo& info) {
  return IoDone(info.Env(), TestIo()->Link(StrArg(info, 0), StrArg(info, 1)));
}
Napi::Value IoUnlink(const Napi::CallbackInfo& info) {
  return IoDone(info.Env(), TestIo()->Unlink(StrArg(info, 0)));
}
Napi::Value IoMkDir(const Napi::CallbackInfo& info) {
  return IoDone(info.Env(), TestIo()->MkDir(StrArg(info, 0), info[1].IsNumber() ? IntArg(info, 1) : 0755));
}

Napi::Object FaultIoExports(Napi::Env env) {
  Napi::Object io = Napi::Object::New(env);
  io.Set("open", Napi::Function::New(env, IoOpen, "open"));
  io.Set("write", Napi::Function::New(env, IoWrite, "write"));
  io.Set("sync", Napi::Function::New(env, IoSync, "sync"));
  io.Set("truncate", Napi::Function::New(env, IoTruncate, "truncate"));
  io.Set("dropCache", Napi::Function::New(env, IoDropCache, "dropCache"));
  io.Set("close", Napi::Function::New(env, IoClose, "close"));
  io.Set("syncDir", Napi::Function::New(env, IoSyncDir, "syncDir"));
  io.Set("rename", Napi::Function::New(env, IoRename, "rename"));
  io.Set("renameNoReplace", Napi::Function::New(env, IoRenameNoReplace, "renameNoReplace"));
  io.Set("link", Napi::Function::New(env, IoLink, "link"));
  io.Set("unlink", Napi::Function::New(env, IoUnlink, "unlink"));
  io.Set("mkdir", Napi::Function::New(env, IoMkDir, "mkdir"));
  return io;
}
#endif

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData(data);
  data->log_handle_ctor = Napi::Persistent(LogHandle::Init(env));
  exports.Set("open", Napi::Function::New(env, Open, "open"));
  data->reader_handle_ctor = Napi::Persistent(ReaderHandle::Init(env));
  exports.Set("openReader", Napi::Function::New(env, OpenReader, "openReader"));
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClassJs, "setErrorClass"));
  exports.Set("crc32c", Napi::Function::New(env, Crc32c, "crc32c"));
  exports.Set("crc32cHardware", Napi::Boolean::New(env, crc32c::IsHardwareAccelerated()));
  RegisterConfigExports(env, exports);
  RegisterInspectExports(env, exports);
#if defined(COMMITLOG_FAULT_INJECTION)
  Napi::Object fault = Napi::Object::New(env);
  fault.Set("arm", Napi::Function::New(env, FaultArm, "arm"));
  fault.Set("disarm", Napi::Function::New(env, FaultDisarm, "disarm"));
  fault.Set("steps", Napi::Function::New(env, FaultSteps, "steps"));
  fault.Set("crashed", Napi::Function::New(env, FaultCrashed, "crashed"));
  fault.Set("crash", Napi::Function::New(env, FaultCrash, "crash"));
  fault.Set("powerLoss", Napi::Function::New(env, FaultPowerLoss, "powerLoss"));
  fault.Set("restart", Napi::Function::New(env, FaultRestart, "restart"));
  fault.Set("io", FaultIoExports(env));
  exports.Set("fault", fault);
#endif
  return exports;
}

}  // namespace
}  // namespace commitlog

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  return commitlog::Init(env, exports);
}

NODE_API_MODULE(commitlog, InitModule)
