#!/usr/bin/env bash
# Builds and tests examples/ exactly as a user's project would use divert4j: installs divert4j's
# artifacts (with the BOM) into a Maven repository of its own under target/, then runs the
# examples' tests against it on the simulation and, as root, on the kernel (rawsocket).
#
#   scripts/examples.sh              # install, then test on sim (and on the kernel as root)
#   EXAMPLES_SKIP_INSTALL=1 scripts/examples.sh   # reuse the artifacts installed last time
#
# The repository is seeded once from ~/.m2 (third-party jars and plugins), so it works offline
# when ~/.m2 has them; divert4j's own SNAPSHOTs never go into ~/.m2.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
repo=$root/target/examples-repo
version=$(sed -n 's:^  <version>\(.*\)</version>:\1:p' pom.xml | head -1)

if [ ! -d "$repo" ]; then
  mkdir -p "$root/target"
  if [ -d "$HOME/.m2/repository" ]; then
    cp -r "$HOME/.m2/repository" "$repo"
  else
    mkdir -p "$repo"
  fi
fi

start=$SECONDS
if [ -z "${EXAMPLES_SKIP_INSTALL:-}" ]; then
  # Tests were run by the build itself; here only the artifacts matter. Javadoc jars are left
  # out for time (the release build, mvn install, makes them).
  mvn -B -q install -DskipTests -Dmaven.javadoc.skip=true -Dspotless.check.skip=true \
    -Dmaven.repo.local="$repo" -pl '!bench'
  echo "examples: installed divert4j $version into $repo ($((SECONDS - start)) s)"
fi

run() {
  local t=$SECONDS
  (cd examples && mvn -B -q test -Dmaven.repo.local="$repo" -Ddivert4j.version="$version" "$@")
  echo "examples: tests passed ($*) in $((SECONDS - t)) s"
}

run -Ddivert.backend=sim
if [ "$(id -u)" = 0 ]; then
  # The kernel: the program's test through the extension, and the TCK, on rawsocket. An
  # unavailable kernel backend fails here instead of skipping.
  run -Ddivert.backend=rawsocket -Ddivert.tck.requireAvailable=true
else
  echo "examples: not root, the kernel run is skipped"
fi
echo "examples: all passed in $((SECONDS - start)) s"
