#!/usr/bin/env bash
# Builds the core (no Node) with its test driver under ThreadSanitizer and
# under AddressSanitizer + UndefinedBehaviorSanitizer, and runs both.
# Any sanitizer report fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/native-test
mkdir -p "$out"
CXX=${CXX:-g++}
# native/sources.gypi holds the list (a failure of the lister stops the script).
srcs_list=$(node scripts/sources.js core)
mapfile -t srcs <<< "$srcs_list"
srcs+=(native/test/core_test.cc)
common=(-std=c++17 -O1 -g -pthread -Wall -Wextra -Wno-unused-parameter -fno-omit-frame-pointer)
echo "== ThreadSanitizer"
$CXX "${common[@]}" -fsanitize=thread "${srcs[@]}" -o "$out/core_test_tsan"
TSAN_OPTIONS="halt_on_error=1 exitcode=66" "$out/core_test_tsan"
echo "== AddressSanitizer + UndefinedBehaviorSanitizer"
$CXX "${common[@]}" -fsanitize=address,undefined -fno-sanitize-recover=undefined "${srcs[@]}" -o "$out/core_test_asan"
ASAN_OPTIONS="detect_leaks=1 halt_on_error=1" "$out/core_test_asan"
