#!/usr/bin/env bash
# tck-repeat.sh: runs each backend's TCK N times in a row, to find flaky tests (see tck/README.md).
#
#   scripts/tck-repeat.sh [-n RUNS] [--load] [--rule S15,S27] [--backend NAME]... [--keep DIR]
#
# Every run is `./divert tck --backend NAME --require-available` in a fresh JVM. Each failed test
# is printed as it happens, with its backend, run number and rule; a table at the end gives, per
# backend, the runs, the runs that failed and the failures per rule. With --load, `stress-ng --cpu
# 2` (Debian package stress-ng) keeps both CPUs busy for the whole time and is stopped at the end.
# Default: 5 runs of sim, rawsocket and pcap, idle. The kernel and pcap backends need root (their
# test beds are network namespaces); without it their tests fail as unavailable.
#
# Exit status: 0 if every run of every backend was compatible, 1 otherwise, 64 on bad usage.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs=5
load=0
rules=""
keep=""
backends=()

usage() {
  sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 64
}

while [ $# -gt 0 ]; do
  case "$1" in
    -n | --runs) runs="${2:?}"; shift 2 ;;
    --load) load=1; shift ;;
    --rule | --rules) rules="${2:?}"; shift 2 ;;
    --backend) backends+=("${2:?}"); shift 2 ;;
    --keep) keep="${2:?}"; shift 2 ;;
    -h | --help) usage ;;
    *) echo "tck-repeat: unknown argument: $1" >&2; usage ;;
  esac
done
case "$runs" in '' | *[!0-9]* | 0) echo "tck-repeat: -n needs a positive number" >&2; exit 64 ;; esac
[ ${#backends[@]} -gt 0 ] || backends=(sim rawsocket pcap)

out="${keep:-$(mktemp -d /tmp/tck-repeat.XXXXXX)}"
mkdir -p "$out"
stress_pid=""
cleanup() {
  if [ -n "$stress_pid" ]; then
    kill "$stress_pid" 2>/dev/null || true
    wait "$stress_pid" 2>/dev/null || true
  fi
  if [ -z "$keep" ]; then
    rm -rf "$out"
  fi
}
trap cleanup EXIT

if [ "$load" = 1 ]; then
  command -v stress-ng >/dev/null || { echo "tck-repeat: --load needs stress-ng (apt-get install stress-ng)" >&2; exit 64; }
  stress-ng --cpu 2 --quiet &
  stress_pid=$!
fi

# The launcher builds on first use; build once here so that the first run is not also a build.
"$root/divert" --help >/dev/null

label="idle"
[ "$load" = 1 ] && label="stress-ng --cpu 2"
echo "tck-repeat: ${runs} runs of ${backends[*]}, ${label}, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"

declare -A failed_runs rule_counts
status=0
for b in "${backends[@]}"; do
  failed_runs[$b]=0
  for i in $(seq 1 "$runs"); do
    log="$out/$b-$i.txt"
    args=(tck --backend "$b" --require-available)
    [ -n "$rules" ] && args+=(--rule "$rules")
    start=$(date +%s)
    rc=0
    "$root/divert" "${args[@]}" >"$log" 2>&1 || rc=$?
    secs=$(($(date +%s) - start))
    if [ "$rc" = 0 ]; then
      echo "run $i $b: compatible (${secs} s)"
      continue
    fi
    status=1
    failed_runs[$b]=$((failed_runs[$b] + 1))
    echo "run $i $b: exit $rc (${secs} s)"
    # The report lists failed tests under "<backend>: failed ...:", one indented line each.
    found=0
    while IFS= read -r line; do
      found=1
      rule="$(sed -E 's/^ *(S[0-9]+).*/\1/' <<<"$line")"
      key="$b $rule"
      rule_counts[$key]=$((${rule_counts[$key]:-0} + 1))
      echo "  FAIL run $i $b $rule: $(sed -E 's/^ +//' <<<"$line")"
    done < <(awk -v b="$b" '
      $0 ~ "^" b ": failed" { on = 1; next }
      on && /^  S[0-9]+/ { print; next }
      on && !/^  / { on = 0 }' "$log")
    if [ "$found" = 0 ]; then
      rule_counts["$b (no rule)"]=$((${rule_counts["$b (no rule)"]:-0} + 1))
      echo "  FAIL run $i $b: no failed test named; last lines:"
      tail -5 "$log" | sed 's/^/    /'
    fi
  done
done

echo
echo "tck-repeat summary (${label}; ${runs} runs per backend)"
printf '%-10s %5s %12s  %s\n' backend runs "failed runs" "failures by rule"
for b in "${backends[@]}"; do
  by_rule=""
  for key in "${!rule_counts[@]}"; do
    case "$key" in "$b "*) by_rule+="${key#"$b "}=${rule_counts[$key]} " ;; esac
  done
  printf '%-10s %5s %12s  %s\n' "$b" "$runs" "${failed_runs[$b]}" "${by_rule:-none}"
done
[ -n "$keep" ] && echo "logs: $out"
exit "$status"
