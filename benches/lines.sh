#!/usr/bin/env bash
# How long a release of several lines takes to plan and to dry-run, against the same lines done
# one at a time (`--line X.Y` each), as a release lead without `versioning.lines` would.
#
# Generates with benches/lib.sh the repository plan.sh and cherry_pick.sh use (BENCH_COMMITS
# commits, default 20,000; BENCH_TAGS annotated tags, default 2,000, over BENCH_LINES release lines,
# default 40, each with its release-1.X branch; the fix security/CVE-2026-0001 on the private
# remote, BENCH_FIX_COMMITS commits of a new file that applies everywhere) and a pipeline releasing
# the BENCH_RELEASE_LINES newest lines (default 4) with `versioning.lines: {supported: N}`, a build
# and a check that take no time, cherry-picks onto master and every release branch. Then, in the
# same loop, alternating:
#   1. `embargo plan PIPELINE`                 (every line resolved, each fix tried in memory;
#                                                target: under 300 ms)
#   2. `embargo plan PIPELINE --line X.Y`, for each of the N lines
#   3. `embargo run PIPELINE --dry-run`         (stages 1 to 5 of every line; target: under 4 s)
#   4. `embargo run PIPELINE --dry-run --line X.Y`, for each of the N lines
#   5. `embargo run PIPELINE --dry-run --jobs 2`  (two lines at a time)
# and prints the medians and the ratios.
#
# Usage: benches/lines.sh
#   BENCH_COMMITS=2000 BENCH_TAGS=200 benches/lines.sh   # a quick smoke run
#   BENCH_RELEASE_LINES=3 BENCH_RUNS=5
#   BENCH_BACKPORT=0    no backport (default 1: the oldest released line gets its own backport,
#                       a branch from its latest tag, in fix.per_line, whose commits are found by
#                       leaving out everything public: every branch and tag)
set -euo pipefail

BENCH_NAME=lines.sh
source "$(dirname "$0")/lib.sh"
BENCH_FIX=notice
bench_config
RUNS=${BENCH_RUNS:-5}
N=${BENCH_RELEASE_LINES:-4}
if ! [[ "$N" =~ ^[0-9]+$ ]] || ((N < 2 || N > LINES)); then
    echo "lines.sh: BENCH_RELEASE_LINES=$N: 2 .. $LINES" >&2
    exit 2
fi

bench_build
bench_tmp lines
bench_git_env
bench_generate

NEWEST=$((LINES - 1))
OLDEST="1.$((NEWEST - N + 1))"
PER_LINE=""
if [[ ${BENCH_BACKPORT:-1} == 1 ]]; then
    git checkout -q -b backport "v$OLDEST.$((PATCHES - 1))"
    echo "backported" >SECURITY-BACKPORT.txt
    git add SECURITY-BACKPORT.txt
    git commit -q -m "Harden, backported to $OLDEST"
    git push -q security "backport:refs/heads/$FIX_BRANCH-$OLDEST"
    git checkout -q master
    git branch -q -D backport
    PER_LINE="  per_line: {\"$OLDEST\": $FIX_BRANCH-$OLDEST}"
fi

mkdir -p pipelines
PIPELINE="$TMP/work/pipelines/security-release.yaml"
cat >"$PIPELINE" <<EOF2
version: 1
name: security-release
repository: {path: ., private: security, public: origin}
versioning:
  tag: "v{major}.{minor}.{patch}"
  branch: "{tag}"
  lines: {supported: $N}
fix:
  branch: $FIX_BRANCH
  base: master
$PER_LINE
build:
  steps:
    - name: artifact
      run: mkdir -p dist && echo "\$EMBARGO_VERSION" > "dist/app-\$EMBARGO_VERSION.tar.gz"
      timeout: 1m
  artifacts: ["dist/*.tar.gz"]
  checksums: SHA256SUMS
verify:
  - name: version
    run: cat "\$EMBARGO_DIST/app-\$EMBARGO_VERSION.tar.gz"
    expect_stdout: "{version}"
    timeout: 1m
cherry_pick:
  onto: [master, "release-*"]
  branch: "cherry-pick/{tag}/{target}"
  on_conflict: report
