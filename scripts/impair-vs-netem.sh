#!/usr/bin/env bash
# impair-vs-netem.sh: `divert impair` (rawsocket backend) side by side with the kernel's own
# emulation, in the same run, on the same two network namespaces joined by a veth pair:
#   - the round trip ping adds with --delay 20ms against `netem delay 20ms` (median and p99);
#   - the loss ping sees with --loss 10% against `netem loss 10%`;
#   - the TCP throughput iperf3 gets through --rate against `netem rate`.
# Kernels built without netem (CONFIG_NET_SCH_NETEM) get the nearest built-in references instead,
# named in the table: for loss an iptables `statistic` DROP rule in the script's own namespace, for
# the rate a `tbf` qdisc; the delay has no other kernel reference, so its column says so.
# Prints a Markdown table (docs/impair.md shows one). Needs root, ping, tc, iperf3 and python3.
# Makes its own namespaces (ivn<pid>a, ivn<pid>b) and removes them, and everything in them, on exit.
#
# Environment: PINGS (RTT samples, default 500), LOSS_PINGS (default 2000), IPERF_SECONDS
# (default 5), DELAY (default 20ms), LOSS (default 10%), RATE (default 10mbit), BURST (the tbf
# and divert token bucket depth when netem is missing, default 16k), SEED (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

PINGS="${PINGS:-500}"
LOSS_PINGS="${LOSS_PINGS:-2000}"
IPERF_SECONDS="${IPERF_SECONDS:-5}"
DELAY="${DELAY:-20ms}"
LOSS="${LOSS:-10%}"
RATE="${RATE:-10mbit}"
SEED="${SEED:-1}"
BURST="${BURST:-16k}"

say() { printf 'impair-vs-netem: %s\n' "$*" >&2; }
[ "$(id -u)" = 0 ] || { say "needs root (namespaces, tc, the rawsocket backend)"; exit 1; }
for tool in ip tc ping iperf3 python3; do
  command -v "$tool" >/dev/null || { say "needs $tool (e.g. apt-get install iperf3)"; exit 1; }
done

A="ivn$$a"
B="ivn$$b"
tmp="$(mktemp -d)"
impair_pid=""

cleanup() {
  if [ -n "$impair_pid" ] && kill -0 "$impair_pid" 2>/dev/null; then
    kill -TERM "$impair_pid" 2>/dev/null || true
    wait "$impair_pid" 2>/dev/null || true
  fi
  if [ -f "$tmp/iperf.pid" ]; then
    kill "$(cat "$tmp/iperf.pid")" 2>/dev/null || true
  fi
  ip netns del "$A" 2>/dev/null || true
  ip netns del "$B" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Build the command first, so its first run's build is not timed.
"$root/divert" --version >/dev/null

ip netns add "$A"
ip netns add "$B"
ip link add va netns "$A" type veth peer name vb netns "$B"
ip -n "$A" addr add 10.77.0.1/24 dev va
ip -n "$B" addr add 10.77.0.2/24 dev vb
for ns in "$A" "$B"; do ip -n "$ns" link set lo up; done
ip -n "$A" link set va up
ip -n "$B" link set vb up
in_a() { ip netns exec "$A" "$@"; }
in_b() { ip netns exec "$B" "$@"; }
in_a ping -c 3 -i 0.2 -W 2 10.77.0.2 >/dev/null || { say "the namespaces cannot ping"; exit 1; }
if in_a tc qdisc add dev lo root netem delay 1ms 2>/dev/null; then
  in_a tc qdisc del dev lo root
  netem=1
else
  netem=0
  say "this kernel has no netem (CONFIG_NET_SCH_NETEM): loss is compared with iptables statistic,"
  say "the rate with tbf, and the delay with nothing"
fi

# RTT samples in ms, one per line, sorted.
rtts() {
  # A few pings first, so every column is measured warm (the JVM's first packets are slow).
  in_a ping -q -c 20 -i 0.01 -W 2 10.77.0.2 >/dev/null || true
  in_a ping -c "$PINGS" -i 0.01 -W 2 10.77.0.2 | sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' | sort -n
}
# "median p99" of sorted samples on stdin.
stats() {
  awk '{ a[NR] = $1 } END {
    if (NR == 0) { print "- -"; exit }
    m = a[int((NR + 1) / 2)]; i = int(NR * 0.99); if (i < NR * 0.99) i++; if (i < 1) i = 1
    printf "%.3f %.3f %d\n", m, a[i], NR }'
}
# Loss in percent of LOSS_PINGS pings.
loss() {
  in_a ping -q -c "$LOSS_PINGS" -i 0.002 -W 1 10.77.0.2 |
    sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\) received.*/\1 \2/p' |
    awk '{ printf "%.2f", ($1 - $2) * 100 / $1 }'
}
iperf() {
  in_a iperf3 -c 10.77.0.2 -p 5201 -t "$IPERF_SECONDS" -J >"$tmp/iperf.json" || true
  python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
print("%.2f" % (d["end"]["sum_received"]["bits_per_second"] / 1e6))' "$tmp/iperf.json" 2>/dev/null ||
    echo "failed"
}
# divert impair in a namespace, in the background, until stop_impair (SIGTERM: a background job
# of a script ignores SIGINT).
start_impair() {
  local ns="$1"
  shift
  rm -f "$tmp/impair.out" "$tmp/impair.err"
  "$root/divert" impair --netns "$ns" --port 77 --seed "$SEED" "$@" \
    >"$tmp/impair.out" 2>"$tmp/impair.err" &
  impair_pid=$!
  for _ in $(seq 1 600); do
    grep -q 'Ctrl-C to stop' "$tmp/impair.err" 2>/dev/null && return 0
    kill -0 "$impair_pid" 2>/dev/null || break
    sleep 0.1
  done
  say "divert impair did not start:"
  cat "$tmp/impair.err" >&2
  exit 1
}
stop_impair() {
  kill -TERM "$impair_pid"
  wait "$impair_pid" || true
  impair_pid=""
  say "divert impair $(head -n 1 "$tmp/impair.err" | sed 's/; Ctrl-C to stop//')"
  sed 's/^/    /' "$tmp/impair.out" >&2
}

