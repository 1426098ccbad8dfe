#!/usr/bin/env bash
# Regenerates kernel-capture.pcap, the real Linux packets that the packet tests use as vectors.
# Needs root, iproute2, tcpdump, ping and python3. Usage: capture-vectors.sh [out.pcap]
#
# Two throw-away network namespaces joined by a veth pair (10.9.0.1 <-> 10.9.0.2, MTU 1500). TX
# checksum offload is turned off on both ends (legacy SIOCETHTOOL ETHTOOL_STXCSUM, no ethtool
# needed): with offload on, veth and lo carry CHECKSUM_PARTIAL packets whose TCP/UDP checksum field
# holds only the pseudo-header sum, and a capture would show that instead of the final value.
# Traffic: ping; ping -R (IP Record Route option); ping -s 3000 (kernel-fragmented ICMP); ping -R
# -s 2000 (fragmented with options: Linux keeps the IHL and NOPs out the uncopied RR option in
# later fragments, ip_options_fragment); UDP 24 bytes, UDP 3 bytes (odd length), UDP 4000 bytes
# (fragmented); a TCP connection (SYN with MSS/SACK/TS/WS options, data, FIN). The namespaces are
# always deleted, also on failure.
set -u
out=$(readlink -f "${1:-kernel-capture.pcap}")
A=pkta$$
B=pktb$$
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
ip link add va netns $A type veth peer name vb netns $B
ip -n $A addr add 10.9.0.1/24 dev va
ip -n $B addr add 10.9.0.2/24 dev vb
for ns in $A $B; do ip -n $ns link set lo up; done
ip -n $A link set va up
ip -n $B link set vb up
ip netns exec $A python3 -c "$txoff" va
ip netns exec $B python3 -c "$txoff" vb
ip netns exec $A tcpdump -i va -U -s 0 -w "$out" ip 2>/dev/null &
TD=$!
sleep 1
ip netns exec $B python3 -c '
import socket, time
l = socket.socket(); l.bind(("10.9.0.2", 8080)); l.listen()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("10.9.0.2", 9999))
time.sleep(4)' &
sleep 0.5
ip netns exec $A ping -c1 -W1 10.9.0.2 >/dev/null
ip netns exec $A ping -c1 -W1 -R 10.9.0.2 >/dev/null
ip netns exec $A ping -c1 -W1 -s 3000 10.9.0.2 >/dev/null
ip netns exec $A ping -c1 -W1 -R -s 2000 10.9.0.2 >/dev/null
ip netns exec $A python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.9.0.1", 40000))
s.sendto(b"divert4j udp test vector", ("10.9.0.2", 9999))
s.sendto(b"odd", ("10.9.0.2", 9999))
s.sendto(bytes(range(256)) * 15 + b"x" * 160, ("10.9.0.2", 9999))
c = socket.create_connection(("10.9.0.2", 8080)); c.sendall(b"hello"); c.close()
'
sleep 1
