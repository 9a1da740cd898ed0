#!/usr/bin/env bash
# Builds both addons with AddressSanitizer + UndefinedBehaviorSanitizer and
# runs the vitest suite on them (Node itself is not instrumented, so the ASan
# runtime is preloaded and leak checking, which would report Node's own
# allocations, is off). Any sanitizer report fails the run. The power-loss
# suites run fewer rounds here (ASan is slower); npm test runs the full count.
# The addon directory is absolute: tests run children in other directories
# (test/readme.test.ts runs README's example in a temp project).
# test/package.test.ts is left out: it tests the packed tarball's production
# prebuild, which no sanitizer build takes part in.
set -euo pipefail
cd "$(dirname "$0")/.."
node scripts/build-native.js
node scripts/build-native.js --dir native/asan
npx tsc -p tsconfig.json
asan=$(g++ -print-file-name=libasan.so)
ubsan=$(g++ -print-file-name=libubsan.so)
log=$(mktemp)
set +e
LD_PRELOAD="$asan:$ubsan" ASAN_OPTIONS="detect_leaks=0:halt_on_error=1" UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
  COMMITLOG_POWER_ROUNDS=${COMMITLOG_POWER_ROUNDS:-400} COMMITLOG_CONFIG_POWER_ROUNDS=${COMMITLOG_CONFIG_POWER_ROUNDS:-1500} \
  COMMITLOG_ADDON_DIR="$PWD/native/asan/build/Release" npx vitest run --exclude test/core-sanitizers.test.ts --exclude test/package.test.ts "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
if grep -qE "ERROR: AddressSanitizer|runtime error:" "$log"; then echo "sanitizer reports found"; status=1; fi
rm -f "$log"
exit $status
