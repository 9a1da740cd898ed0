#include "reader_handle.h"

#include <cstring>

#include "addon.h"
#include "errors.h"
#include "workers.h"

namespace commitlog {

namespace {

Napi::Value Num(Napi::Env env, uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); }

uint64_t ToU64(const Napi::Value& v) {
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : 0;
  if (!(d >= 0)) return 0;
  if (d >= 18446744073709551615.0) return UINT64_MAX;
  return static_cast<uint64_t>(d);
}

// Generations are random u64s: a JS number would round them.
uint64_t ToGeneration(const Napi::Value& v) {
  if (!v.IsBigInt()) return 0;
  bool lossless;
  return v.As<Napi::BigInt>().Uint64Value(&lossless);
}

// The cursor of the previous chunk of an iteration, or a fresh one.
ReaderCursor ParseCursor(const Napi::Value& v) {
  ReaderCursor c;
  if (!v.IsObject()) return c;
  Napi::Object o = v.As<Napi::Object>();
  if (o.Get("cursorSeq").IsNumber()) c.at.seq = ToU64(o.Get("cursorSeq"));
  c.at.segment = ToU64(o.Get("cursorSegment"));
  c.at.offset = ToU64(o.Get("cursorOffset"));
  c.generation = ToGeneration(o.Get("generation"));
  c.has_anchor = Truthy(o.Get("hasAnchor"));
  c.anchor_seq = ToU64(o.Get("anchorSeq"));
  c.anchor_crc = static_cast<uint32_t>(ToU64(o.Get("anchorCrc")));
  return c;
}

class OpenReaderWorker final : public PromiseWorker {
 public:
  OpenReaderWorker(Napi::Env env, std::string dir)
      : PromiseWorker(env, "commitlog.openReader"), dir_(std::move(dir)) {}
  void Execute() override { status_ = LogReader::Open(BindingIo(), dir_, &reader_); }
  Napi::Value OnSuccess(Napi::Env env) override { return ReaderHandle::Create(env, std::move(reader_)); }

 private:
  std::string dir_;
  std::unique_ptr<LogReader> reader_;
};

// Base for work on an open reader: keeps the handle alive and counted.
class ReaderWorker : public PromiseWorker {
 protected:
  ReaderWorker(Napi::Env env, const char* resource, ReaderHandle* handle, Napi::Object handle_obj)
      : PromiseWorker(env, resource), handle_(handle), handle_ref_(Napi::Persistent(handle_obj)) {
    handle_->BeginOp();
  }
  void Finally() override { handle_->EndOp(); }
  ReaderHandle* handle_;
  Napi::ObjectReference handle_ref_;
};

class ReaderReadWorker final : public ReaderWorker {
 public:
  ReaderReadWorker(Napi::Env env, ReaderHandle* handle, Napi::Object handle_obj, uint64_t from,
                   uint64_t limit, size_t max_bytes, const ReaderCursor& cursor)
      : ReaderWorker(env, "commitlog.read", handle, handle_obj), from_(from), limit_(limit),
        max_bytes_(max_bytes), cursor_(cursor) {}
  void Execute() override {
    status_ = handle_->reader()->Read(from_, limit_, max_bytes_, &cursor_, &result_, &view_);
  }
  Napi::Value OnSuccess(Napi::Env env) override;

 private:
  uint64_t from_, limit_;
  size_t max_bytes_;
  ReaderCursor cursor_;
  ReadResult result_;
  ReaderView view_;
};

// The same chunk as LogHandle.read's, plus what the next read of the
// iteration needs (generation, anchor) and the view it read under.
Napi::Value ReaderReadWorker::OnSuccess(Napi::Env env) {
  Napi::Object out = ReadChunkToJs(env, result_, cursor_.at);
  if (out.IsEmpty()) return Napi::Value();
  out.Set("generation", Napi::BigInt::New(env, cursor_.generation));
  out.Set("hasAnchor", Napi::Boolean::New(env, cursor_.has_anchor));
  out.Set("anchorSeq", Num(env, cursor_.anchor_seq));
  out.Set("anchorCrc", Num(env, cursor_.anchor_crc));
  out.Set("view", ViewToJs(env, view_));
  return out;
}

class ReaderRefreshWorker final : public ReaderWorker {
 public:
  ReaderRefreshWorker(Napi::Env env, ReaderHandle* handle, Napi::Object handle_obj)
      : ReaderWorker(env, "commitlog.refresh", handle, handle_obj) {}
  void Execute() override { status_ = handle_->reader()->Refresh(&view_); }
  Napi::Value OnSuccess(Napi::Env env) override { return ViewToJs(env, view_); }

