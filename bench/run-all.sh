#!/usr/bin/env bash
# Every speed measurement of issue 7 in one run, with one table of medians, ratios and targets:
# kernel backend throughput next to two C libnetfilter_queue programs and no rule, parallelism 1
# and N, UDP ping-pong latency, bytes allocated per packet (ThreadMXBean + JFR over >= 1M packets,
# segmentOffload off and on),
# TCP bulk with iperf3 (no rule, divert4j without and with segmentOffload, C nfq_one without and
# with NFQA_CFG_F_GSO), the simulation backend's divert-and-reinject loop (JMH), 64-byte UDP over
# IPv6 next to IPv4 (divert4j and C nfq_one on ip6tables / iptables rules, issue 13), and the pcap
# backend's inline segment next to a C libpcap bridge and a Linux bridge (UDP and TCP;
# org.divert4j.bench.pcap.PcapInlineBench, also bench/pcap-bench.sh --inline).
# Usage (root): bench/run-all.sh [--runs 5] [--seconds 3] [--warmup 1] [--payload 64] [--batch 64]
#               [--parallel 2] [--pings 20000] [--alloc-packets 1000000]
#               [--sections throughput,scaling,latency,alloc,tcp,sim,family,pcap-inline]
# The namespaces are d4j-<java pid>-*; they are removed by the program, and by this script's exit
# trap if the program dies.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "run-all.sh needs root (network namespaces, NFQUEUE, raw sockets)" >&2
  exit 1
fi
bench/build-c.sh
mvn -B -q -pl bench -am package -DskipTests -Dspotless.check.skip=true >/dev/null
# the pcap inline section runs when --sections is not given or names it
sections=
runs=()
prev=
for a in "$@"; do
  case "$prev" in
    --sections) sections=$a ;;
    --runs | --seconds | --warmup | --payload) runs+=("$prev" "$a") ;;
  esac
  prev=$a
done
. bench/bench-cleanup.sh
# --enable-native-access: jffi and JNA load native libraries (JEP 472 warns on JDK 24+; 16+ accept it)
if [ "$sections" != pcap-inline ]; then
  java --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar \
    org.divert4j.bench.kernel.KernelBench \
    --cdir bench/target/c "$@" &
  jpid=$!
  wait "$jpid"
  jpid=
fi
if [ -z "$sections" ] || [[ ",$sections," == *,pcap-inline,* ]]; then
  java --enable-native-access=ALL-UNNAMED -Xms512m -Xmx512m -XX:+UseParallelGC \
    -cp bench/target/benchmarks.jar org.divert4j.bench.pcap.PcapInlineBench \
    --cdir bench/target/c "${runs[@]}" &
  jpid=$!
  wait "$jpid"
fi
