#!/usr/bin/env bash
# Checks that the build is reproducible: builds divert4j twice from the working tree's sources, in
# two directories of different paths, each with its own local Maven repository, the second under
# another time zone and locale, then compares every jar (classes, sources, javadoc) byte for byte.
# Prints REPRODUCIBLE or NOT REPRODUCIBLE, and exits non-zero on the latter.
#
# Both builds run with umask 022: the jar plugin (maven-jar-plugin 3.4.2) stores the entries' Unix
# modes as the files have them in target/, so another umask gives other mode bits (a run with
# umask 027 differed in the directory and file modes only: same entries, sizes and CRCs). Like
# Reproducible Central's buildspecs, the umask is part of the build environment.
#
#   scripts/reproducible.sh
#
# project.build.outputTimestamp (the parent pom) fixes the time of every archive entry. bench is
# left out: it is not published, and its uber-jar is rebuilt from the others.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$root/target/reproducible
rm -rf "$work"
mkdir -p "$work"

start=$SECONDS
build() {
  local n=$1
  local src=$work/run$n/src-$n
  mkdir -p "$src"
  # The working tree's files as git sees them (tracked and new, not ignored), changes included.
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf - | tar -xf - -C "$src"
  local repo=$work/run$n/repo
  if [ -d "$HOME/.m2/repository" ]; then
    cp -r "$HOME/.m2/repository" "$repo"
  fi
  local t=$SECONDS
  (cd "$src" && mvn -B -q install -DskipTests -Dspotless.check.skip=true -pl '!bench' \
    -Dmaven.repo.local="$repo")
  echo "reproducible: build $n done in $((SECONDS - t)) s"
}

umask 022
build 1
(TZ=Pacific/Kiritimati LC_ALL=C.UTF-8 LANG=C.UTF-8 build 2)

cd "$work/run1/src-1"
jars=$(find . -path ./bench -prune -o -path '*/target/*' -name '*.jar' -print | sort)
same=0
differ=()
for jar in $jars; do
  other=$work/run2/src-2/$jar
  if [ ! -f "$other" ]; then
    differ+=("$jar (missing from the second build)")
  elif cmp -s "$jar" "$other"; then
    same=$((same + 1))
  else
    differ+=("$jar")
    # modes, sizes, times and names of the entries, then sizes and CRCs
    diff <(zipinfo "$jar" | tail -n +2) <(zipinfo "$other" | tail -n +2) | head -10 || true
    diff <(unzip -lv "$jar" | tail -n +2 | awk '{print $1, $7, $8}') \
      <(unzip -lv "$other" | tail -n +2 | awk '{print $1, $7, $8}') | head -10 || true
  fi
done

echo "reproducible: compared $((same + ${#differ[@]})) jars in $((SECONDS - start)) s"
if [ ${#differ[@]} -eq 0 ] && [ "$same" -gt 0 ]; then
  echo "REPRODUCIBLE: all $same jars are byte-for-byte identical"
  rm -rf "$work"
else
  printf 'differs: %s\n' "${differ[@]}"
  echo "NOT REPRODUCIBLE: ${#differ[@]} of $((same + ${#differ[@]})) jars differ (builds kept in $work)"
  exit 1
fi
