{
  # The test-only addon: the production sources plus a fault-injecting Io
  # (crash points, injected EIO/ENOSPC). Built by scripts/build-native.js for
  # `npm test`; never part of the package's binary or its prebuilds.
  "includes": ["../sources.gypi"],
  "targets": [
    {
      "target_name": "commitlog_test",
      "sources": ["<@(commitlog_core_files)", "<@(commitlog_fault_files)", "<@(commitlog_binding_files)"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "COMMITLOG_FAULT_INJECTION"],
      "cflags_cc": ["-std=c++17", "-O1", "-g", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc!": ["-fno-rtti"]
    }
  ]
}
