// Status: the result of every fallible operation in the core. The core never
// throws; the binding turns a Status into a JS error in exactly one place
// (binding/errors.cc).
#ifndef COMMITLOG_CORE_STATUS_H_
#define COMMITLOG_CORE_STATUS_H_

#include <cstdint>
#include <string>

namespace commitlog {

enum class Code : uint8_t {
  kOk = 0,
  kIoError,          // a system call failed; errno() and syscall() say which
  kCorruption,       // acknowledged data is damaged; path() and offset() say where
  kLocked,           // another writer holds the directory lock
  kClosed,           // the log was closed
  kFailed,           // the log failed earlier (fail-stop); cause is in the message
  kInvalidArgument,  // bad input that the TypeScript layer should have caught
  kNotFound,         // a requested sequence number is no longer in the log
};

class Status {
 public:
  Status() = default;

  static Status OK() { return Status(); }
  static Status IoError(const char* syscall, int err, std::string path = {});
  static Status Corruption(std::string message, std::string path, uint64_t offset);
  static Status Locked(std::string path);
  static Status Closed();
  static Status Failed(const Status& cause);
  static Status InvalidArgument(std::string message);
  static Status NotFound(std::string message);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  int err() const { return errno_; }
  const std::string& syscall() const { return syscall_; }
  const std::string& path() const { return path_; }
  const std::string& message() const { return message_; }
  uint64_t offset() const { return offset_; }
  bool has_offset() const { return has_offset_; }

  // Attaches a path to an I/O error raised by an fd-level call.
  Status& WithPath(const std::string& path) {
    if (path_.empty()) path_ = path;
    return *this;
  }

  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  int errno_ = 0;
  bool has_offset_ = false;
  uint64_t offset_ = 0;
  std::string syscall_;
  std::string path_;
  std::string message_;
};

}  // namespace commitlog

#endif  // COMMITLOG_CORE_STATUS_H_
