#include "workers.h"

#include <cstring>

#include "addon.h"
#include "errors.h"
#include "log_handle.h"

namespace commitlog {

PromiseWorker::PromiseWorker(Napi::Env env, const char* resource)
    : Napi::AsyncWorker(env, resource), step_(resource) {
  if (napi_create_promise(env, &deferred_, &promise_) != napi_ok) {
    deferred_ = nullptr;
    promise_ = nullptr;
  }
  // "commitlog.open" names the step "open".
  static const char kPrefix[] = "commitlog.";
  if (step_.rfind(kPrefix, 0) == 0) step_.erase(0, sizeof(kPrefix) - 1);
}

Napi::Value PromiseWorker::Queue() {
  Napi::Env env = Env();
  napi_value promise = promise_;  // `this` may be gone once queued
  if (promise == nullptr && !RunsWithoutPromise()) {
    Finally();
    Destroy();  // never queued: deletes this
    return Napi::Value();
  }
  Napi::AsyncWorker::Queue();
  return promise != nullptr ? Napi::Value(env, promise) : Napi::Value();
}

void PromiseWorker::Resolve(napi_value v) {
  if (deferred_ != nullptr) napi_resolve_deferred(Env(), deferred_, v);
  deferred_ = nullptr;
}

void PromiseWorker::Reject(napi_value v) {
  if (deferred_ != nullptr) napi_reject_deferred(Env(), deferred_, v);
  deferred_ = nullptr;
}

void PromiseWorker::OnOK() { Settle(); }

void PromiseWorker::OnError(const Napi::Error& e) {
  // Execute() reports through status_, never SetError; keep the promise
  // settled anyway should that change.
  if (CanRunJs(Env())) Reject(e.Value());
  Finally();
}

void PromiseWorker::Settle() {
  Napi::Env env = Env();
  if (!CanRunJs(env)) {
    Abandon();
    Finally();
    return;
  }
  Napi::HandleScope scope(env);
  if (status_.ok()) {
    Napi::Value result = OnSuccess(env);
    if (!result.IsEmpty()) {
      Resolve(result);
    } else {
      // Teardown began after the check above, or making the value failed
      // (a Buffer past the engine's limit leaves a RangeError pending):
      // the promise gets that exception rather than staying pending.
      bool pending = false;
      napi_value exc = nullptr;
      if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
          napi_get_and_clear_last_exception(env, &exc) == napi_ok && exc != nullptr) {
        Reject(exc);
      }
    }
  } else {
    Status failed = status_;
    Napi::Error err = ToJsError(env, failed.WithStep(step_));
    if (!err.IsEmpty()) Reject(err.Value());
  }
  Finally();
}

TaskWorker::TaskWorker(Napi::Env env, const char* resource, Work work, Result result,
                       Release abandon)
    : PromiseWorker(env, resource), work_(std::move(work)), result_(std::move(result)),
      abandon_(std::move(abandon)) {}

OpenWorker::OpenWorker(Napi::Env env, std::string dir, const LogOptions& options,
                       Napi::Function on_durable)
    : PromiseWorker(env, "commitlog.open"), dir_(std::move(dir)), options_(options),
      on_durable_(Napi::Persistent(on_durable)) {}

void OpenWorker::Execute() { status_ = Log::Open(BindingIo(), dir_, options_, &log_); }

Napi::Value OpenWorker::OnSuccess(Napi::Env env) {
  return LogHandle::Create(env, std::move(log_), on_durable_.Value());
}

HandleWorker::HandleWorker(Napi::Env env, const char* resource, LogHandle* handle,
                           Napi::Object handle_obj)
    : PromiseWorker(env, resource), handle_(handle), handle_ref_(Napi::Persistent(handle_obj)) {
  handle_->BeginOp();
}

void HandleWorker::Finally() { handle_->EndOp(); }

CloseWorker::CloseWorker(Napi::Env env, LogHandle* handle, Napi::Object handle_obj)
    : HandleWorker(env, "commitlog.close", handle, handle_obj) {}

void CloseWorker::Execute() {
  Log* log = handle_->log();
  Status s = log->Close();
  // A log that failed earlier already rejected its appends with the cause;
  // closing it is still a success (resources released). Other errors, such
  // as failing to write the clean checkpoint, are the caller's to see.
  if (!s.ok() && log->failure().ok()) status_ = s;
}

