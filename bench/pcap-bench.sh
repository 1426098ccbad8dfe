#!/usr/bin/env bash
# Savefile replay throughput of the pcap backend against tcpdump -r in.pcap -w out.pcap.
# Builds the bench uber-jar, then runs org.divert4j.bench.pcap.PcapReplayBench; arguments are
# passed on (--packets N, --runs R, --input FILE, --dir DIR). Needs libpcap and tcpdump; no root.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f bench/target/benchmarks.jar ] || [ "${REBUILD:-1}" = 1 ]; then
  mvn -B -q -pl bench -am package -DskipTests >&2
fi
exec java -Xms512m -Xmx512m -XX:+UseParallelGC \
  -cp bench/target/benchmarks.jar org.divert4j.bench.pcap.PcapReplayBench "$@"
