#!/usr/bin/env bash
# The README's test command: installs what the tests need (when root and missing), then runs every
# test with Maven. CI (.ci/run) calls exactly this on a fresh Debian machine as root.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
have() { command -v "$1" >/dev/null 2>&1; }
if [ "$(id -u)" = 0 ] && have apt-get; then
  have java || need+=(openjdk-17-jdk-headless)
  have mvn || need+=(maven)
  have ip || need+=(iproute2)
  have iptables || need+=(iptables)
  have nsenter || need+=(util-linux)
  have ping || need+=(iputils-ping)
  have tcpdump || need+=(tcpdump)
  have tshark || need+=(tshark) # SavefileReplayTest reads the replay's output with it
  have gcc || need+=(gcc)
  # the short soak below: mixed real traffic and its report
  for t in iperf3 socat tcpreplay ethtool python3; do have "$t" || need+=("$t"); done
  [ -e /usr/include/libnetfilter_queue/libnetfilter_queue.h ] || need+=(libnetfilter-queue-dev)
  # not grep -q: under pipefail its early exit can kill ldconfig with SIGPIPE, failing the test
  ldconfig -p 2>/dev/null | grep 'libpcap\.so' >/dev/null || need+=(libpcap0.8 libpcap0.8-dev)
  if [ ${#need[@]} -gt 0 ]; then
    echo "test.sh: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    # tshark's wireshark-common asks whether non-root users may capture: answer no, unasked.
    echo "wireshark-common wireshark-common/install-setuid boolean false" |
      debconf-set-selections 2>/dev/null || true
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  # The kernel backend needs nfnetlink_queue and a few netfilter pieces; load them when the kernel
  # has them as modules (built-in ones need nothing).
  for m in nfnetlink_queue xt_NFQUEUE xt_mark xt_MARK xt_comment xt_socket iptable_raw \
    iptable_mangle nf_defrag_ipv4 veth; do
    modprobe "$m" 2>/dev/null || true
  done
fi

# The suite runs on the JDK that runs Maven (17 in CI) and, when a newer one is installed, on that
# one too: the newest JDK 25 or later under /usr/lib/jvm (a directory with bin/java and a release
# file, as JAVA_HOME would name it), unless DIVERT_SECOND_JDK names one ("none": only the first).
# One mvn verify builds once and runs each module's tests twice, the second time in JVMs of that
# JDK (profile second-jdk of pom.xml; reports in target/surefire-reports-second-jdk).
java_feature() { # the feature release in a JDK's release file, or nothing
  [ -f "$1/release" ] && sed -n 's/^JAVA_VERSION="\(1\.\)\{0,1\}\([0-9]*\).*/\2/p' "$1/release"
}
second_jdk="${DIVERT_SECOND_JDK:-}"
why="no JDK 25 or newer under /usr/lib/jvm"
if [ "$second_jdk" = none ]; then
  why="DIVERT_SECOND_JDK=none"
elif [ -z "$second_jdk" ]; then
  best=0
  for home in /usr/lib/jvm/*; do
    [ -x "$home/bin/java" ] || continue
    v="$(java_feature "$home")"
    if [ -n "$v" ] && [ "$v" -ge 25 ] && [ "$v" -gt "$best" ]; then
      best="$v"
      second_jdk="$home"
    fi
  done
  # Not when Maven itself already runs on that JDK.
  first="$(mvn -v 2>/dev/null | sed -n 's/^Java version: .*, runtime: //p')"
  if [ -n "$second_jdk" ] && [ -n "$first" ] &&
    [ "$(readlink -f "$first")" = "$(readlink -f "$second_jdk")" ]; then
    why="Maven itself runs on $second_jdk"
    second_jdk=""
  fi
fi
second=()
if [ -n "$second_jdk" ] && [ "$second_jdk" != none ]; then
  if [ ! -x "$second_jdk/bin/java" ]; then
    echo "test.sh: DIVERT_SECOND_JDK=$second_jdk has no bin/java" >&2
    exit 2
  fi
  echo "test.sh: the tests run twice: on Maven's JDK, then on $second_jdk" >&2
  second=(-Ddivert.secondJdk="$second_jdk")
else
  echo "test.sh: $why: the tests run on Maven's JDK only" >&2
fi

# Javadoc is left to reproducible.sh below, which builds every jar (javadoc with doclint, a warning
# fails) twice; here it would only add a third run.
mvn -B verify -Dmaven.javadoc.skip=true ${second[@]+"${second[@]}"} "$@"

# The command users run to validate a backend, run once as users run it (on each JDK): its exit
# status is the verdict (non-zero when a required rule fails).
./divert tck --backend sim
if [ ${#second[@]} -gt 0 ]; then
  JAVA_HOME="$second_jdk" ./divert tck --backend sim
fi
# As root, the kernel and pcap backends' TCKs once more the same way, through the repeat script
# (issue 18): with the two Maven runs above, each backend's whole TCK runs three times per CI run,
# and a failure is printed with its rule and run. The two run side by side, each line prefixed
# with its backend: the kernel TCK mostly waits, and both passed every run side by side and under
# load (docs/reliability.md, fourth round), so this saves about two minutes of CI.
repeat_beside() { # the backend; its output prefixed, its exit status kept
  (
    set -o pipefail
    ./scripts/tck-repeat.sh -n 1 --backend "$1" 2>&1 | sed -u "s/^/$1 | /"
  )
}
if [ "$(id -u)" = 0 ]; then
  repeat_beside rawsocket &
  kernel_repeat=$!
  repeat_beside pcap &
  pcap_repeat=$!
  repeat_failed=0
  wait "$kernel_repeat" || repeat_failed=1
  wait "$pcap_repeat" || repeat_failed=1
  if [ "$repeat_failed" = 1 ]; then
    echo "test.sh: a TCK repeat run failed (lines above, prefixed with the backend)" >&2
    exit 1
  fi
  # The kernel TCK as a service runs it (issue 16): a JVM as nobody with only CAP_NET_ADMIN and
  # CAP_NET_RAW, in a namespace of its own, whose peers a root broker builds (docs/deploy.md).
  mvn -B -pl backend-rawsocket -am test -Dmaven.javadoc.skip=true -Dtest=ServiceUserTckTest \
    -Dsurefire.failIfNoSpecifiedTests=false -Ddivert4j.serviceTck=all
  # The short soak (issue 18): a reinjecting divert dump on each root backend under mixed real
  # traffic for 120 s. It fails on a packet lost uncounted, growing RSS, open files or threads, or a
  # TCP transfer that arrives changed.
  ./scripts/soak.sh --short
fi

# The published artifacts as a user's project depends on them: examples/ against divert4j
# installed into target/examples-repo, on sim and (as root) on the kernel.
./scripts/examples.sh

# Two builds give byte-identical jars (sources and javadoc jars included).
./scripts/reproducible.sh
