#!/usr/bin/env bash
# Kernel backend throughput only: divert4j next to no rule and two C libnetfilter_queue programs,
# plus parallelism 1 vs N, and the IPv6 row (issue 13) next to IPv4. The same program as
# bench/run-all.sh, with fewer sections.
# Usage (root): bench/kernel-bench.sh [--runs 5] [--seconds 3] [--warmup 1] [--payload 64]
#               [--batch 64] [--parallel 2]
set -euo pipefail
exec "$(dirname "$0")/run-all.sh" --sections throughput,scaling,family "$@"
