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
  have gcc || need+=(gcc)
  [ -e /usr/include/libnetfilter_queue/libnetfilter_queue.h ] || need+=(libnetfilter-queue-dev)
  ldconfig -p 2>/dev/null | grep -q 'libpcap\.so' || need+=(libpcap0.8 libpcap0.8-dev)
  if [ ${#need[@]} -gt 0 ]; then
    echo "test.sh: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
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

# Javadoc is left to reproducible.sh below, which builds every jar (javadoc with doclint, a warning
# fails) twice; here it would only add a third run.
mvn -B verify -Dmaven.javadoc.skip=true "$@"

# The command users run to validate a backend, run once as users run it: its exit status is the
# verdict (non-zero when a required rule fails).
./divert tck --backend sim

# The published artifacts as a user's project depends on them: examples/ against divert4j
# installed into target/examples-repo, on sim and (as root) on the kernel.
./scripts/examples.sh

# Two builds give byte-identical jars (sources and javadoc jars included).
./scripts/reproducible.sh
