#!/usr/bin/env bash
# Savefile replay throughput of the pcap backend against tcpdump -r in.pcap -w out.pcap.
# Builds the bench uber-jar, then runs org.divert4j.bench.pcap.PcapReplayBench; arguments are
# passed on (--packets N, --runs R, --input FILE, --dir DIR). Needs libpcap and tcpdump; no root.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f bench/target/benchmarks.jar ] || [ "${REBUILD:-1}" = 1 ]; then
  mvn -B -q -pl bench -am package -DskipTests >&2
fi
# --enable-native-access: JNA loads a native library (JEP 472 warns on JDK 24+; 16+ accept it)
exec java --enable-native-access=ALL-UNNAMED -Xms512m -Xmx512m -XX:+UseParallelGC \
  -cp bench/target/benchmarks.jar org.divert4j.bench.pcap.PcapReplayBench "$@"
