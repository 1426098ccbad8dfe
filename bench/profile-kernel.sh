#!/usr/bin/env bash
# A system-wide CPU profile (perf record -a -g) of one KernelBench section, with the JVM's frames
# named: the JVM runs with -XX:+PreserveFramePointer (perf walks Java frames) and writes a perf map
# at exit (/tmp/perf-<pid>.map, -XX:+DumpPerfMapAtExit), and a JFR recording with execution
# samples every millisecond (-XX:+DebugNonSafepoints, so inlined methods keep their own frames) and
# every allocation that takes a new TLAB or goes outside one, with its stack.
# The handler threads have their own names, so one recording splits by thread:
#   perf report -i DIR/perf.data --comm bench-reflector --no-children --sort dso,sym   (divert4j)
#   perf report -i DIR/perf.data --comm nfq_one --no-children --sort dso,sym           (C)
#   jfr print --events jdk.ExecutionSample DIR/bench.jfr
# Usage (root; after bench/build-c.sh and the bench jar are built, e.g. by bench/run-all.sh):
#   bench/profile-kernel.sh DIR [KernelBench options, e.g. --sections latency --runs 1 --pings 300000]
# The namespaces are d4j-<java pid>-*; the program removes them, and this script's exit trap does
# if it dies. Run it under the machine's benchmark lock like every measurement.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ] || [ $# -lt 1 ]; then
  echo "usage (root): $0 DIR [KernelBench options]" >&2
  exit 64
fi
dir=$1
shift
mkdir -p "$dir"
cat >"$dir/samples.jfc" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<configuration version="2.0" label="samples">
  <event name="jdk.ExecutionSample"><setting name="enabled">true</setting><setting name="period">1 ms</setting></event>
  <event name="jdk.NativeMethodSample"><setting name="enabled">true</setting><setting name="period">1 ms</setting></event>
  <event name="jdk.ObjectAllocationInNewTLAB"><setting name="enabled">true</setting><setting name="stackTrace">true</setting></event>
  <event name="jdk.ObjectAllocationOutsideTLAB"><setting name="enabled">true</setting><setting name="stackTrace">true</setting></event>
</configuration>
EOF
. bench/bench-cleanup.sh
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
perf record -q -a -g -F 999 -o "$dir/perf.data" -- \
  java --enable-native-access=ALL-UNNAMED -XX:+PreserveFramePointer \
  -XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit -XX:+DebugNonSafepoints \
  "-XX:StartFlightRecording=filename=$dir/bench.jfr,settings=$dir/samples.jfc" \
  -cp bench/target/benchmarks.jar org.divert4j.bench.kernel.KernelBench \
  --cdir bench/target/c "$@" >"$dir/bench.log" 2>&1 &
perfpid=$!
# the JVM is perf's child; the exit trap kills it and deletes its namespaces if this script dies
for _ in $(seq 50); do
  jpid=$(pgrep -P "$perfpid" java || true)
  [ -n "$jpid" ] && break
  sleep 0.1
done
wait "$perfpid"
jpid=
cat "$dir/bench.log"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "perf samples per thread name (999 Hz, so ~1 ms of CPU each):"
perf report -i "$dir/perf.data" --no-children --sort comm --stdio 2>/dev/null |
  grep -v '^#' | grep -v '^$' | head -15
