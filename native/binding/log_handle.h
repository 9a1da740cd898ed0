// LogHandle: the JS object behind a CommitLog. Owns the core Log, the
// thread-safe function through which the flusher reports progress, and an
// environment cleanup hook that stops the threads if the environment goes
// away with the log still open (process exit, worker.terminate()): staged
// records are written and synced, the lock released, and nothing calls into
// the dying environment. All methods run on the JS thread.
#ifndef COMMITLOG_BINDING_LOG_HANDLE_H_
#define COMMITLOG_BINDING_LOG_HANDLE_H_

#include <napi.h>

#include <atomic>
#include <memory>

#include "../core/log.h"

namespace commitlog {

class LogHandle : public Napi::ObjectWrap<LogHandle> {
 public:
  static Napi::Function Init(Napi::Env env);
  // Wraps an opened log and starts it. `on_durable(durableSeq, error?)` is
  // called once per batch (coalesced) and once if the log fails.
  // Returns an empty value, and closes the log, if the environment is being
  // torn down.
  static Napi::Value Create(Napi::Env env, std::unique_ptr<Log> log, Napi::Function on_durable);

  explicit LogHandle(const Napi::CallbackInfo& info);
  ~LogHandle() override;

  Log* log() { return log_.get(); }
  // Workers in flight hold the log; close waits for none to be left.
  void BeginOp() { ops_in_flight_++; }
  void EndOp() { ops_in_flight_--; }
  void FinishClose();

 private:
  static void CallJs(Napi::Env env, Napi::Function callback, LogHandle* self, void* data);
  using Tsfn = Napi::TypedThreadSafeFunction<LogHandle, void, CallJs>;
  static void OnEnvCleanup(LogHandle* self);

  Napi::Value Append(const Napi::CallbackInfo& info);
  Napi::Value AppendMany(const Napi::CallbackInfo& info);
  Napi::Value Kick(const Napi::CallbackInfo& info);
  Napi::Value Durable(const Napi::CallbackInfo& info);
  // failure() -> the error that stopped the log (ToJsError of Failure()), or
  // undefined: lets the façade learn of a failure before CallJs tells it.
  Napi::Value FailureJs(const Napi::CallbackInfo& info);
  Napi::Value FirstSeq(const Napi::CallbackInfo& info);
  // logId() -> the log's identity (a u64) as a decimal string.
  Napi::Value LogId(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value TruncateBefore(const Napi::CallbackInfo& info);
  // retain(maxBytes, maxAgeMs, holdSeq | undefined, nowMs) -> Promise of
  // what the pass deleted (RetentionWorker); fileMode(); segmentsAdded().
  Napi::Value Retain(const Napi::CallbackInfo& info);
  Napi::Value FileMode(const Napi::CallbackInfo& info);
  Napi::Value SegmentsAdded(const Napi::CallbackInfo& info);
  Napi::Value TruncateFrom(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Recovery(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);
  // A sequence number, -1 if the log is full, or the error (not thrown).
  Napi::Value AppendResultToJs(Napi::Env env, AppendResult r, uint64_t first_seq);
  // The core's failure, named as the step "commit"; OK while the log works.
  Status Failure() const;

  // Declared before log_ so that it is destroyed after it: ~Log joins the
  // flusher, whose notify callback calls tsfn_, so the log must stop before
  // the function goes (~LogHandle also resets log_ first, explicitly).
  Tsfn tsfn_;
  std::unique_ptr<Log> log_;
  bool tsfn_live_ = false;
  std::atomic<bool> notify_pending_{false};
  bool closing_ = false;
  int ops_in_flight_ = 0;
  bool cleanup_hook_ = false;
};

}  // namespace commitlog

#endif  // COMMITLOG_BINDING_LOG_HANDLE_H_
