# Sourced by the bench scripts that run a benchmark JVM: on exit (normal, error, Ctrl-C), kill the
# JVM whose pid the script put in $jpid and delete the namespaces it made (d4j-<pid>-*), in case it
# died before removing them itself.
jpid=
cleanup() {
  if [ -n "$jpid" ]; then
    kill "$jpid" 2>/dev/null || true
    wait "$jpid" 2>/dev/null || true
    for ns in $(ip netns list | awk '{print $1}' | grep "^d4j-$jpid-" || true); do
      ip netns delete "$ns" 2>/dev/null || true
    done
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
