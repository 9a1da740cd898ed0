// inspectSegment(path) -> [{ offset, span, used, version, epoch, baseSeq,
// count, commitSeq, timestampMs, crc, prevCrc }], plus the state where the
// walk stopped. The batches of one segment file as the core's one
// BatchReader sees them: for tests and inspection tools, never for the log's
// own decisions. Synchronous: reads the whole file on the calling thread.
//
// examineLog(dir) -> what an open would find and decide (ExamineLog), for
// the CLI: the CHECKPOINT, each segment's walk, where the log stops, and
// the plans of a strict and a 'truncate' open. Changes nothing, takes no
// lock. Synchronous too: a tool's one call.
#include "inspect.h"

#include <fcntl.h>

#include "../core/reader.h"
#include "../core/recovery.h"
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

Napi::Object CheckpointToJs(Napi::Env env, const Checkpoint& cp) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("version", Num(env, cp.version));
  o.Set("durableSeq", Num(env, cp.durable_seq));
  o.Set("clean", Napi::Boolean::New(env, cp.clean));
  o.Set("noSync", Napi::Boolean::New(env, cp.no_sync));
  o.Set("tailBase", Num(env, cp.tail_base));
  o.Set("tailEnd", Num(env, cp.tail_end));
  o.Set("firstSeq", Num(env, cp.first_seq));
  o.Set("logId", Napi::String::New(env, std::to_string(cp.log_id)));
  if (cp.has_gap) {
    o.Set("gapFrom", Num(env, cp.gap_from));
    o.Set("gapTo", Num(env, cp.gap_to));
  }
  if (cp.has_cut) o.Set("cutSeq", Num(env, cp.cut_seq));
  return o;
}

Napi::Object SegmentScanToJs(Napi::Env env, const SegmentScan& seg) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("path", Napi::String::New(env, seg.path));
  o.Set("baseSeq", Num(env, seg.base));
  o.Set("endSeq", Num(env, seg.chain.next_seq));
  o.Set("fileSize", Num(env, seg.file_size));
  o.Set("end", Num(env, seg.end_offset));
  o.Set("batches", Num(env, seg.chain.batches));
  o.Set("epoch", Num(env, seg.chain.epoch));
  o.Set("cleanEnd", Napi::Boolean::New(env, seg.clean_end));
  o.Set("stop", Napi::String::New(env, seg.stop_reason));
  return o;
}

Napi::Object ReportToJs(Napi::Env env, const RecoveryPlan& plan) {
  Napi::Object o = RecoveryReportToJs(env, plan.report);
  o.Set("keepSegments", Num(env, plan.keep_segments));
  o.Set("cutOffset", Num(env, plan.cut_offset));
  o.Set("zeroTo", Num(env, plan.zero_to));
  o.Set("nextSeq", Num(env, plan.next_seq));
  if (!plan.refuse.ok()) o.Set("refused", Napi::String::New(env, plan.refuse.ToString()));
  return o;
}

Napi::Array StringsToJs(Napi::Env env, const std::vector<std::string>& v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) a.Set(static_cast<uint32_t>(i), Napi::String::New(env, v[i]));
  return a;
}

Napi::Value ExamineLogJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) return ThrowJs(env, Status::InvalidArgType("examineLog(dir: string)"));
  std::string dir = info[0].As<Napi::String>().Utf8Value();
  LogExamination ex;
  Status s = ExamineLog(PosixIo(), dir, &ex);
  if (!s.ok()) return ThrowJs(env, s);
  const LogScan& scan = ex.scan;
  Napi::Object out = Napi::Object::New(env);
  if (scan.have_cp && !scan.cp_corrupt) out.Set("checkpoint", CheckpointToJs(env, scan.cp));
  out.Set("checkpointCorrupt", Napi::Boolean::New(env, scan.cp_corrupt));
  out.Set("logId", Napi::String::New(env, std::to_string(scan.log_id)));
  Napi::Array segs = Napi::Array::New(env, scan.segs.size());
  for (size_t i = 0; i < scan.segs.size(); i++) segs.Set(static_cast<uint32_t>(i), SegmentScanToJs(env, scan.segs[i]));
  out.Set("segments", segs);
  out.Set("stopIndex", Num(env, scan.stop_index));
  out.Set("stopOffset", Num(env, scan.stop_offset));
  out.Set("stopReason", Napi::String::New(env, scan.stop_reason));
  out.Set("leftovers", StringsToJs(env, scan.leftovers));
  out.Set("belowFirst", StringsToJs(env, scan.below_first));
  out.Set("beyondCut", StringsToJs(env, scan.beyond_cut));
  out.Set("strict", ReportToJs(env, ex.strict));
  out.Set("truncate", ReportToJs(env, ex.truncate));
  return out;
}

}  // namespace

Napi::Object RecoveryReportToJs(Napi::Env env, const RecoveryReport& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("tornTail", Napi::Boolean::New(env, r.torn_tail));
  o.Set("corruption", Napi::Boolean::New(env, r.corruption));
  o.Set("reason", Napi::String::New(env, r.reason));
  o.Set("file", Napi::String::New(env, r.file));
  o.Set("offset", Num(env, r.offset));
  o.Set("bytesDropped", Num(env, r.bytes_dropped));
  o.Set("segmentsDropped", Num(env, r.segments_dropped));
  o.Set("brokenFile", Napi::String::New(env, r.broken_file));
  o.Set("brokenError", Napi::String::New(env, r.broken_error));
  o.Set("gapFrom", Num(env, r.gap_from));
  o.Set("gapTo", Num(env, r.gap_to));
  o.Set("truncationFinished", Num(env, r.truncation_finished));
  o.Set("cutFinished", Napi::Boolean::New(env, r.cut_finished));
  return o;
}

void RegisterInspectExports(Napi::Env env, Napi::Object exports) {
  exports.Set("inspectSegment", Napi::Function::New(env, InspectSegment, "inspectSegment"));
  exports.Set("examineLog", Napi::Function::New(env, ExamineLogJs, "examineLog"));
}

}  // namespace commitlog
