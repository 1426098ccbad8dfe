#!/usr/bin/env bash
# Issue 16 acceptance: a 64-byte UDP flood (udp_blast, peer namespace) to udp_sink (host namespace)
# with `divert dump --sniff` running in the host namespace, next to no rule, and after the sniffer
# was killed with SIGKILL (its rules still in place, as a crash leaves them until the next open).
# Each run measures no rule, sniffer (after one uncounted flood that warms its JIT), killed, then
# no rule again after `divert rules cleanup`; the ratios are to the mean of the run's two no-rule
# figures (ratios within a run: the machine is shared).
# Usage (root): bench/sniff-bench.sh [--runs 5] [--seconds 3] [--payload 64] [--perf DIR]
# --perf DIR: also records a system-wide profile (perf record -a -g, 2 s) during each measurement,
# into DIR/<run>-<phase>.data (read with perf report -i ... --no-children --sort sym).
# Namespaces d4j-sniff-<pid>-{peer,host} are removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=5 secs=3 payload=64 perfdir=
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --seconds) secs=$2; shift 2 ;;
    --payload) payload=$2; shift 2 ;;
    --perf) perfdir=$2; shift 2 ;;
    *) echo "usage: $0 [--runs N] [--seconds S] [--payload BYTES] [--perf DIR]" >&2; exit 64 ;;
  esac
done
if [ "$(id -u)" != 0 ]; then
  echo "sniff-bench.sh needs root (network namespaces, NFLOG)" >&2
  exit 1
fi
bench/build-c.sh >/dev/null
c=bench/target/c
. bench/flood-pair.sh
dump=
cleanup() {
  if [ -n "$dump" ]; then kill -9 "$dump" 2>/dev/null || true; wait "$dump" 2>/dev/null || true; fi
  flood_pair_delete
}
trap cleanup EXIT
trap 'exit 130' INT TERM
flood_pair d4j-sniff-$$

if [ -n "$perfdir" ]; then mkdir -p "$perfdir"; fi

# CPU ticks (utime + stime, 1/CLK_TCK s) of the given processes, summed
ticks() {
  local t=0 pid
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] || continue
    t=$((t + $(sed 's/.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }')))
  done
  echo "$t"
}

# delivered datagrams per second at udp_sink during the flood, the sender's rate, and the CPU per
# datagram sent (us) of the sender, the sink, the sniffer's JVM if one runs, and ksoftirqd: the
# sender's figure holds the receive path, which veth runs in its softirq. On a machine shared with
# other work the rates follow the scheduler; the CPU per datagram much less. ($1: profile's name)
measure() {
  local soft
  soft=$(pgrep -x 'ksoftirqd/[0-9]+' | tr '\n' ' ')
  /usr/bin/time -f '%U %S' -o "$work/sink.cpu" \
    ip netns exec "$host" "$c/udp_sink" 9000 1 "$secs" >"$work/sink" &
  local sink=$! prof=
  # udp_blast's connected socket would stop at the first ICMP port unreachable: wait for the sink
  for _ in $(seq 1 200); do grep -q ready "$work/sink" && break; sleep 0.05; done
  if [ -n "$perfdir" ]; then
    (sleep 1.5 && perf record -q -a -g -o "$perfdir/$1.data" -- sleep 2 >/dev/null 2>&1) &
    prof=$!
  fi
  # shellcheck disable=SC2086 # lists of pids
  local t0
  t0=$(ticks ${dump:-} $soft)
  /usr/bin/time -f '%U %S' -o "$work/blast.cpu" \
    ip netns exec "$peer" "$c/udp_blast" 10.77.0.2 9000 "$payload" $((secs + 2)) >"$work/blast"
  # shellcheck disable=SC2086
  local t1
  t1=$(ticks ${dump:-} $soft)
  wait "$sink"
  if [ -n "$prof" ]; then wait "$prof" || true; fi
  # delivered pps (the sink's last line, after "ready"), offered pps (the sender's count), CPU us
  # per datagram sent
  tail -n 1 "$work/sink" | awk -v sent="$(cat "$work/blast")" -v t=$((secs + 2)) \
    -v cpu="$(cat "$work/blast.cpu" "$work/sink.cpu" | awk '{ s += $1 + $2 } END { print s }')" \
    -v other="$(((t1 - t0)))" -v hz="$(getconf CLK_TCK)" \
    '{ printf "%.0f %.0f %.3f", ($2 > 0 ? $1 / $2 : 0), sent / t,
       (sent > 0 ? (cpu + other / hz) * 1e6 / sent : 0) }'
}

armed() { ip netns exec "$host" iptables-save -t raw 2>/dev/null | grep -q -- '-j NFLOG --nflog-group 4200'; }

./divert backends >/dev/null # builds the cli once, outside the measurements
printf '%-4s %9s %9s %9s %9s %8s %8s | %s | %s\n' run "no rule" sniffer killed "no rule 2" \
  sniff/no kill/no "offered pps (no rule, sniffer, killed, no rule 2)" \
  "CPU us/datagram (same order), sniff/no, kill/no"
for r in $(seq 1 "$runs"); do
  base=$(measure "$r-norule")
  ./divert dump --backend rawsocket --netns "$host" --sniff --port 4200 \
    --rule "input -p udp --dport 9000" --quiet >"$work/dump.out" 2>"$work/dump.err" &
  dump=$!
  for _ in $(seq 1 100); do armed && break; sleep 0.1; done
  armed || { echo "the sniffer did not arm its rule:" >&2; cat "$work/dump.err" >&2; exit 1; }
  # one flood first, not counted: the sniffer's JIT compiles its receive path during it, so the
  # figure is its steady state (the JIT's CPU would otherwise count as the sniffer's, once)
  measure "$r-sniffer-warmup" >/dev/null
  sniff=$(measure "$r-sniffer")
  kill -9 "$dump"
  wait "$dump" 2>/dev/null || true
  dump=
  killed=$(measure "$r-killed")
  # the dead sniffer's rules stay until the next open; remove them, and measure no rule again
  ./divert rules cleanup --netns "$host" >/dev/null
  again=$(measure "$r-norule2")
  # ratios to the mean of the two no-rule figures around them (the load of the machine drifts)
  echo "$r $base $sniff $killed $again" | awk '{
    b = ($2 + $11) / 2
    c = ($4 + $13) / 2
    printf "%-4s %9d %9d %9d %9d %8.3f %8.3f | %d %d %d %d | %.3f %.3f %.3f %.3f %.3f %.3f\n",
      $1, $2, $5, $8, $11, (b > 0 ? $5 / b : 0), (b > 0 ? $8 / b : 0), $3, $6, $9, $12,
      $4, $7, $10, $13, (c > 0 ? $7 / c : 0), (c > 0 ? $10 / c : 0) }'
done