 private:
  ReaderView view_;
};

}  // namespace

Napi::Object ViewToJs(Napi::Env env, const ReaderView& v) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("durable", Num(env, v.durable_seq));
  o.Set("first", Num(env, v.first_seq));
  o.Set("generation", Napi::BigInt::New(env, v.generation));
  o.Set("noSync", Napi::Boolean::New(env, v.no_sync));
  return o;
}

Napi::Function ReaderHandle::Init(Napi::Env env) {
  return DefineClass(env, "ReaderHandle",
                     {
                         InstanceMethod<&ReaderHandle::Read>("read"),
                         InstanceMethod<&ReaderHandle::View>("view"),
                         InstanceMethod<&ReaderHandle::LogId>("logId"),
                         InstanceMethod<&ReaderHandle::Refresh>("refresh"),
                         InstanceMethod<&ReaderHandle::Close>("close"),
                     });
}

ReaderHandle::ReaderHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ReaderHandle>(info) {}

Napi::Value ReaderHandle::Create(Napi::Env env, std::unique_ptr<LogReader> reader) {
  Napi::Object obj = AddonData::Get(env)->reader_handle_ctor.New({});
  if (obj.IsEmpty()) return Napi::Value();  // teardown: `reader` goes with this scope
  ReaderHandle* self = Unwrap(obj);
  if (self == nullptr) return Napi::Value();
  self->reader_ = std::move(reader);
  return obj;
}

void ReaderHandle::EndOp() {
  if (--ops_in_flight_ == 0 && closing_) reader_.reset();
}

Napi::Value ReaderHandle::Read(const Napi::CallbackInfo& info) {
  if (!CanRunJs(info.Env())) return Napi::Value();  // see addon.h
  Napi::Env env = info.Env();
  if (closing_) return RejectedPromise(env, Status::Closed());
  size_t max_bytes = static_cast<size_t>(std::min<uint64_t>(ToU64(info[2]), 1ull << 30));
  auto* w = new ReaderReadWorker(env, this, info.This().As<Napi::Object>(), ToU64(info[0]),
                                 ToU64(info[1]), max_bytes, ParseCursor(info[3]));
  return w->Queue();
}

Napi::Value ReaderHandle::View(const Napi::CallbackInfo& info) {
  if (!CanRunJs(info.Env())) return Napi::Value();  // see addon.h
  Napi::Env env = info.Env();
  if (closing_) return ThrowJs(env, Status::Closed());
  ReaderView v;
  Status s = reader_->Peek(&v);
  if (!s.ok()) return ThrowJs(env, s.WithStep("view"));
  return ViewToJs(env, v);
}

Napi::Value ReaderHandle::LogId(const Napi::CallbackInfo& info) {
  if (closing_) return ThrowJs(info.Env(), Status::Closed());
  // A string: a u64 does not fit a double.
  return Napi::String::New(info.Env(), std::to_string(reader_->log_id()));
}

Napi::Value ReaderHandle::Refresh(const Napi::CallbackInfo& info) {
  if (!CanRunJs(info.Env())) return Napi::Value();  // see addon.h
  Napi::Env env = info.Env();
  if (closing_) return RejectedPromise(env, Status::Closed());
  return (new ReaderRefreshWorker(env, this, info.This().As<Napi::Object>()))->Queue();
}

Napi::Value ReaderHandle::Close(const Napi::CallbackInfo& info) {
  closing_ = true;
  if (ops_in_flight_ == 0) reader_.reset();
  return info.Env().Undefined();
}

Napi::Value OpenReader(const Napi::CallbackInfo& info) {
  if (!CanRunJs(info.Env())) return Napi::Value();  // see addon.h
  Napi::Env env = info.Env();
  if (!info[0].IsString()) return ThrowJs(env, Status::InvalidArgType("openReader(dir: string)"));
  return (new OpenReaderWorker(env, info[0].As<Napi::String>().Utf8Value()))->Queue();
}

}  // namespace commitlog
