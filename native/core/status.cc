#include "status.h"

#include <cstring>

namespace commitlog {

Status Status::IoError(const char* syscall, int err, std::string path) {
  Status s;
  s.code_ = Code::kIoError;
  s.errno_ = err;
  s.syscall_ = syscall;
  s.path_ = std::move(path);
  s.message_ = std::string(syscall) + ": " + std::strerror(err);
  return s;
}

Status Status::Corruption(std::string message, std::string path, uint64_t offset) {
  Status s;
  s.code_ = Code::kCorruption;
  s.message_ = std::move(message);
  s.path_ = std::move(path);
  s.offset_ = offset;
  s.has_offset_ = true;
  return s;
}

Status Status::Locked(std::string path) {
  Status s;
  s.code_ = Code::kLocked;
  s.path_ = std::move(path);
  s.message_ = "log directory is locked by another writer";
  return s;
}

Status Status::Closed() {
  Status s;
  s.code_ = Code::kClosed;
  s.message_ = "log is closed";
  return s;
}

Status Status::Failed(const Status& cause) {
  Status s = cause;
  s.code_ = Code::kFailed;
  s.message_ = "log failed earlier and accepts no more appends: " + cause.ToString();
  return s;
}

Status Status::InvalidArgument(std::string message) {
  Status s;
  s.code_ = Code::kInvalidArgument;
  s.message_ = std::move(message);
  return s;
}

Status Status::NotFound(std::string message) {
  Status s;
  s.code_ = Code::kNotFound;
  s.message_ = std::move(message);
  return s;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out = message_;
  if (!path_.empty()) out += " (" + path_;
  if (!path_.empty() && has_offset_) out += " at offset " + std::to_string(offset_);
  if (!path_.empty()) out += ")";
  return out;
}

}  // namespace commitlog
