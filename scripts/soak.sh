#!/usr/bin/env bash
# soak.sh: a reinjecting divert program under mixed real traffic for a set time (issue 18).
#
#   sudo scripts/soak.sh [--backend rawsocket|pcap|all] [--duration SECONDS] [--short] [--keep DIR]
#                        [--jvm-opts "OPTIONS"]
#
# Builds network namespaces of its own (removed at the end):
#   rawsocket:  peer [eth0 10.201.0.1] ==veth== [eth0 10.201.0.2] host   (rules in host)
#   pcap:       peer [eth0] ==veth== [out0] bridge [in0] ==veth== [eth0] host  (inline in bridge)
# and runs `divert dump --rule input --quiet --stats-every 1s` (every inbound packet of the host is
# diverted and written back) while the peer offers, at the same time: iperf3 TCP both ways (peer to
# host, and host to peer with -R), a UDP flood of small datagrams above what the program consumes
# (iperf3 -u), ping with 3000-byte datagrams (fragments), a replay of a capture with tcpreplay, and
# a 20 MiB TCP transfer (socat) whose SHA-256 is compared at both ends.
#
# Prints per second: offered (packets that reached the host's side of the wire: rx_packets of the
# host's eth0, or of the segment's out0 for pcap), received and counted drops (the socket's
# statistics), written back; then totals with uncounted = offered - received - counted drops (must
# be 0), the RSS, open files and threads of the program's JVM sampled each second with their growth
# over the last half (flat: < 1 %), the longest GC pause from its GC log, and the transfer checks.
# Exit status 0 when nothing was lost uncounted and every check held, 1 otherwise.
#
# The program's JVM runs with the flags docs/deploy.md gives a service ("JVM flags for steady
# latency": a fixed, pre-touched heap, and on JDK 17 G1 with short pauses), so that its RSS is not
# the heap being touched for the first time, plus native memory tracking: a baseline half-way and a
# diff at the end show which of the JVM's own areas grew (memory malloc'd by libpcap or JNA is not
# tracked there; it is RSS growth that the diff does not explain). --jvm-opts replaces the flags.
#
# --short: 120 s (the CI length); default 1800 s. Needs root, iperf3, socat, tcpreplay, ethtool,
# python3 (Debian packages of those names).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
duration=1800
backends=(rawsocket pcap)
keep=""
jvm_opts="-Xms256m -Xmx256m -XX:+AlwaysPreTouch -XX:+UseG1GC -XX:MaxGCPauseMillis=5"
while [ $# -gt 0 ]; do
  case "$1" in
    --backend) case "${2:?}" in all) backends=(rawsocket pcap) ;; *) backends=("$2") ;; esac; shift 2 ;;
    --duration) duration="${2:?}"; shift 2 ;;
    --short) duration=120; shift ;;
    --keep) keep="${2:?}"; shift 2 ;;
    --jvm-opts) jvm_opts="${2?}"; shift 2 ;;
    -h | --help) sed -n '2,31p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "soak: unknown argument: $1" >&2; exit 64 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "soak: needs root (network namespaces)" >&2; exit 64; }
for t in iperf3 socat tcpreplay ethtool python3 ip; do
  command -v "$t" >/dev/null || { echo "soak: needs $t (apt-get install $t)" >&2; exit 64; }
done

out="${keep:-$(mktemp -d /tmp/soak.XXXXXX)}"
mkdir -p "$out"
tag="d4jsoak-$$"
pids=()
namespaces=()

cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  for n in "${namespaces[@]}"; do
    # iperf3 servers run as daemons in the namespaces: end them by their ids, then the namespace
    for p in $(ip netns pids "$n" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
    ip netns del "$n" 2>/dev/null || true
  done
  [ -n "$keep" ] || rm -rf "$out"
}
trap cleanup EXIT

