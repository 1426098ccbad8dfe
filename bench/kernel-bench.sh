#!/usr/bin/env bash
# Kernel backend benchmark: packets per second through a divert-and-reinject loop (UDP, 64-byte
# payload, peer namespace -> host namespace), next to no rule and next to a C libnetfilter_queue
# program with one verdict per packet, all in one run. Prints medians and ratios.
# Usage (root): bench/kernel-bench.sh [--runs 5] [--seconds 3] [--warmup 1] [--payload 64] [--batch 64]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "kernel-bench.sh needs root (network namespaces, NFQUEUE, raw sockets)" >&2
  exit 1
fi
out=bench/target/c
mkdir -p "$out"
gcc -O2 -Wall -o "$out/udp_blast" bench/c/udp_blast.c
gcc -O2 -Wall -o "$out/udp_sink" bench/c/udp_sink.c
gcc -O2 -Wall -o "$out/nfq_one" bench/c/nfq_one.c -lnetfilter_queue
mvn -B -q -pl bench -am package dependency:build-classpath \
  -DskipTests -Dspotless.check.skip=true -Dmdep.outputFile=target/classpath.txt >/dev/null
exec java -cp "bench/target/classes:$(cat bench/target/classpath.txt)" \
  org.divert4j.bench.kernel.KernelBench --cdir "$out" "$@"
