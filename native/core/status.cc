#include "status.h"

#include <cassert>
#include <cerrno>
#include <cstring>

namespace commitlog {

Status Status::Simple(Code code, std::string message) {
  Status s;
  s.code_ = code;
  s.message_ = std::move(message);
  return s;
}

Status Status::IoError(const char* syscall, int err, std::string path) {
  Status s = Simple(Code::kIoError, std::string(syscall) + ": " + std::strerror(err));
  s.errno_ = err;
  s.syscall_ = syscall;
  s.path_ = std::move(path);
  return s;
}

Status Status::Corruption(std::string message, std::string path, uint64_t offset) {
  Status s = Simple(Code::kCorruption, std::move(message));
  s.path_ = std::move(path);
  s.offset_ = offset;
  s.has_offset_ = true;
  return s;
}

Status Status::Locked(std::string path) {
  Status s = Simple(Code::kLocked, "log directory is locked by another writer");
  s.path_ = std::move(path);
  return s;
}

Status Status::Closed() { return Simple(Code::kClosed, "log is closed"); }

Status Status::Failed(const Status& cause) {
  assert(!cause.ok());
  Status s = Simple(Code::kFailed, "log failed earlier and accepts no more appends");
  // The cause keeps its own code, errno, syscall, path and step: the binding
  // hands it to JavaScript as `err.cause`, a complete system error.
  s.cause_ = std::make_shared<const Status>(cause);
  return s;
}

Status Status::InvalidArgument(std::string message) {
  return Simple(Code::kInvalidArgument, std::move(message));
}

Status Status::NotFound(std::string message) { return Simple(Code::kNotFound, std::move(message)); }

Status Status::Busy(std::string message) { return Simple(Code::kBusy, std::move(message)); }

Status Status::InvalidArgType(std::string message) {
  return Simple(Code::kInvalidArgType, std::move(message));
}

Status Status::OutOfRange(std::string message) {
  return Simple(Code::kOutOfRange, std::move(message));
}

Status Status::NoMemory(std::string what) {
  Status s = Simple(Code::kNoMemory, "out of memory " + what);
  s.errno_ = ENOMEM;
  return s;
}

Status& Status::WithStep(const std::string& step) {
  if (ok() || step.empty()) return *this;
  step_ = step_.empty() ? step : step + ": " + step_;
  return *this;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out = step_.empty() ? message_ : step_ + ": " + message_;
  if (!path_.empty()) out += " (" + path_;
  if (!path_.empty() && has_offset_) out += " at offset " + std::to_string(offset_);
  if (!path_.empty()) out += ")";
  if (cause_) out += ": " + cause_->ToString();
  return out;
}

}  // namespace commitlog
