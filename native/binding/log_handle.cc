#include "log_handle.h"

#include <cassert>
#include <cmath>

#include "addon.h"
#include "errors.h"
#include "inspect.h"
#include "workers.h"

namespace commitlog {

namespace {

// Largest record the native layer accepts whatever the options say: frames
// carry u32 lengths and a batch must fit a u32 span.
constexpr size_t kHardRecordMax = size_t{1} << 30;

// append/appendMany: max_pending_bytes reached, retry once durable advances
// (flow control, not an error; APPEND_FULL in lib/native.ts).
constexpr int kAppendFull = -1;

uint64_t ToU64(const Napi::Value& v) {
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : 0;
  if (!(d >= 0)) return 0;
  if (d >= 18446744073709551615.0) return UINT64_MAX;
  return static_cast<uint64_t>(d);
}

Napi::Value Num(Napi::Env env, uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); }

bool GetBytes(const Napi::Value& v, const char** data, size_t* len) {
  if (!v.IsTypedArray()) return false;
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array) return false;
  Napi::Uint8Array u8 = v.As<Napi::Uint8Array>();
  *data = reinterpret_cast<const char*>(u8.Data());
  *len = u8.ByteLength();
  return true;
}

}  // namespace

Napi::Function LogHandle::Init(Napi::Env env) {
  return DefineClass(env, "LogHandle",
                     {
                         InstanceMethod<&LogHandle::Append>("append"),
                         InstanceMethod<&LogHandle::AppendMany>("appendMany"),
                         InstanceMethod<&LogHandle::Kick>("kick"),
                         InstanceMethod<&LogHandle::Durable>("durable"),
                         InstanceMethod<&LogHandle::FailureJs>("failure"),
                         InstanceMethod<&LogHandle::FirstSeq>("firstSeq"),
                         InstanceMethod<&LogHandle::LogId>("logId"),
                         InstanceMethod<&LogHandle::Close>("close"),
                         InstanceMethod<&LogHandle::Read>("read"),
                         InstanceMethod<&LogHandle::TruncateBefore>("truncateBefore"),
                         InstanceMethod<&LogHandle::Retain>("retain"),
                         InstanceMethod<&LogHandle::FileMode>("fileMode"),
                         InstanceMethod<&LogHandle::SegmentsAdded>("segmentsAdded"),
                         InstanceMethod<&LogHandle::TruncateFrom>("truncateFrom"),
                         InstanceMethod<&LogHandle::Stats>("stats"),
                         InstanceMethod<&LogHandle::Recovery>("recovery"),
                         InstanceMethod<&LogHandle::Ref>("ref"),
                         InstanceMethod<&LogHandle::Unref>("unref"),
                     });
}

LogHandle::LogHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<LogHandle>(info) {}

LogHandle::~LogHandle() {
  if (cleanup_hook_) {
    napi_remove_env_cleanup_hook(Env(), reinterpret_cast<void (*)(void*)>(&OnEnvCleanup), this);
  }
  // Closes the log if nobody did, joining the flusher, before tsfn_ goes:
  // the flusher's notify callback uses tsfn_.
  log_.reset();
}

Napi::Value LogHandle::Create(Napi::Env env, std::unique_ptr<Log> log, Napi::Function on_durable) {
  Napi::Object obj = AddonData::Get(env)->log_handle_ctor.New({});
  // The environment began tearing down while the log opened: `log` goes out
  // of scope here, which closes it and releases its lock.
  if (obj.IsEmpty()) return Napi::Value();
  LogHandle* self = Unwrap(obj);
  if (self == nullptr) return Napi::Value();
  self->log_ = std::move(log);
  self->tsfn_ = Tsfn::New(env, on_durable, "commitlog.flush", 0, 1, self);
  // Unstarted, the log is closed by ~LogHandle when the object is collected.
  if (static_cast<napi_threadsafe_function>(self->tsfn_) == nullptr) return Napi::Value();
  self->tsfn_live_ = true;
  // Idle logs do not keep the process alive; the façade refs while appends wait.
  self->tsfn_.Unref(env);
  // Registered after the TSFN: cleanup hooks run last-in first-out, so this
  // one stops the flusher before Node tears the TSFN down.
  napi_add_env_cleanup_hook(env, reinterpret_cast<void (*)(void*)>(&OnEnvCleanup), self);
  self->cleanup_hook_ = true;
  self->log_->Start([self] {
    // Coalesce: at most one call queued; CallJs reads the latest state. The
    // flusher published durable_seq (release) or failure_ (mutex) before
    // this; see CallJs for why both sides use read-modify-writes.
    if (!self->notify_pending_.exchange(true, std::memory_order_acq_rel)) self->tsfn_.NonBlockingCall();
  });
  return obj;
}

