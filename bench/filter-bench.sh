#!/usr/bin/env bash
# Issue 14's kernel filter rows (KernelFilterBench): 64-byte UDP with (a) a rule whose filter
# matches nothing against no rule, (b) a 10-term filter matching everything against the same rule
# without a filter; ratios of medians within one run.
# Usage (root): bench/filter-bench.sh [--runs 5] [--seconds 3] [--warmup 1] [--payload 64] [--batch 64]
#   [--modes a|b|all] (one target's two modes) [--perf DIR] (perf record -a -g during each measurement)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "filter-bench.sh needs root (network namespaces, NFQUEUE, raw sockets)" >&2
  exit 1
fi
bench/build-c.sh
mvn -B -q -pl bench -am package -DskipTests -Dspotless.check.skip=true >/dev/null
. bench/bench-cleanup.sh
java --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar \
  org.divert4j.bench.kernel.KernelFilterBench --cdir bench/target/c "$@" &
jpid=$!
wait "$jpid"