Napi::Value CloseWorker::OnSuccess(Napi::Env env) { return env.Undefined(); }

void CloseWorker::Finally() {
  handle_->FinishClose();
  HandleWorker::Finally();
}

ReadWorker::ReadWorker(Napi::Env env, LogHandle* handle, Napi::Object handle_obj, uint64_t from,
                       uint64_t limit, size_t max_bytes, const ReadCursor& cursor)
    : HandleWorker(env, "commitlog.read", handle, handle_obj), from_(from), limit_(limit),
      max_bytes_(max_bytes), cursor_(cursor) {}

void ReadWorker::Execute() {
  status_ = handle_->log()->Read(from_, limit_, max_bytes_, &cursor_, &result_);
}

Napi::Object ReadChunkToJs(Napi::Env env, const ReadResult& result, const ReadCursor& at) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("data", Napi::Buffer<char>::Copy(env, result.data.data(), result.data.size()));
  Napi::Uint32Array ends = Napi::Uint32Array::New(env, result.ends.size());
  if (ends.IsEmpty()) return Napi::Object();
  if (!result.ends.empty()) {
    std::memcpy(ends.Data(), result.ends.data(), result.ends.size() * sizeof(uint32_t));
  }
  out.Set("ends", ends);
  out.Set("first", Napi::Number::New(env, static_cast<double>(result.first_seq)));
  out.Set("cursorSeq", Napi::Number::New(env, static_cast<double>(at.seq)));
  out.Set("cursorSegment", Napi::Number::New(env, static_cast<double>(at.segment)));
  out.Set("cursorOffset", Napi::Number::New(env, static_cast<double>(at.offset)));
  return out;
}

Napi::Value ReadWorker::OnSuccess(Napi::Env env) { return ReadChunkToJs(env, result_, cursor_); }

TruncateWorker::TruncateWorker(Napi::Env env, LogHandle* handle, Napi::Object handle_obj,
                               uint64_t seq)
    : HandleWorker(env, "commitlog.truncate", handle, handle_obj), seq_(seq) {}

void TruncateWorker::Execute() { status_ = handle_->log()->TruncateBefore(seq_, &removed_); }

Napi::Value TruncateWorker::OnSuccess(Napi::Env env) { return Napi::Number::New(env, removed_); }

RetentionWorker::RetentionWorker(Napi::Env env, LogHandle* handle, Napi::Object handle_obj,
                                 const RetentionPolicy& policy, uint64_t hold_seq, uint64_t now_ms)
    : HandleWorker(env, "commitlog.retention", handle, handle_obj), policy_(policy),
      hold_seq_(hold_seq), now_ms_(now_ms) {}

void RetentionWorker::Execute() {
  pass_status_ = handle_->log()->ApplyRetention(policy_, hold_seq_, now_ms_, &result_);
}

Napi::Value RetentionWorker::OnSuccess(Napi::Env env) {
  auto num = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  Napi::Object out = Napi::Object::New(env);
  out.Set("segmentsDeleted", num(result_.segments_deleted));
  out.Set("bytesDeleted", num(result_.bytes_deleted));
  out.Set("recordsDeleted", num(result_.records_deleted));
  out.Set("firstSeq", num(result_.first_seq));
  if (!pass_status_.ok()) {
    Napi::Error err = ToJsError(env, pass_status_.WithStep("retention"));
    if (err.IsEmpty()) return Napi::Value();
    out.Set("error", err.Value());
  }
  return out;
}

TruncateFromWorker::TruncateFromWorker(Napi::Env env, LogHandle* handle, Napi::Object handle_obj,
                                       uint64_t seq)
    : HandleWorker(env, "commitlog.truncateFrom", handle, handle_obj), seq_(seq) {}

void TruncateFromWorker::Execute() { status_ = handle_->log()->TruncateFrom(seq_, &durable_before_); }

Napi::Value TruncateFromWorker::OnSuccess(Napi::Env env) {
  return Napi::Number::New(env, static_cast<double>(durable_before_));
}

}  // namespace commitlog
