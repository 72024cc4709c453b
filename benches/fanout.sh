#!/usr/bin/env bash
# What splitting the build across runners costs the user, end to end, on one machine: the same
# release (2 shards, each 2 artifacts of BENCH_MIB MiB) run whole with `embargo run`, and split
# as the generated workflow runs it: `run --until prepare`, `build --shard` per shard, `run
# --shards` (in the same clone here: the cost of a CI job's checkout is GitHub's, not embargo's).
# Side by side in the same script, what a hand-made fan-out does to take the shards' files:
# `cp` of the shards' folders and `sha256sum` of every file (one pass over the bytes each).
#
# The build steps move prepared files in from a folder beside the clone (outside the timing), so
# the build costs the same in both ways and the difference is embargo's own work: the runs'
# plans, the hand-off push, the shards' manifests, and the proof and copy of every byte taken.
# Between runs (not timed) `embargo abort` takes the release back.
#
# Usage: benches/fanout.sh
#   BENCH_MIB=256     size of each of the 4 artifacts (default 256)
#   BENCH_RUNS=3      runs of each way (default 3; medians)
#   BENCH_COMMITS=20000 BENCH_TAGS=2000 (defaults of benches/lib.sh: a large repository)
#   BENCH_KEEP=1      keep the generated folder
set -euo pipefail

BENCH_NAME=fanout.sh
source "$(dirname "$0")/lib.sh"
BENCH_FIX=notice BENCH_FIX_COMMITS=1
bench_config
MIB=${BENCH_MIB:-256}
RUNS=${BENCH_RUNS:-3}

bench_build
bench_tmp fanout
bench_git_env
bench_generate
: "${LINE:?}"

mkdir -p "$TMP/master/one" "$TMP/master/two"
for shard in one two; do
    for i in 1 2; do
        head -c $((MIB * 1024 * 1024)) /dev/urandom >"$TMP/master/$shard/app-$shard-$i.bin"
    done
done

mkdir -p pipelines
cat >pipelines/split.yaml <<EOF
version: 1
name: security-release
repository: {path: .., private: security, public: origin}
versioning: {tag: "v{major}.{minor}.{patch}", branch: "{tag}", line: "$LINE"}
fix: {branch: $FIX_BRANCH, base: master}
build:
  matrix:
    - name: one
    - name: two
  steps:
    - name: binaries
      run: mkdir -p out && mv "$TMP/in/\$EMBARGO_SHARD"/*.bin out/
      timeout: 5m
  artifacts: ["out/app-{shard}-*.bin"]
  checksums: SHA256SUMS
verify:
  - name: present
    run: ls "\$EMBARGO_DIST"
    expect_stdout: "app-two-2.bin"
    timeout: 5m
cherry_pick: {onto: [master], branch: "cherry-pick/{tag}/{target}", on_conflict: report}
embargo: "2036-12-01 16:00 UTC"
EOF
P=pipelines/split.yaml

fresh_inputs() { rm -rf "$TMP/in" && cp -r "$TMP/master" "$TMP/in" && sync; }
ms_since() { echo $((($(now_us) - $1) / 1000)); }
quiet() { # runs embargo; its output only on failure
    EMBARGO_TEST_NO_NAMESPACES=1 "$EMBARGO" "$@" >"$TMP/out" 2>&1 || { cat "$TMP/out" >&2; exit 1; }
}
take_back() {
    "$EMBARGO" abort "$P" >/dev/null 2>&1 || { echo "abort failed" >&2; exit 1; }
    rm -rf .git/embargo/*/aborted .git/embargo/*/*/aborted "$TMP/shards"
}

whole=() split=() prep=() shards=() assemble=() by_hand=()
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 0; r < RUNS; r++)); do
    fresh_inputs
    t0=$(now_us)
    quiet run "$P"
    whole+=("$(ms_since "$t0")")
    take_back

    fresh_inputs
    t0=$(now_us)
    quiet run "$P" --until prepare
    prep+=("$(ms_since "$t0")")
    t1=$(now_us)
    quiet build "$P" --shard one --output "$TMP/shards"
    quiet build "$P" --shard two --output "$TMP/shards"
    shards+=("$(ms_since "$t1")")
    t2=$(now_us)
    quiet run "$P" --shards "$TMP/shards"
    assemble+=("$(ms_since "$t2")")
    split+=("$(ms_since "$t0")")

    # By hand: the shards' folders copied where the stage job works, every file hashed.
    rm -rf "$TMP/by-hand"
    sync
    t3=$(now_us)
    cp -r "$TMP/shards" "$TMP/by-hand"
    find "$TMP/by-hand" -name '*.bin' -print0 | xargs -0 sha256sum >/dev/null
    by_hand+=("$(ms_since "$t3")")
    take_back
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
w=$(median "${whole[@]}")
s=$(median "${split[@]}")
a=$(median "${assemble[@]}")
h=$(median "${by_hand[@]}")
echo "fanout: 2 shards x 2 artifacts x $MIB MiB, $COMMITS commits / $TAGS tags, $RUNS runs, medians, load before: $load_before"
printf '  %-52s %7d ms   (runs: %s)\n' "embargo run, whole, on one machine" "$w" "${whole[*]}"
printf '  %-52s %7d ms   (runs: %s)\n' "split: run --until prepare" "$(median "${prep[@]}")" "${prep[*]}"
printf '  %-52s %7d ms   (runs: %s)\n' "split: build --shard one, then two" "$(median "${shards[@]}")" "${shards[*]}"
printf '  %-52s %7d ms   (runs: %s)\n' "split: run --shards (proves and takes 4 files)" "$a" "${assemble[*]}"
printf '  %-52s %7d ms   (%.2f x the whole run)\n' "split, all jobs one after another" "$s" "$(awk -v s="$s" -v w="$w" 'BEGIN {print s / w}')"
printf '  %-52s %7d ms   (runs: %s)\n' "by hand: cp -r of the shards + sha256sum of each file" "$h" "${by_hand[*]}"
