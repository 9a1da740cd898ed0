// Status: the result of every fallible operation in the core. The core never
// throws; the binding turns a Status into a JS error in exactly one place
// (binding/errors.cc, ToJsError).
#ifndef COMMITLOG_CORE_STATUS_H_
#define COMMITLOG_CORE_STATUS_H_

#include <cstdint>
#include <memory>
#include <string>

namespace commitlog {

enum class Code : uint8_t {
  kOk = 0,
  kIoError,          // a system call failed; errno() and syscall() say which
  kCorruption,       // acknowledged data is damaged; path() and offset() say where
  kLocked,           // another writer holds the directory lock
  kClosed,           // the log was closed
  kFailed,           // the log failed earlier (fail-stop); cause() is the error that stopped it
  kInvalidArgument,  // bad input that the TypeScript layer should have caught
  kNotFound,         // a requested sequence number is no longer in the log
  kBusy,             // close while reads or truncations are in flight
  kInvalidArgType,   // an argument of the wrong type (the binding's re-check)
  kOutOfRange,       // a number or size out of range (the binding's re-check)
  kNoMemory,         // a buffer could not grow; err() is ENOMEM
};

class Status {
 public:
  Status() = default;

  static Status OK() { return Status(); }
  static Status IoError(const char* syscall, int err, std::string path = {});
  static Status Corruption(std::string message, std::string path, uint64_t offset);
  static Status Locked(std::string path);
  static Status Closed();
  // The log stopped because of `cause` (an I/O error): what every append
  // after the failure gets. `cause` must not be OK.
  static Status Failed(const Status& cause);
  static Status InvalidArgument(std::string message);
  static Status NotFound(std::string message);
  static Status Busy(std::string message);
  static Status InvalidArgType(std::string message);
  static Status OutOfRange(std::string message);
  static Status NoMemory(std::string what);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  int err() const { return errno_; }
  const std::string& syscall() const { return syscall_; }
  const std::string& path() const { return path_; }
  const std::string& message() const { return message_; }
  uint64_t offset() const { return offset_; }
  bool has_offset() const { return has_offset_; }
  // The failed step, outermost first ("roll: fsync directory"), or empty.
  const std::string& step() const { return step_; }
  // For kFailed: the error that stopped the log; otherwise null.
  const Status* cause() const { return cause_.get(); }

  // Attaches a path to an I/O error raised by an fd-level call.
  Status& WithPath(const std::string& path) {
    if (path_.empty()) path_ = path;
    return *this;
  }

  // Names the step that failed, as etcd wraps its errors: each caller that
  // adds context prefixes its own step, so
  //   Status::IoError("fsync", EIO, dir).WithStep("fsync directory").WithStep("roll")
  // reads "roll: fsync directory: fsync: ..." in ToString() and gives the JS
  // error `step` "roll: fsync directory". No effect on an OK status.
  Status& WithStep(const std::string& step);

  // "<step>: <message> (<path> at offset <offset>)", each part where it applies;
  // for kFailed, followed by ": <cause>".
  std::string ToString() const;

 private:
  static Status Simple(Code code, std::string message);

  Code code_ = Code::kOk;
  int errno_ = 0;
  bool has_offset_ = false;
  uint64_t offset_ = 0;
  std::string syscall_;
  std::string path_;
  std::string message_;
  std::string step_;
  std::shared_ptr<const Status> cause_;
};

}  // namespace commitlog

#endif  // COMMITLOG_CORE_STATUS_H_