say "RTT: $PINGS pings each, baseline / netem delay $DELAY / divert impair --delay $DELAY"
read -r base_med base_p99 base_n < <(rtts | stats)
if [ "$netem" = 1 ]; then
  in_b tc qdisc add dev vb root netem delay "$DELAY"
  read -r netem_med netem_p99 netem_n < <(rtts | stats)
  in_b tc qdisc del dev vb root
  delay_ref="netem delay $DELAY"
else
  netem_med=-
  netem_p99=-
  netem_n=-
  delay_ref="no netem: none"
fi
start_impair "$B" --rule "input icmp" --delay "$DELAY"
read -r div_med div_p99 div_n < <(rtts | stats)
stop_impair
# The same path with nothing added: what diverting through user space costs by itself.
start_impair "$B" --rule "input icmp"
read -r pass_med pass_p99 pass_n < <(rtts | stats)
stop_impair

say "loss: $LOSS_PINGS pings each, baseline / netem loss $LOSS / divert impair --loss $LOSS"
base_loss="$(loss)"
if [ "$netem" = 1 ]; then
  in_b tc qdisc add dev vb root netem loss "$LOSS"
  netem_loss="$(loss)"
  in_b tc qdisc del dev vb root
  loss_ref="netem loss $LOSS"
else
  # The same packets divert impair drops: echo requests arriving in B.
  p="$(python3 -c 'import sys; v=sys.argv[1]; print(float(v[:-1])/100 if v.endswith("%") else float(v))' "$LOSS")"
  in_b iptables -I INPUT -p icmp --icmp-type echo-request -m statistic --mode random \
    --probability "$p" -j DROP
  netem_loss="$(loss)"
  in_b iptables -D INPUT -p icmp --icmp-type echo-request -m statistic --mode random \
    --probability "$p" -j DROP
  loss_ref="iptables statistic $LOSS"
fi
start_impair "$B" --rule "input icmp" --loss "$LOSS"
div_loss="$(loss)"
stop_impair

say "iperf3: ${IPERF_SECONDS}s TCP each, baseline / netem rate $RATE / divert impair --rate $RATE"
in_b iperf3 -s -p 5201 -D --pidfile "$tmp/iperf.pid"
sleep 0.5
base_tput="$(iperf)"
if [ "$netem" = 1 ]; then
  in_a tc qdisc add dev va root netem rate "$RATE"
  rate_ref="netem rate $RATE"
  burst_opt=()
else
  in_a tc qdisc add dev va root tbf rate "$RATE" burst "$BURST" latency 100ms
  rate_ref="tbf rate $RATE burst $BURST latency 100ms"
  burst_opt=(--burst "$BURST")
fi
netem_tput="$(iperf)"
ref_drops="$(in_a tc -s qdisc show dev va | sed -n 's/.*(dropped \([0-9]*\),.*/\1/p' | head -n 1)"
in_a tc qdisc del dev va root
start_impair "$A" --rule "output tcp dport 5201" --rate "$RATE" "${burst_opt[@]}" --rate-queue 100ms
div_tput="$(iperf)"
stop_impair
div_drops="$(sed -n 's/^rate-dropped \([0-9]*\),.*/\1/p' "$tmp/impair.out")"

add() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-") print "-"; else printf "%+.3f", a - b }'; }
cat <<EOF

| measure | baseline | kernel reference | divert impair |
|---|---|---|---|
| ping RTT median, ms ($DELAY one way; ref: $delay_ref) | $base_med | $netem_med ($(add "$netem_med" "$base_med")) | $div_med ($(add "$div_med" "$base_med")) |
| ping RTT p99, ms | $base_p99 | $netem_p99 ($(add "$netem_p99" "$base_p99")) | $div_p99 ($(add "$div_p99" "$base_p99")) |
| replies of $PINGS pings | $base_n | $netem_n | $div_n |
| ping RTT median / p99, ms, divert impair adding nothing | | | $pass_med ($(add "$pass_med" "$base_med")) / $pass_p99 ($(add "$pass_p99" "$base_p99")) |
| loss of $LOSS_PINGS pings, % ($LOSS asked; ref: $loss_ref) | $base_loss | $netem_loss | $div_loss |
| iperf3 TCP, Mbit/s ($RATE asked; ref: $rate_ref) | $base_tput | $netem_tput | $div_tput |
| packets the rate limit dropped (qdisc counter; rate-dropped) | | ${ref_drops:--} | ${div_drops:--} |
EOF
