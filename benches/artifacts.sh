#!/usr/bin/env bash
# What large artifacts cost the user, end to end: `embargo run` (stages 1 to 6: build, checksums,
# verify, freeze, picks, the private push; no GitHub) with 4 artifacts of 512 MiB each, against
# the same run with 4 artifacts of 4 bytes, side by side in the same script with
# `openssl dgst -sha256` over the same 2 GiB on all cores (one openssl per core, the files split
# between them): the time any tool needs to read and hash those bytes once. Between runs (not
# timed) `embargo abort` takes the staged release back and its archived state is removed.
#
# The build step moves the artifacts in from a folder beside the clone (prepared before each run,
# outside the timing), so the build itself costs the same few milliseconds in both runs and the
# difference is what embargo does with the bytes: placing them in the state folder, hashing them,
# proving them at the freeze, the checks reading them. The steps run without namespaces here
# (EMBARGO_TEST_NO_NAMESPACES): inside the sandbox's mount namespace that `mv` would be a copy
# across mounts, which is the build's cost, not embargo's.
#
# Target (issue: artifacts at the speed of one hash pass): extra time <= 1.5 x the openssl pass,
# and embargo's peak RSS < 64 MiB (GNU time's "Maximum resident set size").
#
# Usage: benches/artifacts.sh
#   BENCH_MIB=512     size of each of the 4 artifacts (default 512)
#   BENCH_RUNS=3      runs of each (default 3; the median is reported)
#   BENCH_KEEP=1      keep the generated folder
set -euo pipefail

BENCH_NAME=artifacts.sh
source "$(dirname "$0")/lib.sh"
BENCH_COMMITS=${BENCH_COMMITS:-400} BENCH_TAGS=${BENCH_TAGS:-40} BENCH_FIX=notice BENCH_FIX_COMMITS=1
bench_config
MIB=${BENCH_MIB:-512}
RUNS=${BENCH_RUNS:-3}

bench_build
bench_tmp artifacts
bench_git_env
bench_generate
: "${LINE:?}"

# The bytes: 4 files of random data, made once; each run gets a fresh copy to move in.
mkdir -p "$TMP/master" "$TMP/tiny"
for i in 1 2 3 4; do
    head -c $((MIB * 1024 * 1024)) /dev/urandom >"$TMP/master/app-$i.bin"
    printf 'app%d' "$i" >"$TMP/tiny/app-$i.bin"
done

pipeline() { # $1: the folder the build moves the artifacts from
    cat <<EOF
version: 1
name: security-release
repository: {path: ., private: security, public: origin}
versioning: {tag: "v{major}.{minor}.{patch}", branch: "{tag}", line: "$LINE"}
fix: {branch: $FIX_BRANCH, base: master}
build:
  steps:
    - name: binaries
      run: mkdir -p out && mv "$1"/*.bin out/
      timeout: 5m
  artifacts: ["out/*.bin"]
  checksums: SHA256SUMS
verify:
  - name: present
    run: ls "\$EMBARGO_DIST"
    expect_stdout: "app-4.bin"
    timeout: 5m
cherry_pick: {onto: [master], branch: "cherry-pick/{tag}/{target}", on_conflict: report}
embargo: "2036-12-01 16:00 UTC"
EOF
}
mkdir -p pipelines
pipeline "$TMP/in-big" >pipelines/big.yaml
pipeline "$TMP/in-tiny" >pipelines/tiny.yaml

# Milliseconds of one run; the peak RSS (KiB) of the last run goes to $TMP/rss.
run_once() { # $1: big|tiny
    local src=$TMP/master
    [[ $1 == tiny ]] && src=$TMP/tiny
    rm -rf "$TMP/in-$1" && cp -r "$src" "$TMP/in-$1"
    sync
    local t0 t1
    t0=$(now_us)
    EMBARGO_TEST_NO_NAMESPACES=1 /usr/bin/time -f '%M' -o "$TMP/rss" "$EMBARGO" run "pipelines/$1.yaml" >"$TMP/out-$1" 2>&1 ||
        { cat "$TMP/out-$1" >&2; exit 1; }
    t1=$(now_us)
    "$EMBARGO" abort "pipelines/$1.yaml" >/dev/null 2>&1 || { echo "abort failed" >&2; exit 1; }
    rm -rf .git/embargo/*/*/aborted .git/embargo/*/aborted
    echo $(((t1 - t0) / 1000))
}

openssl_once() {
    local t0 t1
    t0=$(now_us)
    openssl dgst -sha256 "$TMP/master/app-1.bin" "$TMP/master/app-2.bin" >/dev/null &
    openssl dgst -sha256 "$TMP/master/app-3.bin" "$TMP/master/app-4.bin" >/dev/null
    wait
    t1=$(now_us)
    echo $(((t1 - t0) / 1000))
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
big=() tiny=() ssl=() rss=0
for ((r = 0; r < RUNS; r++)); do
    tiny+=("$(run_once tiny)")
    big+=("$(run_once big)")
    rss=$(($(cat "$TMP/rss") > rss ? $(cat "$TMP/rss") : rss))
    ssl+=("$(openssl_once)")
done
t=$(printf '%s\n' "${tiny[@]}" | median)
b=$(printf '%s\n' "${big[@]}" | median)
o=$(printf '%s\n' "${ssl[@]}" | median)
extra=$((b - t))
gb=$(awk -v mib="$MIB" 'BEGIN {print 4 * mib / 1024}')
echo "artifacts: 4 x $MIB MiB, $RUNS runs each, medians, load before: $load_before"
printf '  %-46s %6d ms   (runs: %s)\n' "embargo run, 4 tiny artifacts" "$t" "${tiny[*]}"
printf '  %-46s %6d ms   (runs: %s)\n' "embargo run, 4 x $MIB MiB" "$b" "${big[*]}"
printf '  %-46s %6d ms   (%s GB/s over %s GiB)\n' "extra for the large artifacts" "$extra" \
    "$(awk -v b="$extra" -v g="$gb" 'BEGIN {printf "%.2f", g * 1.073741824 / (b / 1000)}')" "$gb"
printf '  %-46s %6d ms   (runs: %s)\n' "openssl dgst -sha256, same files, 2 at once" "$o" "${ssl[*]}"
printf '  %-46s %6.2f x   (target <= 1.5)\n' "extra / openssl" "$(awk -v e="$extra" -v o="$o" 'BEGIN {print e / o}')"
printf '  %-46s %6d KiB  (target < 65536)\n' "embargo's peak RSS (large run)" "$rss"
