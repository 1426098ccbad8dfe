#!/bin/bash
# Latency of the C one-verdict loop answering NF_REPEAT (as divert4j does) under two rule layouts:
# one NFQUEUE rule, and divert4j's three-line chain layout (docs/backends.md). Isolates what the
# rule layout adds per traversal. Usage (root): bench/rule-layout-latency.sh  (needs bench/build-c.sh)
set -u
cd "$(dirname "$0")/.."
P=d4j-$$-1-xpeer; H=d4j-$$-2-xhost; C=bench/target/c
trap 'ip netns del $P 2>/dev/null; ip netns del $H 2>/dev/null; rm -f ${TMPDIR:-/tmp}/d4j-rl-$$.*' EXIT
ip netns add $P; ip netns add $H
ip -n $P link set lo up; ip -n $H link set lo up
ip link add xv0 netns $P type veth peer name xv1 netns $H
ip -n $P link set xv0 name eth0; ip -n $H link set xv1 name eth0
ip -n $P addr add 10.198.1.1/24 dev eth0; ip -n $H addr add 10.198.1.2/24 dev eth0
ip -n $P link set eth0 up; ip -n $H link set eth0 up
ipt() { ip netns exec $H iptables "$@"; }
run() {
  ip netns exec $H $C/nfq_one 4200 repeat > ${TMPDIR:-/tmp}/d4j-rl-$$.out 2>${TMPDIR:-/tmp}/d4j-rl-$$.err & nq=$!
  sleep 0.3
  ip netns exec $H $C/udp_echo 9000 >/dev/null & ec=$!
  sleep 0.2
  echo "$1: $(ip netns exec $P $C/udp_ping 10.198.1.2 9000 64 2000 20000)  $(kill $nq; wait $nq 2>/dev/null; cat ${TMPDIR:-/tmp}/d4j-rl-$$.err)"
  kill $ec; wait $ec 2>/dev/null
}
echo "layout: RTT median p99 mean (us), lost; nfq_one's mean verdict call"
for round in 1 2 3; do
ipt -t raw -F; ipt -t raw -X 2>/dev/null
ipt -t raw -A PREROUTING -p udp --dport 9000 -m mark ! --mark 0x1/0x1 -j NFQUEUE --queue-num 4200
run "one rule  "
ipt -t raw -F; ipt -t raw -X
# divert4j's layout (backends.md), with the C program's mark bit 0x1 as the 'written back' state
ipt -t raw -N X-INPUT; ipt -t raw -N X-D4200
ipt -t raw -A PREROUTING -m comment --comment base -j X-INPUT
ipt -t raw -A X-D4200 -m comment --comment port -j NFQUEUE --queue-num 4200
ipt -t raw -A X-D4200 -m comment --comment nolistener -j NFQUEUE --queue-num 4200
ipt -t raw -A X-INPUT -p udp -m udp --dport 9000 -m mark ! --mark 0x8000000/0x18000000 -m mark ! --mark 0x1/0x1 -m mark ! --mark 0x1068/0xffff -m comment --comment a -j MARK --set-xmark 0x8010000/0x1fff0000
ipt -t raw -A X-INPUT -m mark --mark 0x8010000/0x1fff0000 -m comment --comment b -j X-D4200
ipt -t raw -A X-INPUT -m mark --mark 0x1/0x1 -m comment --comment c -j MARK --set-xmark 0x0/0x1fff0000
ipt -t raw -A X-INPUT -m mark --mark 0x8000000/0x18000000 -m comment --comment base -j MARK --set-xmark 0x0/0x1fff0000
run "d4j layout"
done