embargo: "2036-12-01 16:00 UTC"
EOF2
RELEASED=()
for ((i = 0; i < N; i++)); do RELEASED+=("1.$((NEWEST - i))"); done

fail() {
    echo "lines.sh: $*" >&2
    exit 1
}
# Milliseconds a command takes; fails the script if it fails.
time_ms() {
    local t0 t1
    t0=$(now_us)
    "$@" >"$TMP/out" 2>"$TMP/err" || fail "$* failed: $(cat "$TMP/err")"
    t1=$(now_us)
    awk -v u=$((t1 - t0)) 'BEGIN { printf "%.1f\n", u / 1000 }'
}
one_by_one() { # $1: plan or dry-run
    local line
    for line in "${RELEASED[@]}"; do
        if [[ $1 == plan ]]; then
            "$EMBARGO" plan "$PIPELINE" --line "$line" >/dev/null
        else
            TMPDIR="$TMP" "$EMBARGO" run "$PIPELINE" --dry-run --line "$line" >/dev/null 2>&1
        fi
    done
}

# Warm up, and check what the set does: every line, each fix applying, one push to each remote.
"$EMBARGO" plan "$PIPELINE" >"$TMP/plan.out" || fail "plan failed"
(($(grep -c 'yes, cleanly onto' "$TMP/plan.out") == N)) || fail "plan: $(cat "$TMP/plan.out")"
TMPDIR="$TMP" "$EMBARGO" run "$PIPELINE" --dry-run >"$TMP/dry.out" 2>&1 || fail "dry run: $(cat "$TMP/dry.out")"
(($(grep -c 'git push --atomic' "$TMP/dry.out") == 2)) || fail "dry run: $(cat "$TMP/dry.out")"

load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
PLAN_SET="" PLAN_ONE="" DRY_SET="" DRY_ONE="" DRY_JOBS=""
for ((r = 0; r < RUNS; r++)); do
    PLAN_SET+=$(time_ms "$EMBARGO" plan "$PIPELINE")$'\n'
    PLAN_ONE+=$(time_ms one_by_one plan)$'\n'
    DRY_SET+=$(TMPDIR="$TMP" time_ms "$EMBARGO" run "$PIPELINE" --dry-run)$'\n'
    DRY_ONE+=$(time_ms one_by_one dry-run)$'\n'
    DRY_JOBS+=$(TMPDIR="$TMP" time_ms "$EMBARGO" run "$PIPELINE" --dry-run --jobs 2)$'\n'
done
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ps=$(median <<<"${PLAN_SET%$'\n'}")
po=$(median <<<"${PLAN_ONE%$'\n'}")
ds=$(median <<<"${DRY_SET%$'\n'}")
do_=$(median <<<"${DRY_ONE%$'\n'}")
dj=$(median <<<"${DRY_JOBS%$'\n'}")
verdict() { awk -v m="$1" -v t="$2" 'BEGIN { print (m < t) ? "met" : "NOT MET" }'; }

echo
echo "embargo release of several lines benchmark"
echo "  machine       $(nproc 2>/dev/null || echo '?') core(s), load average $load_before before timing, $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?') after"
echo "  repository    $COMMITS commits, $((LINES * PATCHES)) annotated tags, $LINES release branches; releasing ${RELEASED[*]}"
[[ -n "$PER_LINE" ]] && echo "  backport      line $OLDEST from its own backport branch (fix.per_line)"
echo "  medians of $RUNS runs, alternating:"
echo "  plan, $N lines at once              $ps ms   (target under 300 ms: $(verdict "$ps" 300))"
echo "  plan --line, each of the $N lines    $po ms   (set / one by one: $(awk -v a="$ps" -v b="$po" 'BEGIN { printf "%.2f", a / b }'))"
echo "  run --dry-run, $N lines at once      $ds ms   (target under 4000 ms: $(verdict "$ds" 4000))"
echo "  run --dry-run --line, each line     $do_ ms   (set / one by one: $(awk -v a="$ds" -v b="$do_" 'BEGIN { printf "%.2f", a / b }'))"
echo "  run --dry-run --jobs 2               $dj ms   (against --jobs 1: $(awk -v a="$dj" -v b="$ds" 'BEGIN { printf "%.2f", a / b }'))"
