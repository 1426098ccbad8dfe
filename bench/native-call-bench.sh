#!/usr/bin/env bash
# The cost of one native call, JNR-FFI against the Java FFM API: JnrCallBenchmark and, when the jar
# was built on JDK 22+, ffm.FfmCallBenchmark (send(-1, ...), failing with EBADF). Builds the uber-jar
# with the JDK in JAVA_HOME (or on the PATH), then runs ROUNDS JMH rounds (default 3; each: every
# benchmark, one fork, 2 x 1 s warm-up, 5 x 1 s), interleaved so that a change of load hits all
# variants alike. With perf installed, JMH's perfnorm profiler also gives the CPU time per call
# (perf's task-clock of the forked JVM while measuring), which other programs on the machine
# disturb far less than wall time. Prints a summary (python3); JSON and logs stay in bench/target/ncb.
# Usage: [JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64] bench/native-call-bench.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
java=java
if [ -n "${JAVA_HOME:-}" ]; then java="$JAVA_HOME/bin/java"; fi
if [ "${REBUILD:-1}" = 1 ]; then
  # A jar built earlier by another JDK may hold (or lack) the FFM classes: build from clean.
  rm -rf bench/target
  mvn -B -q -pl bench -am package -DskipTests >&2
fi
out=bench/target/ncb
mkdir -p "$out"
prof=()
if command -v perf >/dev/null 2>&1 && perf stat -e task-clock true >/dev/null 2>&1; then
  prof=(-prof 'perfnorm:events=task-clock')
fi
for r in $(seq 1 "$rounds"); do
  echo "round $r of $rounds, $(date -u +%T) UTC, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  "$java" -jar bench/target/benchmarks.jar 'JnrCallBenchmark|FfmCallBenchmark' \
    -f 1 -wi 2 -w 1s -i 5 -r 1s ${prof[@]+"${prof[@]}"} -rf json -rff "$out/round$r.json" \
    >"$out/round$r.log" 2>&1
done
echo "end, $(date -u +%T) UTC, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys
out, n = sys.argv[1], int(sys.argv[2])
rounds = [{b["benchmark"].rsplit(".", 2)[-2] + "." + b["benchmark"].rsplit(".", 1)[-1]:
           (b["primaryMetric"]["score"],
            b["secondaryMetrics"]["task-clock"]["score"] * 1e6  # perf reports msec
            if "task-clock" in b["secondaryMetrics"] else None)
           for b in json.load(open(f"{out}/round{i}.json"))} for i in range(1, n + 1)]
names = sorted({k for r in rounds for k in r})
print(f"{'benchmark':36s} {'wall ns/call':>14s} {'CPU ns/call':>12s} {'CPU range':>14s}")
for k in names:
    w = [r[k][0] for r in rounds if k in r]
    c = [r[k][1] for r in rounds if k in r and r[k][1] is not None]
    cpu = f"{statistics.median(c):12.1f} {min(c):6.1f}-{max(c):6.1f}" if c else f"{'n/a':>12s}"
    print(f"{k:36s} {statistics.median(w):14.1f} {cpu}")
pairs = [("FfmCallBenchmark.send", "JnrCallBenchmark.sendIgnoreError"),
         ("FfmCallBenchmark.sendCaptureErrno", "JnrCallBenchmark.sendAndErrno"),
         ("FfmCallBenchmark.sendCaptureErrno", "JnrCallBenchmark.send"),
         ("FfmCallBenchmark.sendCritical", "JnrCallBenchmark.sendIgnoreError")]
for a, b in pairs:
    for i, label in ((0, "wall"), (1, "CPU")):
        x = [r[a][i] / r[b][i] for r in rounds if a in r and b in r and r[a][i] and r[b][i]]
        if x:
            print(f"{label} {a} / {b}: run-by-run median {statistics.median(x):.2f}"
                  f" [{min(x):.2f}-{max(x):.2f}]")
PY
