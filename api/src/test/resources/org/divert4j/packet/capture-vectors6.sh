#!/usr/bin/env bash
# Regenerates kernel-capture6.pcap, the real Linux IPv6 packets that the IPv6 packet tests use as
# vectors. Needs root, iproute2, tcpdump, ping and python3. Usage: capture-vectors6.sh [out.pcap]
#
# As capture-vectors.sh, over IPv6: two throw-away namespaces joined by a veth pair (fd00:9::1 <->
# fd00:9::2, MTU 1280, no DAD), TX checksum offload off on both ends so that TCP/UDP checksums are
# final. Traffic, in this order (after the neighbour solicitation and advertisement): ping -6 -s 16 (echo request and reply); ping -6 -s 3000 (request
# and reply, each kernel-fragmented into three); UDP "odd" (3 bytes); UDP 3 bytes behind a
# hop-by-hop header (Router Alert, PadN) and a destination options header (PadN), set with
# IPV6_HOPOPTS / IPV6_DSTOPTS; UDP 4000 bytes (fragmented); a TCP connection opened and closed.
# Only packets from the two addresses are kept (no neighbour discovery from link-local or MLD). The
# namespaces are always deleted, also on failure.
set -u
out=$(readlink -f "${1:-kernel-capture6.pcap}")
A=pkt6a$$
B=pkt6b$$
TD=
cleanup() {
  [ -n "$TD" ] && kill "$TD" 2>/dev/null
  wait 2>/dev/null
  ip netns del $A 2>/dev/null
  ip netns del $B 2>/dev/null
}
trap cleanup EXIT
txoff='
import socket, fcntl, struct, array, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
v = array.array("I", [0x17, 0])  # ETHTOOL_STXCSUM, data 0
fcntl.ioctl(s, 0x8946, struct.pack("16sP", sys.argv[1].encode(), v.buffer_info()[0]))
'
ip netns add $A
ip netns add $B
ip link add va netns $A mtu 1280 type veth peer name vb netns $B mtu 1280
ip -n $A addr add fd00:9::1/64 dev va nodad
ip -n $B addr add fd00:9::2/64 dev vb nodad
for ns in $A $B; do ip -n $ns link set lo up; done
ip -n $A link set va up
ip -n $B link set vb up
ip netns exec $A python3 -c "$txoff" va
ip netns exec $B python3 -c "$txoff" vb
ip netns exec $A tcpdump -i va -U -s 0 -w "$out" ip6 and '(src fd00:9::1 or src fd00:9::2)' 2>/dev/null &
TD=$!
sleep 1
ip netns exec $B python3 -c '
import socket, time
l = socket.socket(socket.AF_INET6); l.bind(("fd00:9::2", 8080)); l.listen()
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.bind(("fd00:9::2", 9999))
time.sleep(4)' &
sleep 0.5
ip netns exec $A ping -6 -c1 -W1 -s 16 fd00:9::2 >/dev/null
ip netns exec $A ping -6 -c1 -W1 -s 3000 fd00:9::2 >/dev/null
ip netns exec $A python3 -c '
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("fd00:9::1", 40000))
s.sendto(b"odd", ("fd00:9::2", 9999))
h = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
h.bind(("fd00:9::1", 40001))
h.setsockopt(socket.IPPROTO_IPV6, 54, bytes([0, 0, 5, 2, 0, 0, 1, 0]))  # IPV6_HOPOPTS
h.setsockopt(socket.IPPROTO_IPV6, 59, bytes([0, 0, 1, 4, 0, 0, 0, 0]))  # IPV6_DSTOPTS
h.sendto(b"ext", ("fd00:9::2", 9999))
s.sendto(bytes(range(256)) * 15 + b"x" * 160, ("fd00:9::2", 9999))
c = socket.create_connection(("fd00:9::2", 8080)); c.close()
'
sleep 1
