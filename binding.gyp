{
  # The package's addon; the source list is native/sources.gypi.
  "includes": ["native/sources.gypi"],
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
      "sources": ["<@(commitlog_core_files)", "<@(commitlog_binding_files)"],
      "conditions": [
        ["OS == 'linux'", {
          # The C++ runtime goes inside the addon: a prebuild then needs only
          # glibc (README states the floor), not the GLIBCXX_3.4.x of the
          # machine that built it, which older distributions lack. libgcc
          # stays shared: its static unwinder calls _dl_find_object, which
          # would raise the glibc floor to 2.35, while libgcc_s.so.1 is on
          # every glibc system. The runtime's symbols stay private to the
          # addon (no clash with Node's own), which also lets the linker drop
          # its unused parts: random_device's arc4random would need glibc 2.36.
          "ldflags": ["-static-libstdc++", "-Wl,--exclude-libs,ALL", "-Wl,--gc-sections"]
        }]
      ]
    }
  ]
}
