#!/usr/bin/env bash
# What the kernel itself allows, next to divert4j, for issue 14's and 16's 64-byte UDP flood targets
# (a rule whose filter matches nothing, and a sniffer, each at >= 0.95x the delivered pps of no
# rule). Same namespaces, veth pair, udp_blast and udp_sink as sniff-bench.sh; per run, one
# measurement of each row in this order, ratios to the mean of the run's first and last no-rule
# figures, and at the end the median over runs of each ratio.
#
# Rows (hand-written rule sets in the host namespace's raw PREROUTING, nothing of divert4j running,
# unless the row says divert4j):
#   none            no rule line (the raw table's built-in chains are there, empty)
#   hook            one native line the traffic does not match (-p tcp): the cost of having a hook
#   bpf-line        one line, -p udp --dport 9000 and the xt_bpf program that divert4j compiles for
#                   "udp.Payload[0] == 0x16" (it does not match the zero payload), then MARK
#   native-line     the same decision in native nf_tables expressions (a payload compare, no xt_bpf)
#                   (needs the nft binary; skipped, with the reason, without it)
#   d4j-filter      divert4j: divert dump with "input -p udp --dport 9000 filter \"udp.Payload[0] == 0x16\""
#   nflog-line      one line -p udp --dport 9000 -j NFLOG --nflog-group 4200, no reader
#   nflog-read      the same line with bench/c/nflog_read bound (C, batches of 64, counts only)
#   log-native-read native "log group 4200" and nflog_read (needs nft)
#   tcpdump         no rule; tcpdump -i veth-h "udp port 9000" -w /dev/null (AF_PACKET, for scale)
#   d4j-sniff       divert4j: divert dump --sniff --rule "input -p udp --dport 9000"
# (both divert4j rows flood once, uncounted, before their measurement: the JVM starts up and
# compiles its paths then, so the row is its steady state)
#
# Usage (root): bench/kernel-floor.sh [--runs 7] [--seconds 3] [--rows "none hook ..."]
# Namespaces d4j-floor-<pid>-{peer,host} are removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=7 secs=3 rows="hook bpf-line native-line d4j-filter nflog-line nflog-read log-native-read tcpdump d4j-sniff"
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --seconds) secs=$2; shift 2 ;;
    --rows) rows=$2; shift 2 ;;
    *) echo "usage: $0 [--runs N] [--seconds S] [--rows \"ROW ...\"]" >&2; exit 64 ;;
  esac
done
if [ "$(id -u)" != 0 ]; then
  echo "kernel-floor.sh needs root (network namespaces, netfilter, NFLOG)" >&2
  exit 1
fi
bench/build-c.sh >/dev/null
c=bench/target/c
. bench/flood-pair.sh
bg=
stop_bg() {
  if [ -n "$bg" ]; then kill "$bg" 2>/dev/null || true; wait "$bg" 2>/dev/null || true; fi
  bg=
}
cleanup() {
  stop_bg
  flood_pair_delete
}
trap cleanup EXIT
trap 'exit 130' INT TERM
flood_pair d4j-floor-$$
# the raw table's built-in chains exist from here on, empty in the none row, as on any host where
# iptables has run and as in filter-bench.sh's and sniff-bench.sh's no-rule rows (an nf_tables base
# chain registers its hook when it is made, empty or not)
ip netns exec "$host" iptables -t raw -A PREROUTING -p tcp -j ACCEPT
ip netns exec "$host" iptables -t raw -F PREROUTING

./divert backends >/dev/null # builds the cli once, outside the measurements
filter='udp.Payload[0] == 0x16'
# the program divert4j compiles for the filter, as divert filter check prints it
bytecode=$(./divert filter check "$filter" | sed -n 's/.*-m bpf --bytecode "\([^"]*\)".*/\1/p' | head -n 1)
[ -n "$bytecode" ] || { echo "kernel-floor: divert filter check printed no BPF program" >&2; exit 1; }
have_nft=$(command -v nft >/dev/null && echo yes || echo no)

# delivered datagrams per second at udp_sink during a flood
measure() {
  ip netns exec "$host" "$c/udp_sink" 9000 1 "$secs" >"$work/sink" &
  local sink=$!
  for _ in $(seq 1 200); do grep -q ready "$work/sink" && break; sleep 0.05; done
  ip netns exec "$peer" "$c/udp_blast" 10.77.0.2 9000 64 $((secs + 2)) >/dev/null
  wait "$sink"
  tail -n 1 "$work/sink" | awk '{ printf "%.0f", ($2 > 0 ? $1 / $2 : 0) }'
}

