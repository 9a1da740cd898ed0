{
  # Test-only: the test addon (production code plus FaultIo, which passes
  # every call through until armed) built with AddressSanitizer and
  # UndefinedBehaviorSanitizer, for `npm run test:asan` (scripts/test-asan.sh).
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
      "cflags_cc": ["-std=c++17", "-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined",
                    "-fno-sanitize-recover=undefined", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc!": ["-fno-rtti"],
      "ldflags": ["-fsanitize=address,undefined"]
    }
  ]
}