in_ns() { local n="$1"; shift; ip netns exec "$n" "$@"; }
mkns() { ip netns add "$1"; namespaces+=("$1"); in_ns "$1" ip link set lo up;
  in_ns "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1; }
offloads_off() { in_ns "$1" ethtool -K "$2" tx off tso off gso off gro off >/dev/null 2>&1 || true; }
mac() { in_ns "$1" cat "/sys/class/net/$2/address"; }

# A capture to replay: 1000 UDP datagrams from the peer to port 9 of the host, made here.
make_capture() { # file src_mac dst_mac
  python3 - "$@" <<'PY'
import struct, sys
path, src, dst = sys.argv[1], bytes.fromhex(sys.argv[2].replace(':', '')), bytes.fromhex(sys.argv[3].replace(':', ''))
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
with open(path, 'wb') as f:
    f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for i in range(1000):
        payload = b'soak replay %06d ' % i + bytes(range(64))
        udp = struct.pack('!HHHH', 40000, 9, 8 + len(payload), 0) + payload
        ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0,
                         bytes([10, 201, 0, 1]), bytes([10, 201, 0, 2]))
        ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
        frame = dst + src + b'\x08\x00' + ip + udp
        f.write(struct.pack('<IIII', i // 1000, (i % 1000) * 1000, len(frame), len(frame)) + frame)
PY
}

rx_packets() { in_ns "$1" cat "/sys/class/net/$2/statistics/rx_packets"; }

soak_one() {
  local b="$1" dir="$out/$1"
  mkdir -p "$dir"
  local peer="$tag-$b-peer" host="$tag-$b-host" bridge="$tag-$b-bridge"
  local counted_ns counted_if dump_args
  mkns "$peer"; mkns "$host"
  if [ "$b" = rawsocket ]; then
    ip link add eth0 netns "$peer" type veth peer name eth0 netns "$host"
    counted_ns="$host"; counted_if=eth0
    dump_args=(--backend rawsocket --netns "$host")
  else
    mkns "$bridge"
    in_ns "$bridge" sysctl -qw net.ipv4.ip_forward=0
    ip link add eth0 netns "$peer" type veth peer name out0 netns "$bridge"
    ip link add in0 netns "$bridge" type veth peer name eth0 netns "$host"
    for i in out0 in0; do in_ns "$bridge" ip link set "$i" up; offloads_off "$bridge" "$i"; done
    counted_ns="$bridge"; counted_if=out0
    dump_args=(--backend pcap -P "pcap.netns=$bridge" -P pcap.outside=out0 -P pcap.inside=in0
      -P pcap.address=10.201.0.2/24 -P pcap.routes=10.201.0.0/24)
  fi
  in_ns "$peer" ip addr add 10.201.0.1/24 dev eth0
  in_ns "$host" ip addr add 10.201.0.2/24 dev eth0
  for n in "$peer" "$host"; do in_ns "$n" ip link set eth0 up; offloads_off "$n" eth0; done
  local peer_mac host_mac
  peer_mac="$(mac "$peer" eth0)"; host_mac="$(mac "$host" eth0)"
  in_ns "$peer" ip neigh replace 10.201.0.2 lladdr "$host_mac" dev eth0 nud permanent
  in_ns "$host" ip neigh replace 10.201.0.1 lladdr "$peer_mac" dev eth0 nud permanent
  make_capture "$dir/replay.pcap" "$peer_mac" "$host_mac"

  # The program: every inbound packet of the host diverted and written back.
  # shellcheck disable=SC2086 # jvm_opts is a list of options
  DIVERT_JAVA_OPTS="$jvm_opts -XX:NativeMemoryTracking=summary -Xlog:gc:file=$dir/gc.log" \
    "$root/divert" dump "${dump_args[@]}" \
    --rule input --quiet --stats-every 1s --duration "$((duration + 15))s" \
    >"$dir/dump.out" 2>"$dir/dump.err" &
  local dump=$!
  pids+=("$dump")
  for _ in $(seq 1 300); do grep -q '^stats ' "$dir/dump.err" 2>/dev/null && break; sleep 0.1; done
  grep -q '^stats ' "$dir/dump.err" || { echo "soak $b: the program did not start:"; cat "$dir/dump.err"; return 1; }
  # Attach once now: the attach listener's thread and socket then exist for the whole run (an
  # attach first made half-way would show as growth of threads and open files).
  jcmd "$dump" VM.native_memory baseline >/dev/null 2>&1 || true
  local rx0
  rx0="$(rx_packets "$counted_ns" "$counted_if")"

  # Mixed traffic for the whole duration.
  in_ns "$host" iperf3 -s -p 5201 -D -1 --logfile "$dir/iperf-s1.log"
  in_ns "$host" iperf3 -s -p 5202 -D -1 --logfile "$dir/iperf-s2.log"
  in_ns "$host" iperf3 -s -p 5203 -D -1 --logfile "$dir/iperf-s3.log"
  sleep 0.5
  local t=$duration
  in_ns "$peer" iperf3 -c 10.201.0.2 -p 5201 -t "$t" -J >"$dir/tcp-up.json" 2>&1 & pids+=($!)
  local up=$!
  in_ns "$peer" iperf3 -c 10.201.0.2 -p 5202 -t "$t" -R -J >"$dir/tcp-down.json" 2>&1 & pids+=($!)
  local down=$!
  in_ns "$peer" iperf3 -c 10.201.0.2 -p 5203 -u -b 40M -l 64 -t "$t" -J >"$dir/udp.json" 2>&1 & pids+=($!)
  local udp=$!
  in_ns "$peer" ping -q -s 3000 -i 0.2 -w "$t" 10.201.0.2 >"$dir/ping.txt" 2>&1 & pids+=($!)
  local ping=$!
  in_ns "$peer" tcpreplay -q -i eth0 --pps 200 --loop 0 --duration "$t" "$dir/replay.pcap" \
    >"$dir/tcpreplay.txt" 2>&1 & pids+=($!)
  local replay=$!
  # The byte-for-byte check, half-way.
  (
    sleep "$((t / 2))"
    head -c $((20 << 20)) /dev/urandom >"$dir/pattern.bin"
    sha256sum <"$dir/pattern.bin" | cut -d' ' -f1 >"$dir/sent.sha256"
    in_ns "$host" sh -c "socat -u TCP-LISTEN:5300,reuseaddr - | sha256sum | cut -d' ' -f1 >'$dir/received.sha256'" &
    sleep 1
    in_ns "$peer" socat -u "FILE:$dir/pattern.bin" TCP:10.201.0.2:5300 || echo "socat failed" >>"$dir/sent.sha256"
    wait
  ) & pids+=($!)
  local check=$!

  # Sample the program's JVM and the wire every second.
  local jvm="$dump" start
  start=$(date +%s)
  : >"$dir/samples.txt"
  local nmt_base=0
  while [ $(($(date +%s) - start)) -lt "$t" ] && kill -0 "$jvm" 2>/dev/null; do
    printf '%s %s %s %s %s\n' "$(date +%s%3N)" \
      "$(awk '/VmRSS/ {print $2}' "/proc/$jvm/status")" "$(ls "/proc/$jvm/fd" | wc -l)" \
      "$(awk '/Threads/ {print $2}' "/proc/$jvm/status")" \
      "$(( $(rx_packets "$counted_ns" "$counted_if") - rx0 ))" >>"$dir/samples.txt"
    if [ "$nmt_base" = 0 ] && [ $(($(date +%s) - start)) -ge "$((t / 2))" ]; then
      # the slope is judged over the last half: the native memory baseline is taken there too
      jcmd "$jvm" VM.native_memory baseline >/dev/null 2>&1 || true
      nmt_base=1
    fi
    sleep 1
  done
  jcmd "$jvm" VM.native_memory summary.diff scale=KB >"$dir/nmt-diff.txt" 2>&1 || true
  wait "$up" "$down" "$udp" "$ping" "$replay" "$check" 2>/dev/null || true
  sleep 3 # the last packets through the program
  printf '%s - - - %s\n' "$(date +%s%3N)" "$(( $(rx_packets "$counted_ns" "$counted_if") - rx0 ))" >>"$dir/samples.txt"
  sleep 1.5
  kill -INT "$dump" 2>/dev/null || true
  wait "$dump" 2>/dev/null || true

  python3 - "$b" "$dir" "$duration" <<'PY'
import json, re, sys, statistics
b, d, dur = sys.argv[1], sys.argv[2], int(sys.argv[3])
stats = []
for line in open(d + '/dump.err'):
    m = re.match(r'stats ms=(\d+) epochMs=(\d+) received=(\d+) reinjected=(\d+) .*dropped=\{(.*)\}', line)
    if m:
        drops = sum(int(x.split('=')[1]) for x in m.group(5).split(', ') if '=' in x)
        stats.append((int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4)), drops, m.group(5)))
samples = [l.split() for l in open(d + '/samples.txt') if l.strip()]
ok = True
def offered_at(epoch):  # the wire's count at the latest sample taken before that moment
    v = 0
    for x in samples:
        if int(x[0]) <= epoch: v = int(x[4])
    return v
print(f'soak {b}: {dur} s; per second (offered: rx_packets on the wire, sampled each second; in flight: offered - received - counted drops at that moment)')
print('  second  offered  received  counted-drops  written-back  in-flight')
prev = (0, 0, 0, 0)
step = max(1, len(stats) // 30)
for i, s in enumerate(stats):
    row = (offered_at(s[1]), s[2], s[4], s[3])
    if i % step == 0 or i >= len(stats) - 3:
        print(f'  {round(s[0]/1000):6d} {row[0]-prev[0]:8d} {row[1]-prev[1]:9d} {row[2]-prev[2]:14d} {row[3]-prev[3]:13d} {row[0]-row[1]-row[2]:10d}')
    prev = row
stats = [(s[0], s[2], s[3], s[4], s[5]) for s in stats]
last = stats[-1]
offered = int(samples[-1][4])
uncounted = offered - last[1] - last[3]
print(f'  total: offered {offered}, received {last[1]}, written back {last[2]}, counted drops {last[3]} ({last[4] or "none"}), uncounted {uncounted}')
ok &= uncounted == 0
def growth(col):
    v = [int(x[col]) for x in samples if x[col] != '-']
    if len(v) < 10: return None, v
    h = len(v) // 2
    a = statistics.median(v[h:h + max(1, len(v) // 10)]); z = statistics.median(v[-max(1, len(v) // 10):])
    return (z - a) * 100.0 / a, v
for name, col in (('RSS KiB', 1), ('open files', 2), ('threads', 3)):
    g, v = growth(col)
    if g is None:
        print(f'  {name}: too few samples'); continue
    flat = g < 1.0
    ok &= flat
    print(f'  {name}: start {v[0]}, half-way {v[len(v)//2]}, end {v[-1]}; growth over the last half {g:+.2f} % ({"flat" if flat else "GROWING"})')
timed = [(float(m.group(1)), float(m.group(2))) for m in re.finditer(r'\[([0-9.]+)s\].*Pause.* ([0-9.]+)ms', open(d + '/gc.log').read())]
pauses = [p for _, p in timed]
later = [p for t, p in timed if t > 10]
def nmt():  # "- Category (reserved=..KB +..KB, committed=..KB +..KB)" lines of the diff
    grew = []
    for line in open(d + '/nmt-diff.txt'):
        m = re.match(r'\s*(?:-\s*)?([A-Za-z][A-Za-z ]*?)\s*\(reserved=\d+KB(?: [+-]\d+KB)?, committed=(\d+)KB(?: ([+-]\d+)KB)?\)', line)
        if m and m.group(3) and int(m.group(3)) != 0:
            grew.append((m.group(1).strip(), int(m.group(2)), int(m.group(3))))
    return grew
try:
    g = nmt()
    if g:
        print('  native memory tracked by the JVM, committed growth over the last half: ' + ', '.join(f'{n} {c:+d} KiB (now {t} KiB)' for n, t, c in g))
    else:
        print('  native memory tracked by the JVM: no change over the last half')
except OSError as x:
    print(f'  native memory tracking: no diff ({x})')
print(f'  GC: {len(pauses)} pauses, longest {max(pauses) if pauses else 0:.2f} ms; after the first 10 s (start-up) {len(later)}, longest {max(later) if later else 0:.2f} ms')
for f, what in (('tcp-up.json', 'iperf3 TCP peer->host'), ('tcp-down.json', 'iperf3 TCP host->peer')):
    try:
        j = json.load(open(d + '/' + f)); e = j['end']
        s, r = e['sum_sent']['bytes'], e['sum_received']['bytes']
        print(f'  {what}: sent {s} bytes, received {r} ({e["sum_received"]["bits_per_second"]/1e6:.1f} Mbit/s)')
    except Exception as x:
        ok = False; print(f'  {what}: FAILED ({x})')
try:
    j = json.load(open(d + '/udp.json')); s = j['end']['sum']
    print(f'  iperf3 UDP flood: {s["packets"]} datagrams, {s["lost_packets"]} lost (dropped by the program\'s full queue, counted above)')
except Exception as x:
    print(f'  iperf3 UDP flood: no report ({x})')
print('  ping -s 3000: ' + ' '.join(l.strip() for l in open(d + '/ping.txt') if 'transmitted' in l))
print('  tcpreplay: ' + ' '.join(l.strip() for l in open(d + '/tcpreplay.txt') if 'Actual' in l or 'Failed' in l))
try:
    sent, got = open(d + '/sent.sha256').read().split(), open(d + '/received.sha256').read().split()
    same = sent[:1] == got[:1] and len(sent) == 1
    ok &= same
    print(f'  socat 20 MiB SHA-256: {"identical" if same else "DIFFERENT"} ({sent[0][:16]}... vs {got[0][:16] if got else "-"}...)')
except Exception as x:
    ok = False; print(f'  socat 20 MiB: FAILED ({x})')
print(f'  verdict: {"OK" if ok else "FAILED"}')
sys.exit(0 if ok else 1)
PY
}

status=0
for b in "${backends[@]}"; do
  soak_one "$b" || status=1
done
[ -n "$keep" ] && echo "files: $out"
exit "$status"
