// One small AsyncWorker per asynchronous operation, each owning a promise.
// Execute() runs on the libuv pool and never touches Napi objects.
#ifndef COMMITLOG_BINDING_WORKERS_H_
#define COMMITLOG_BINDING_WORKERS_H_

#include <napi.h>

#include <functional>
#include <memory>
#include <string>

#include "../core/log.h"

namespace commitlog {

class LogHandle;

// Base: a worker that settles a promise with either OnSuccess() or the
// Status its Execute() left in status_. If the environment is being torn
// down when Execute() completes (worker.terminate()), nobody can see the
// promise: Abandon() runs instead, to release what OnSuccess() would have
// handed to JavaScript. Finally() runs in every case.
//
// The promise is made with napi_create_promise directly, its status checked:
// node-addon-api's Promise::Deferred leaves its napi_value uninitialized when
// that call fails, which it does once worker.terminate() has begun, and a
// function that returned that garbage to V8 crashed the process (SIGSEGV,
// test/log.worker.test.ts).
class PromiseWorker : public Napi::AsyncWorker {
 public:
  // Queues the work and returns its promise. When the environment could
  // make none (it is tearing down) the work is not run, unless
  // RunsWithoutPromise(): nobody could learn its outcome, and arguments read
  // during teardown may have fallen back to defaults (an open with
  // `create: false` made a log); Finally() runs, and an empty value is
  // returned.
  Napi::Value Queue();

 protected:
  PromiseWorker(Napi::Env env, const char* resource);
  void OnOK() override;
  virtual Napi::Value OnSuccess(Napi::Env env) = 0;
  virtual void Abandon() {}
  virtual void Finally() {}
  // Work that must run even when no promise could be made (close: it stops
  // the flusher before the environment's teardown releases what it uses).
  virtual bool RunsWithoutPromise() const { return false; }
  Status status_;

 private:
  void Settle();
  void OnError(const Napi::Error& e) override;
  void Resolve(napi_value v);
  void Reject(napi_value v);
  napi_deferred deferred_ = nullptr;  // null if no promise could be made
  napi_value promise_ = nullptr;
  std::string step_;  // names the operation in its errors: "open", "configSave", ...
};

// A worker for the small file operations (config persistence): `work` runs
// on the pool and returns a Status; `result` builds the resolved value;
// `abandon` releases what `result` would have handed over.
class TaskWorker final : public PromiseWorker {
 public:
  using Work = std::function<Status()>;
  using Result = std::function<Napi::Value(Napi::Env)>;
  using Release = std::function<void()>;
  TaskWorker(Napi::Env env, const char* resource, Work work, Result result = nullptr,
             Release abandon = nullptr);
  void Execute() override { status_ = work_(); }
  Napi::Value OnSuccess(Napi::Env env) override { return result_ ? result_(env) : env.Undefined(); }
  void Abandon() override {
    if (abandon_ && status_.ok()) abandon_();
  }

 private:
  Work work_;
  Result result_;
  Release abandon_;
};

class OpenWorker final : public PromiseWorker {
 public:
  OpenWorker(Napi::Env env, std::string dir, const LogOptions& options, Napi::Function on_durable);
  void Execute() override;
  Napi::Value OnSuccess(Napi::Env env) override;

 private:
  std::string dir_;
  LogOptions options_;
  Napi::FunctionReference on_durable_;
  std::unique_ptr<Log> log_;
};

// Base for workers that use an open LogHandle: keeps it alive and counted.
class HandleWorker : public PromiseWorker {
 protected:
  HandleWorker(Napi::Env env, const char* resource, LogHandle* handle, Napi::Object handle_obj);
  void Finally() override;
  LogHandle* handle_;
  Napi::ObjectReference handle_ref_;
};

class CloseWorker final : public HandleWorker {
 public:
  CloseWorker(Napi::Env env, LogHandle* handle, Napi::Object handle_obj);
  void Execute() override;
  Napi::Value OnSuccess(Napi::Env env) override;
  void Finally() override;
  bool RunsWithoutPromise() const override { return true; }
};

// A read's chunk as JavaScript sees it: { data, ends, first, cursorSeq,
// cursorSegment, cursorOffset } (lib/native.ts NativeReadResult), shared by
// the writer's and the reader's reads. Empty if the environment is going away.
Napi::Object ReadChunkToJs(Napi::Env env, const ReadResult& result, const ReadCursor& at);

class ReadWorker final : public HandleWorker {
 public:
  ReadWorker(Napi::Env env, LogHandle* handle, Napi::Object handle_obj, uint64_t from,
             uint64_t limit, size_t max_bytes, const ReadCursor& cursor);
  void Execute() override;
  Napi::Value OnSuccess(Napi::Env env) override;

 private:
  uint64_t from_, limit_;
  size_t max_bytes_;
  ReadCursor cursor_;
  ReadResult result_;
};

class TruncateWorker final : public HandleWorker {
 public:
  TruncateWorker(Napi::Env env, LogHandle* handle, Napi::Object handle_obj, uint64_t seq);
  void Execute() override;
  Napi::Value OnSuccess(Napi::Env env) override;

 private:
  uint64_t seq_;
  uint32_t removed_ = 0;
};

// One retention pass. Resolves with what it deleted; the pass's own error
// (a failed unlink, checkpoint or directory sync) comes back as the
// `error` field, not as a rejection, because segments may have left the log
// before it happened and the caller counts them either way.
class RetentionWorker final : public HandleWorker {
 public:
  RetentionWorker(Napi::Env env, LogHandle* handle, Napi::Object handle_obj,
                  const RetentionPolicy& policy, uint64_t hold_seq, uint64_t now_ms);
  void Execute() override;
  Napi::Value OnSuccess(Napi::Env env) override;

 private:
  RetentionPolicy policy_;
  uint64_t hold_seq_, now_ms_;
  RetentionResult result_;
  Status pass_status_;
};

// truncateFrom(seq): resolves with the durable end before the cut, so that
// the façade settles the appends made before it first.
class TruncateFromWorker final : public HandleWorker {
 public:
  TruncateFromWorker(Napi::Env env, LogHandle* handle, Napi::Object handle_obj, uint64_t seq);
  void Execute() override;
  Napi::Value OnSuccess(Napi::Env env) override;

 private:
  uint64_t seq_;
  uint64_t durable_before_ = 0;
};

}  // namespace commitlog

#endif  // COMMITLOG_BINDING_WORKERS_H_
