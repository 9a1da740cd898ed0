{
  # Test-only: the test addon (production code plus FaultIo, which passes
  # every call through until armed) built with AddressSanitizer and
  # UndefinedBehaviorSanitizer, for `npm run test:asan` (scripts/test-asan.sh).
  "includes": ["../sources.gypi"],
  "targets": [
    {
      "target_name": "commitlog_test",
      "sources": ["<@(commitlog_core_files)", "<@(commitlog_fault_files)", "<@(commitlog_binding_files)"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "COMMITLOG_FAULT_INJECTION"],
      "cflags_cc": ["-std=c++17", "-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined",
                    "-fno-sanitize-recover=undefined", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc!": ["-fno-rtti"],
      "ldflags": ["-fsanitize=address,undefined"]
    }
  ]
}
