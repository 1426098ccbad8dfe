# Sourced by the 64-byte flood benches (sniff-bench.sh, kernel-floor.sh): two namespaces, $peer
# (10.77.0.1 on veth-p) and $host (10.77.0.2 on veth-h), joined by a veth pair, and a work
# directory $work. Set the EXIT trap (calling flood_pair_delete) before flood_pair, so that a
# pair made halfway is removed too.

flood_pair() { # $1: the namespaces' prefix, e.g. d4j-sniff-$$
  peer=$1-peer
  host=$1-host
  work=$(mktemp -d)
  ip netns add "$peer"
  ip netns add "$host"
  ip link add veth-p netns "$peer" type veth peer name veth-h netns "$host"
  ip -n "$peer" addr add 10.77.0.1/24 dev veth-p
  ip -n "$host" addr add 10.77.0.2/24 dev veth-h
  for ns in "$peer" "$host"; do ip -n "$ns" link set lo up; done
  ip -n "$peer" link set veth-p up
  ip -n "$host" link set veth-h up
}

flood_pair_delete() {
  if [ -n "${peer:-}" ]; then ip netns delete "$peer" 2>/dev/null || true; fi
  if [ -n "${host:-}" ]; then ip netns delete "$host" 2>/dev/null || true; fi
  if [ -n "${work:-}" ]; then rm -rf "$work"; fi
}
