#!/usr/bin/env bash
# The pcap backend's throughput benchmarks.
#
# bench/pcap-bench.sh [--packets N] [--runs R] [--input FILE] [--dir DIR]
#   Savefile replay against tcpdump -r in.pcap -w out.pcap (org.divert4j.bench.pcap.PcapReplayBench).
#   Needs libpcap and tcpdump; no root.
# bench/pcap-bench.sh --inline [--runs 5] [--seconds 3] [--warmup 1] [--payload 64]
#   Inline mode: UDP (udp_blast -> udp_sink) and TCP (iperf3) across the segment in network
#   namespaces, against the C libpcap bridge bench/c/pcap_bridge.c and a Linux bridge
#   (org.divert4j.bench.pcap.PcapInlineBench). Needs root; builds the C programs with
#   bench/build-c.sh, which installs libpcap-dev and iperf3 when missing. The namespaces are
#   d4j-<java pid>-*; the program removes them, and this script's exit trap does if it dies.
set -euo pipefail
cd "$(dirname "$0")/.."
inline=0
if [ "${1:-}" = --inline ]; then
  inline=1
  shift
  if [ "$(id -u)" != 0 ]; then
    echo "pcap-bench.sh --inline needs root (network namespaces, live captures)" >&2
    exit 1
  fi
  bench/build-c.sh
fi
if [ ! -f bench/target/benchmarks.jar ] || [ "${REBUILD:-1}" = 1 ]; then
  mvn -B -q -pl bench -am package -DskipTests -Dspotless.check.skip=true >&2
fi
# --enable-native-access: JNA loads a native library (JEP 472 warns on JDK 24+; 16+ accept it)
if [ "$inline" = 0 ]; then
  exec java --enable-native-access=ALL-UNNAMED -Xms512m -Xmx512m -XX:+UseParallelGC \
    -cp bench/target/benchmarks.jar org.divert4j.bench.pcap.PcapReplayBench "$@"
fi
. bench/bench-cleanup.sh
java --enable-native-access=ALL-UNNAMED -Xms512m -Xmx512m -XX:+UseParallelGC \
  -cp bench/target/benchmarks.jar org.divert4j.bench.pcap.PcapInlineBench \
  --cdir bench/target/c "$@" &
jpid=$!
wait "$jpid"
