#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, with ASan + UBSan) and runs each for
# SECONDS (default 60) from its checked-in seed corpus. `npm run fuzz -- 300`.
# Needs Debian's clang and libclang-rt-14-dev (.ci/run installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
out=build/fuzz
mkdir -p "$out"
CLANG=${CLANG:-$(command -v clang++ || command -v clang++-14 || true)}
if [ -z "$CLANG" ]; then echo "fuzz: clang++ not found (apt-get install clang libclang-rt-14-dev)"; exit 2; fi
# native/sources.gypi holds the list (a failure of the lister stops the script).
core_list=$(node scripts/sources.js core)
mapfile -t core <<< "$core_list"
flags=(-std=c++17 -O1 -g -pthread -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)
status=0
for target in fuzz_decode fuzz_config fuzz_recovery; do
  echo "== $target: building"
  "$CLANG" "${flags[@]}" "${core[@]}" "native/fuzz/$target.cc" -o "$out/$target"
  work="$out/corpus-$target"
  mkdir -p "$work"
  echo "== $target: ${seconds}s"
  if "$out/$target" -max_total_time="$seconds" -max_len=65536 -timeout=10 -print_final_stats=1 \
      "$work" "native/fuzz/corpus/$target" > "$out/$target.log" 2>&1; then
    grep -E "stat::number_of_executed_units|Done" "$out/$target.log" | tail -2
    echo "fuzz: $target passed"
  else
    tail -40 "$out/$target.log"
    echo "fuzz: $target FAILED"
    status=1
  fi
done
exit $status
