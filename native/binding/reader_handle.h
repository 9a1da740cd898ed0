// ReaderHandle: the JS object behind a LogReader (lib/reader.ts), a
// read-only view of a log that another process may be writing. It holds no
// thread, no lock and no open file between calls: reads and refreshes run as
// async work on the libuv pool, view() reads one small file on the JS
// thread. All methods run on the JS thread.
#ifndef COMMITLOG_BINDING_READER_HANDLE_H_
#define COMMITLOG_BINDING_READER_HANDLE_H_

#include <napi.h>

#include <memory>

#include "../core/log_reader.h"

namespace commitlog {

class ReaderHandle : public Napi::ObjectWrap<ReaderHandle> {
 public:
  static Napi::Function Init(Napi::Env env);
  // Wraps an opened reader; empty if the environment is being torn down.
  static Napi::Value Create(Napi::Env env, std::unique_ptr<LogReader> reader);

  explicit ReaderHandle(const Napi::CallbackInfo& info);

  LogReader* reader() { return reader_.get(); }
  // Async work in flight holds the reader; close() frees it after the last.
  void BeginOp() { ops_in_flight_++; }
  void EndOp();

 private:
  // read(from, limit, maxBytes, state?) -> Promise<chunk>: `state` is the
  // previous chunk of the same iteration (its cursor and anchor).
  Napi::Value Read(const Napi::CallbackInfo& info);
  // view() -> { durable, first, generation, noSync }: HEAD as it is now.
  Napi::Value View(const Napi::CallbackInfo& info);
  // logId() -> the log's id as a decimal string ('0' if no CHECKPOINT names one yet).
  Napi::Value LogId(const Napi::CallbackInfo& info);
  // refresh() -> Promise<view>: also re-lists the directory and, without a
  // HEAD, proves the durable end from the files again.
  Napi::Value Refresh(const Napi::CallbackInfo& info);
  // close(): no more calls; the reader goes once no work is in flight.
  Napi::Value Close(const Napi::CallbackInfo& info);

  std::unique_ptr<LogReader> reader_;
  bool closing_ = false;
  int ops_in_flight_ = 0;
};

// openReader(dir) -> Promise<ReaderHandle>
Napi::Value OpenReader(const Napi::CallbackInfo& info);

// The view as JS sees it.
Napi::Object ViewToJs(Napi::Env env, const ReaderView& v);

}  // namespace commitlog

#endif  // COMMITLOG_BINDING_READER_HANDLE_H_
