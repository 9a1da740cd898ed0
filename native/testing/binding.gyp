{
  # The test-only addon: the production sources plus a fault-injecting Io
  # (crash points, injected EIO/ENOSPC). Built by scripts/build-native.js for
  # `npm test`; never part of the package's binary or its prebuilds.
  "targets": [
    {
      "target_name": "commitlog_test",
      "sources": [
        "../core/atomic_file.cc",
        "../core/batch.cc",
        "../core/checkpoint.cc",
        "../core/committer.cc",
        "../core/config_file.cc",
        "../core/crc32c.cc",
        "../core/cut.cc",
        "../core/fault_io.cc",
        "../core/head.cc",
        "../core/io_posix.cc",
        "../core/log.cc",
        "../core/log_reader.cc",
        "../core/reader.cc",
        "../core/recovery.cc",
        "../core/recycle.cc",
        "../core/retention.cc",
        "../core/segment.cc",
        "../core/segment_index.cc",
        "../core/segment_read.cc",
        "../core/stats.cc",
        "../core/status.cc",
        "../binding/addon.cc",
        "../binding/config_binding.cc",
        "../binding/errors.cc",
        "../binding/inspect.cc",
        "../binding/log_handle.cc",
        "../binding/reader_handle.cc",
        "../binding/workers.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "COMMITLOG_FAULT_INJECTION"],
      "cflags_cc": ["-std=c++17", "-O1", "-g", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc!": ["-fno-rtti"]
    }
  ]
}
