#!/usr/bin/env bash
# Builds the C baselines of bench/c into bench/target/c with gcc. As root, installs Debian's
# libnetfilter-queue-dev (and iptables) first when missing, libpcap-dev for pcap_bridge, and iperf3
# for the TCP bulk sections.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -e /usr/include/libnetfilter_queue/libnetfilter_queue.h ] || ! command -v iptables >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing libnetfilter-queue-dev iptables (apt-get)" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libnetfilter-queue-dev iptables >/dev/null
  else
    echo "need libnetfilter-queue-dev and iptables (apt-get install libnetfilter-queue-dev iptables)" >&2
    exit 1
  fi
fi
if [ ! -e /usr/include/pcap/pcap.h ]; then
  # pcap_bridge, the C baseline of the pcap inline section
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing libpcap-dev (apt-get)" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpcap-dev >/dev/null
  else
    echo "need libpcap-dev for pcap_bridge (apt-get install libpcap-dev)" >&2
  fi
fi
if ! command -v iperf3 >/dev/null; then
  # the TCP bulk sections of bench/run-all.sh and bench/pcap-bench.sh --inline
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing iperf3 (apt-get)" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iperf3 >/dev/null
  else
    echo "need iperf3 for the TCP bulk section (apt-get install iperf3)" >&2
  fi
fi
out=bench/target/c
mkdir -p "$out"
for p in udp_blast udp_sink udp_echo udp_ping nflog_read; do
  gcc -O2 -Wall -o "$out/$p" "bench/c/$p.c"
done
for p in nfq_one nfq_batch; do
  gcc -O2 -Wall -o "$out/$p" "bench/c/$p.c" -lnetfilter_queue
done
if [ -e /usr/include/pcap/pcap.h ]; then
  gcc -O2 -Wall -pthread -o "$out/pcap_bridge" bench/c/pcap_bridge.c -lpcap
fi
