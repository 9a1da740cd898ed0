#!/usr/bin/env bash
# Builds the core (no Node) with its test driver under ThreadSanitizer and
# under AddressSanitizer + UndefinedBehaviorSanitizer, and runs both.
# Any sanitizer report fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/native-test
mkdir -p "$out"
CXX=${CXX:-g++}
srcs=(native/core/atomic_file.cc native/core/batch.cc native/core/checkpoint.cc native/core/committer.cc
      native/core/config_file.cc native/core/crc32c.cc native/core/cut.cc native/core/head.cc native/core/io_posix.cc native/core/log.cc native/core/log_reader.cc
      native/core/reader.cc native/core/recovery.cc native/core/recycle.cc native/core/retention.cc native/core/segment.cc native/core/segment_index.cc native/core/segment_read.cc native/core/stats.cc native/core/status.cc
      native/test/core_test.cc)
common=(-std=c++17 -O1 -g -pthread -Wall -Wextra -Wno-unused-parameter -fno-omit-frame-pointer)
echo "== ThreadSanitizer"
$CXX "${common[@]}" -fsanitize=thread "${srcs[@]}" -o "$out/core_test_tsan"
TSAN_OPTIONS="halt_on_error=1 exitcode=66" "$out/core_test_tsan"
echo "== AddressSanitizer + UndefinedBehaviorSanitizer"
$CXX "${common[@]}" -fsanitize=address,undefined -fno-sanitize-recover=undefined "${srcs[@]}" -o "$out/core_test_asan"
ASAN_OPTIONS="detect_leaks=1 halt_on_error=1" "$out/core_test_asan"