void LogHandle::OnEnvCleanup(LogHandle* self) {
  // The environment is exiting with the log open: write what is staged and
  // stop the threads while the TSFN is still valid. Node runs this after the
  // in-flight async work completed (so no worker uses the log) and before
  // the TSFN's own cleanup hook (registered earlier; hooks run last-in
  // first-out) and the finalizers.
  self->cleanup_hook_ = false;
  self->closing_ = true;
  self->log_->Close();
}

void LogHandle::CallJs(Napi::Env env, Napi::Function callback, LogHandle* self, void*) {
  // env is null when the TSFN drains its queue at teardown; CanRunJs is
  // false from worker.terminate() on, before the cleanup hooks run (the
  // flusher may still be notifying then).
  if (env == nullptr || self == nullptr || !CanRunJs(env)) return;
  // Clear the flag with a read-modify-write, never a plain store. The
  // flusher does [store durable_seq (release); exchange(pending, true)] and
  // this thread [clear pending; load durable_seq (acquire)]: with a plain
  // store that is the store-buffering pattern, where C++ allows both loads
  // to miss the other thread's store (the flusher sees `true` and queues no
  // call, this thread reads the old durable_seq), and the last batch's
  // appends would never resolve. TSan cannot see it (no data race). With an
  // exchange both operations on the flag are RMWs, which are totally ordered
  // and each reads the latest value: either the flusher's exchange comes
  // first, so ours reads its `true` and synchronizes with it (its durable_seq
  // store happens-before our load below), or ours comes first, so the
  // flusher reads `false` and queues another call. A durable advance can be
  // late by one call, never missed.
  self->notify_pending_.exchange(false, std::memory_order_acq_rel);
  uint64_t durable = self->log_->durable_seq();
  Status failure = self->Failure();
  Napi::Value err = env.Undefined();
  if (!failure.ok()) {
    Napi::Error e = ToJsError(env, failure);
    if (e.IsEmpty()) return;  // teardown began midway
    err = e.Value();
  }
  callback.Call({Num(env, durable), err});
}

Status LogHandle::Failure() const {
  // The flusher is the only writer of failure(): it failed writing or
  // syncing a batch (or rolling to a new segment for it).
  Status s = log_->failure();
  return s.WithStep("commit");
}

// Not thrown: append's errors are values, so that the façade can first
// settle what was appended before (see lib/log.ts).
static Napi::Value ErrorValue(Napi::Env env, const Status& s) {
  Napi::Error err = ToJsError(env, s);
  return err.IsEmpty() ? env.Undefined() : err.Value();
}

Napi::Value LogHandle::AppendResultToJs(Napi::Env env, AppendResult r, uint64_t first_seq) {
  switch (r) {
    case AppendResult::kOk: return Num(env, first_seq);
    case AppendResult::kFull: return Napi::Number::New(env, kAppendFull);
    case AppendResult::kFailed: return ErrorValue(env, Status::Failed(Failure()));
    case AppendResult::kClosed: return ErrorValue(env, Status::Closed());
    case AppendResult::kNoMemory: return ErrorValue(env, Status::NoMemory("staging the record"));
  }
  assert(false);
  return env.Undefined();
}

Napi::Value LogHandle::Append(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* data;
  size_t len;
  if (!GetBytes(info[0], &data, &len)) return ThrowJs(env, Status::InvalidArgType("record must be a Uint8Array"));
  if (len > kHardRecordMax) return ThrowJs(env, Status::OutOfRange("record is too large"));
  if (closing_) return ErrorValue(env, Status::Closed());
  uint64_t first = 0;
  // JavaScript kicks once per tick (lib/log.ts), after the tick's appends.
  AppendResult r = log_->Append(&data, &len, 1, &first, Wake::kLater);
  return AppendResultToJs(env, r, first);
}