clear_rules() {
  ip netns exec "$host" iptables -t raw -F
  ip netns exec "$host" iptables -t raw -X
  if [ "$have_nft" = yes ]; then ip netns exec "$host" nft delete table ip floor 2>/dev/null || true; fi
  ./divert rules cleanup --netns "$host" >/dev/null 2>&1 || true
}
iptables_rule() { ip netns exec "$host" iptables -t raw -A PREROUTING "$@"; }
nft_rule() { # a native base chain at the raw priority, holding one rule
  ip netns exec "$host" nft -f - <<NFT
table ip floor {
  chain pre {
    type filter hook prerouting priority -300;
    $1
  }
}
NFT
}
armed() { ip netns exec "$host" iptables-save -t raw 2>/dev/null | grep -q -- "$1"; }
start_dump() { # divert dump in the host namespace, until its rule is armed (grep pattern $1)
  local pattern=$1
  shift
  ./divert dump --backend rawsocket --netns "$host" --quiet "$@" >"$work/dump.out" 2>"$work/dump.err" &
  bg=$!
  for _ in $(seq 1 150); do armed "$pattern" && return 0; sleep 0.1; done
  echo "kernel-floor: divert dump did not arm its rule:" >&2
  cat "$work/dump.err" >&2
  exit 1
}
start_reader() {
  ip netns exec "$host" "$c/nflog_read" 4200 >"$work/reader.out" 2>"$work/reader.err" &
  bg=$!
  for _ in $(seq 1 100); do grep -q bound "$work/reader.err" && return 0; sleep 0.05; done
  echo "kernel-floor: nflog_read did not bind:" >&2
  cat "$work/reader.err" >&2
  exit 1
}

# one row: set it up, measure, tear it down; prints the pps, or "-" when the row cannot run here
row() {
  local r=$1 v
  clear_rules
  case "$r" in
    none) ;;
    hook) iptables_rule -p tcp -j ACCEPT ;;
    bpf-line)
      iptables_rule -p udp --dport 9000 -m bpf --bytecode "$bytecode" -j MARK --set-xmark 0x40800000/0xff800000 ;;
    native-line)
      [ "$have_nft" = yes ] || { echo -; return; }
      nft_rule 'udp dport 9000 @th,64,8 0x16 meta mark set meta mark & 0x007fffff | 0x40800000' ;;
    d4j-filter)
      start_dump 'NFQUEUE' --rule "input -p udp --dport 9000 filter \"$filter\""
      measure >/dev/null ;; # the JVM's start-up and JIT settle first, not counted
    nflog-line) iptables_rule -p udp --dport 9000 -j NFLOG --nflog-group 4200 ;;
    nflog-read)
      iptables_rule -p udp --dport 9000 -j NFLOG --nflog-group 4200
      start_reader ;;
    log-native-read)
      [ "$have_nft" = yes ] || { echo -; return; }
      nft_rule 'udp dport 9000 log group 4200'
      start_reader ;;
    tcpdump)
      ip netns exec "$host" tcpdump -q -i veth-h -w /dev/null 'udp port 9000' 2>"$work/tcpdump.err" &
      bg=$!
      for _ in $(seq 1 100); do grep -q listening "$work/tcpdump.err" && break; sleep 0.05; done ;;
    d4j-sniff)
      start_dump 'NFLOG --nflog-group 4200' --sniff --port 4200 --rule "input -p udp --dport 9000"
      measure >/dev/null ;; # warms the sniffer's JIT, not counted
    *) echo "kernel-floor: unknown row $r" >&2; exit 64 ;;
  esac
  v=$(measure)
  stop_bg
  echo "$v"
}

[ "$have_nft" = yes ] || echo "kernel-floor: no nft binary: the native rows are skipped (apt-get install nftables)" >&2
printf '%-4s' run
for r in none $rows none; do printf ' %15s' "$r"; done
echo
for i in $(seq 1 "$runs"); do
  line=$i
  for r in none $rows none; do line="$line $(row "$r")"; done
  echo "$line" | tee -a "$work/runs" | awk '{ printf "%-4s", $1; for (i = 2; i <= NF; i++) printf " %15s", $i; print "" }'
done
clear_rules
# median over runs of each row's ratio to the mean of its run's two no-rule figures
echo
echo "median over $runs runs of the ratio to no rule (mean of the run's first and last):"
awk -v rows="$rows" '
  { n++; base = ($2 + $NF) / 2; for (i = 3; i < NF; i++) ratio[i, n] = ($i == "-" || base == 0) ? -1 : $i / base }
  END {
    split(rows, name, " ")
    for (i = 3; i < 3 + length(name); i++) {
      m = 0; for (k = 1; k <= n; k++) if (ratio[i, k] >= 0) v[++m] = ratio[i, k]
      if (m == 0) { printf "  %-16s skipped\n", name[i - 2]; continue }
      for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++) if (v[b] < v[a]) { t = v[a]; v[a] = v[b]; v[b] = t }
      med = (m % 2) ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
      printf "  %-16s %.3f  (runs: %.3f to %.3f)\n", name[i - 2], med, v[1], v[m]
    }
  }' "$work/runs"
