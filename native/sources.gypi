{
  # The one list of the addon's source files, included by every binding.gyp
  # (the package's, native/testing's, native/asan's) and read by the scripts
  # that build the core without Node (scripts/sources.js). Paths are relative
  # to this file; gyp rebases variables named *_files onto the including file.
  # Keep it JSON apart from whole-line comments: scripts/sources.js parses it.
  "variables": {
    # Pure C++ (no napi.h): also built alone by the native tests and fuzzers.
    "commitlog_core_files": [
      "core/atomic_file.cc",
      "core/batch.cc",
      "core/checkpoint.cc",
      "core/committer.cc",
      "core/config_file.cc",
      "core/crc32c.cc",
      "core/cut.cc",
      "core/head.cc",
      "core/io_posix.cc",
      "core/log.cc",
      "core/log_reader.cc",
      "core/reader.cc",
      "core/recovery.cc",
      "core/recycle.cc",
      "core/retention.cc",
      "core/segment.cc",
      "core/segment_index.cc",
      "core/segment_read.cc",
      "core/stats.cc",
      "core/status.cc"
    ],
    "commitlog_binding_files": [
      "binding/addon.cc",
      "binding/config_binding.cc",
      "binding/errors.cc",
      "binding/inspect.cc",
      "binding/log_handle.cc",
      "binding/reader_handle.cc",
      "binding/workers.cc"
    ],
    # Test-only (the crash model); never in the package or its prebuilds.
    "commitlog_fault_files": [
      "core/fault_io.cc"
    ]
  }
}