Napi::Value LogHandle::AppendMany(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) return ThrowJs(env, Status::InvalidArgType("records must be an array"));
  Napi::Array arr = info[0].As<Napi::Array>();
  uint32_t n = arr.Length();
  std::vector<const char*> ptrs(n);
  std::vector<size_t> lens(n);
  size_t total = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (!GetBytes(arr.Get(i), &ptrs[i], &lens[i])) {
      return ThrowJs(env, Status::InvalidArgType("each record must be a Uint8Array"));
    }
    total += lens[i] + 4;
  }
  if (n == 0 || total > kHardRecordMax) return ThrowJs(env, Status::OutOfRange("group is empty or too large"));
  if (closing_) return ErrorValue(env, Status::Closed());
  uint64_t first = 0;
  AppendResult r = log_->Append(ptrs.data(), lens.data(), n, &first, Wake::kLater);
  return AppendResultToJs(env, r, first);
}

Napi::Value LogHandle::Kick(const Napi::CallbackInfo& info) {
  if (!closing_) log_->Kick();
  return info.Env().Undefined();
}

Napi::Value LogHandle::Durable(const Napi::CallbackInfo& info) {
  return Num(info.Env(), log_->durable_seq());
}

Napi::Value LogHandle::FailureJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Status s = Failure();
  return s.ok() ? env.Undefined() : ErrorValue(env, s);
}

Napi::Value LogHandle::FirstSeq(const Napi::CallbackInfo& info) {
  return Num(info.Env(), log_->first_seq());
}

Napi::Value LogHandle::LogId(const Napi::CallbackInfo& info) {
  // A string: a u64 does not fit a double.
  return Napi::String::New(info.Env(), std::to_string(log_->log_id()));
}

Napi::Value LogHandle::Close(const Napi::CallbackInfo& info) {
  if (!CanRunJs(info.Env())) return Napi::Value();  // see addon.h
  Napi::Env env = info.Env();
  if (closing_) return RejectedPromise(env, Status::Closed());
  if (ops_in_flight_ > 0) return RejectedPromise(env, Status::Busy("reads or truncations are in flight"));
  closing_ = true;
  return (new CloseWorker(env, this, info.This().As<Napi::Object>()))->Queue();
}

void LogHandle::FinishClose() {
  if (tsfn_live_) {
    tsfn_live_ = false;
    tsfn_.Release();  // the last call on the TSFN: the flusher is joined
  }
  if (cleanup_hook_) {
    cleanup_hook_ = false;
    napi_remove_env_cleanup_hook(Env(), reinterpret_cast<void (*)(void*)>(&OnEnvCleanup), this);
  }
}

Napi::Value LogHandle::Read(const Napi::CallbackInfo& info) {
  if (!CanRunJs(info.Env())) return Napi::Value();  // see addon.h
  Napi::Env env = info.Env();
  if (closing_) return RejectedPromise(env, Status::Closed());
  ReadCursor cursor;
  cursor.seq = info[3].IsNumber() ? ToU64(info[3]) : UINT64_MAX;
  cursor.segment = ToU64(info[4]);
  cursor.offset = ToU64(info[5]);
  size_t max_bytes = static_cast<size_t>(std::min<uint64_t>(ToU64(info[2]), 1ull << 30));
  auto* w = new ReadWorker(env, this, info.This().As<Napi::Object>(), ToU64(info[0]),
                           ToU64(info[1]), max_bytes, cursor);
  return w->Queue();
}

Napi::Value LogHandle::TruncateBefore(const Napi::CallbackInfo& info) {
  if (!CanRunJs(info.Env())) return Napi::Value();  // see addon.h
  Napi::Env env = info.Env();
  if (closing_) return RejectedPromise(env, Status::Closed());
  return (new TruncateWorker(env, this, info.This().As<Napi::Object>(), ToU64(info[0])))->Queue();
}

