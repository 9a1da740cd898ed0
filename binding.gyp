{
  "variables": {
    "core_sources": [
      "native/core/atomic_file.cc",
      "native/core/batch.cc",
      "native/core/checkpoint.cc",
      "native/core/committer.cc",
      "native/core/config_file.cc",
      "native/core/crc32c.cc",
      "native/core/cut.cc",
      "native/core/head.cc",
      "native/core/io_posix.cc",
      "native/core/log.cc",
      "native/core/log_reader.cc",
      "native/core/reader.cc",
      "native/core/recovery.cc",
      "native/core/recycle.cc",
      "native/core/retention.cc",
      "native/core/segment.cc",
      "native/core/segment_index.cc",
      "native/core/segment_read.cc",
      "native/core/stats.cc",
      "native/core/status.cc",
      "native/binding/addon.cc",
      "native/binding/config_binding.cc",
      "native/binding/errors.cc",
      "native/binding/inspect.cc",
      "native/binding/log_handle.cc",
      "native/binding/reader_handle.cc",
      "native/binding/workers.cc"
    ]
  },
  "target_defaults": {
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
    "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
    "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
    "cflags_cc!": ["-fno-rtti"],
    "xcode_settings": {
      "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
      "MACOSX_DEPLOYMENT_TARGET": "10.15",
      "OTHER_CPLUSPLUSFLAGS": ["-O2", "-Wall"]
    }
  },
  "targets": [
    {
      "target_name": "commitlog",
      "sources": ["<@(core_sources)"]
    }
  ]
}