Napi::Value LogHandle::Retain(const Napi::CallbackInfo& info) {
  if (!CanRunJs(info.Env())) return Napi::Value();  // see addon.h
  Napi::Env env = info.Env();
  if (closing_) return RejectedPromise(env, Status::Closed());
  RetentionPolicy policy;
  policy.max_bytes = ToU64(info[0]);
  policy.max_age_ms = ToU64(info[1]);
  if (policy.max_bytes == 0 && policy.max_age_ms == 0) {
    return RejectedPromise(env, Status::InvalidArgument("retain: no bound (maxBytes or maxAgeMs) given"));
  }
  uint64_t hold = info[2].IsNumber() ? ToU64(info[2]) : UINT64_MAX;
  auto* w = new RetentionWorker(env, this, info.This().As<Napi::Object>(), policy, hold, ToU64(info[3]));
  return w->Queue();
}

Napi::Value LogHandle::FileMode(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), log_->file_mode());
}

Napi::Value LogHandle::SegmentsAdded(const Napi::CallbackInfo& info) {
  return Num(info.Env(), log_->segments_added());
}

Napi::Value LogHandle::TruncateFrom(const Napi::CallbackInfo& info) {
  if (!CanRunJs(info.Env())) return Napi::Value();  // see addon.h
  Napi::Env env = info.Env();
  if (closing_) return RejectedPromise(env, Status::Closed());
  if (!info[0].IsNumber()) return RejectedPromise(env, Status::InvalidArgType("seq must be a number"));
  return (new TruncateFromWorker(env, this, info.This().As<Napi::Object>(), ToU64(info[0])))->Queue();
}

Napi::Value LogHandle::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LogStats s;
  log_->GetStats(&s);
  Napi::Object o = Napi::Object::New(env);
  o.Set("appendedSeq", Num(env, s.appended_seq));
  o.Set("durableSeq", Num(env, s.durable_seq));
  o.Set("firstSeq", Num(env, s.first_seq));
  o.Set("records", Num(env, s.records));
  o.Set("batches", Num(env, s.batches));
  o.Set("syncs", Num(env, s.syncs));
  o.Set("bytesWritten", Num(env, s.bytes_written));
  o.Set("payloadBytes", Num(env, s.payload_bytes));
  o.Set("paddingBytes", Num(env, s.padding_bytes));
  o.Set("segments", Num(env, s.segments));
  o.Set("segmentsRolled", Num(env, s.segments_rolled));
  o.Set("preparedSegmentsUsed", Num(env, s.prepared_segments_used));
  o.Set("directBatches", Num(env, s.direct_batches));
  o.Set("overlappedBatches", Num(env, s.overlapped_batches));
  o.Set("segmentsRecycled", Num(env, s.segments_recycled));
  o.Set("pendingBytes", Num(env, s.pending_bytes));
  o.Set("syncLatencyUsP50", Num(env, s.sync_us_p50));
  o.Set("syncLatencyUsP99", Num(env, s.sync_us_p99));
  o.Set("syncLatencyUsMax", Num(env, s.sync_us_max));
  o.Set("batchLatencyUsP50", Num(env, s.batch_us_p50));
  o.Set("batchLatencyUsP99", Num(env, s.batch_us_p99));
  o.Set("prepareFailures", Num(env, s.prepare_failures));
  o.Set("checkpointFailures", Num(env, s.checkpoint_failures));
  o.Set("lastBackgroundError", Napi::String::New(env, s.last_background_error));
  o.Set("headFailures", Num(env, s.head_failures));
  return o;
}

Napi::Value LogHandle::Recovery(const Napi::CallbackInfo& info) {
  return RecoveryReportToJs(info.Env(), log_->recovery());
}

Napi::Value LogHandle::Ref(const Napi::CallbackInfo& info) {
  if (tsfn_live_) tsfn_.Ref(info.Env());
  return info.Env().Undefined();
}

Napi::Value LogHandle::Unref(const Napi::CallbackInfo& info) {
  if (tsfn_live_) tsfn_.Unref(info.Env());
  return info.Env().Undefined();
}

}  // namespace commitlog
