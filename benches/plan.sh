#!/usr/bin/env bash
# How long `embargo plan` takes on a repository the size of a real project.
#
# Builds the release binary, then generates in a temporary folder:
#   public.git    a bare "public" remote: BENCH_COMMITS commits (default 20,000) and BENCH_TAGS
#                 annotated tags (default 2,000) spelled v1.X.Y, over 40 release lines
#                 (1.0 .. 1.39), each line with its release branch release-1.X;
#   security.git  the "private" remote: the same refs plus the fix branch security/CVE-2026-0001
#                 (2 commits on top of master);
#   work          the release lead's clone, remotes `origin` (public) and `security` (private),
#                 which knows the fix only through the private remote,
# and times `embargo plan PIPELINE --line 1.39` on it. The first run fetches the fix's objects
# from the private remote, so it is reported on its own; the warm runs after it are the number
# that counts (target: under 300 ms).
#
# Usage: benches/plan.sh
#   BENCH_COMMITS=2000 BENCH_TAGS=200 benches/plan.sh   # a quick smoke run
#   BENCH_RUNS=20       number of warm runs (default 10)
#   BENCH_KEEP=1        keep the generated repositories and print where they are
# Everything is removed on exit unless BENCH_KEEP=1.
set -euo pipefail
export LC_ALL=C # byte lengths for fast-import's `data` counts, and a stable `sort`

COMMITS=${BENCH_COMMITS:-20000}
TAGS=${BENCH_TAGS:-2000}
RUNS=${BENCH_RUNS:-10}
TARGET_MS=300
FIX_BRANCH=security/CVE-2026-0001

# Release lines 1.0 .. 1.(LINES-1), PATCHES tags each (v1.X.0 .. v1.X.(PATCHES-1)).
LINES=$((TAGS < 40 ? TAGS : 40))
PATCHES=$((TAGS / LINES))
LINE="1.$((LINES - 1))"
# A quarter of the commits are on the release branches (backports), the rest on master. Every
# patch release needs at least one commit of its own on its branch.
BRANCH_LEN=$((COMMITS / (4 * LINES)))
BRANCH_LEN=$((BRANCH_LEN < PATCHES - 1 ? PATCHES - 1 : BRANCH_LEN))
MASTER_LEN=$((COMMITS - LINES * BRANCH_LEN))
if ((LINES < 1 || MASTER_LEN <= LINES)); then
    echo "plan.sh: BENCH_COMMITS=$COMMITS is too few for BENCH_TAGS=$TAGS" >&2
    exit 2
fi

ROOT=$(cd "$(dirname "$0")/.." && pwd)

# Build first, with the caller's environment: cargo and rustup find their homes through HOME,
# which the hermetic git environment below replaces.
echo "building the release binary..." >&2
(cd "$ROOT" && cargo build --release --quiet)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
[[ "$TARGET_DIR" == /* ]] || TARGET_DIR="$ROOT/$TARGET_DIR" # cargo ran in $ROOT
EMBARGO="$TARGET_DIR/release/embargo"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/embargo-bench-plan-XXXXXX")
cleanup() {
    if [[ "${BENCH_KEEP:-}" == 1 ]]; then
        echo "kept the generated repositories in $TMP" >&2
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT

# Hermetic git: no user or system configuration, fixed identities and times, so that every
# machine generates the same repositories (and the same SHAs). fast-import takes its identities
# and dates from the stream; the variables cover everything else git and embargo run.
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null HOME="$TMP" GIT_TERMINAL_PROMPT=0
export GIT_AUTHOR_NAME="Fix Lead" GIT_AUTHOR_EMAIL=fix-lead@example.org
export GIT_COMMITTER_NAME="Release Lead" GIT_COMMITTER_EMAIL=release-lead@example.org
EPOCH=1767225600 # 2026-01-01 00:00:00 UTC, as in src/sample
export GIT_AUTHOR_DATE="@$EPOCH +0000" GIT_COMMITTER_DATE="@$EPOCH +0000"

# Microseconds since the epoch; bash's EPOCHREALTIME costs no process, `date` is the fallback.
now_us() {
    if [[ -n "${EPOCHREALTIME:-}" ]]; then
        local t=${EPOCHREALTIME/[.,]/}
        echo "$t"
    else
        echo $(($(date +%s%N) / 1000))
    fi
}

# --- the history, as a git fast-import stream (one process instead of 20,000 `git commit`s) ---

data() { printf 'data %d\n%s\n' "${#1}" "$1"; }

# Master commit i gets mark :i; commit k (1-based) of line X's release branch gets mark
# :(MASTER_LEN + X * BRANCH_LEN + k). Line X forks from master commit (X + 1) * MASTER_LEN /
# (LINES + 1), so the lines are spread along the whole history. Master commits are an hour apart
# and end at EPOCH; backports are a minute apart after their fork.
# (Plain arithmetic, no helper functions: a $(...) per commit would cost 20,000 processes.)
fast_import_stream() {
    local i x k y t mark from
    # Master: each commit edits one of 100 source files, like ordinary development.
    for ((i = 1; i <= MASTER_LEN; i++)); do
        t=$((EPOCH - (MASTER_LEN - i) * 3600))
        printf 'commit refs/heads/master\nmark :%d\ncommitter Dev <dev@example.org> %d +0000\n' "$i" "$t"
        data "Change $i to module $((i % 100))"
        printf 'M 100644 inline src/mod-%d.c\n' $((i % 100))
        data "/* module $((i % 100)), revision $i */"
    done
    # Release branches: release-1.X forks from master at its .0 release and gets backports.
    for ((x = 0; x < LINES; x++)); do
        from=$(((x + 1) * MASTER_LEN / (LINES + 1)))
        for ((k = 1; k <= BRANCH_LEN; k++)); do
            mark=$((MASTER_LEN + x * BRANCH_LEN + k))
            t=$((EPOCH - (MASTER_LEN - from) * 3600 + k * 60))
            printf 'commit refs/heads/release-1.%d\nmark :%d\ncommitter Dev <dev@example.org> %d +0000\n' "$x" "$mark" "$t"
            data "Backport $k to 1.$x"
            if ((k == 1)); then printf 'from :%d\n' "$from"; fi
            printf 'M 100644 inline src/mod-%d.c\n' $((k % 100))
            data "/* module $((k % 100)), 1.$x backport $k */"
        done
    done
    # Annotated tags: v1.X.0 on master where the line forks, v1.X.Y spread along its branch with
    # the latest patch release at the branch's tip.
    for ((x = 0; x < LINES; x++)); do
        for ((y = 0; y < PATCHES; y++)); do
            if ((y == 0)); then
                mark=$(((x + 1) * MASTER_LEN / (LINES + 1)))
            else
                mark=$((MASTER_LEN + x * BRANCH_LEN + y * BRANCH_LEN / (PATCHES - 1)))
            fi
            printf 'tag v1.%d.%d\nfrom :%d\ntagger Release Lead <release-lead@example.org> %d +0000\n' \
                "$x" "$y" "$mark" "$EPOCH"
            data "Release v1.$x.$y"
        done
    done
}

# The fix: 2 commits on top of master ($1), on the private remote only.
fix_stream() {
    local n
    for n in 1 2; do
        printf 'commit refs/heads/%s\nauthor Fix Lead <fix-lead@example.org> %d +0000\n' "$FIX_BRANCH" "$EPOCH"
        printf 'committer Fix Lead <fix-lead@example.org> %d +0000\n' "$EPOCH"
        data "Deny anonymous access by default, part $n (CVE-2026-0001)"
        if ((n == 1)); then printf 'from %s\n' "$1"; fi
        printf 'M 100644 inline SECURITY.txt\n'
        data "anonymous access: denied (part $n)"
    done
}

started=$(now_us)
echo "generating $COMMITS commits and $((LINES * PATCHES)) tags ($LINES lines x $PATCHES patches)..." >&2
git init -q --bare -b master "$TMP/public.git"
fast_import_stream | git -C "$TMP/public.git" fast-import --quiet
# Real remotes are packed (refs and objects); fast-import leaves loose refs and a raw pack.
git -C "$TMP/public.git" gc --quiet
# The private remote mirrors the public one (a local clone shares its objects) and holds the fix.
git clone -q --bare "$TMP/public.git" "$TMP/security.git"
fix_stream "$(git -C "$TMP/security.git" rev-parse master)" |
    git -C "$TMP/security.git" fast-import --quiet
# The release lead's clone knows the fix only through the private remote, so the first plan has
# to fetch it, as on a real machine.
git clone -q "$TMP/public.git" "$TMP/work"
cd "$TMP/work"
git remote add security "$TMP/security.git"
echo "generated in $((($(now_us) - started) / 1000)) ms" >&2

# The pipeline, shaped like src/sample/pipeline.yaml; plan reads every section of it.
mkdir -p pipelines
PIPELINE="$TMP/work/pipelines/security-release.yaml"
cat >"$PIPELINE" <<EOF
version: 1
name: security-release

repository:
  path: .
  private: security
  public: origin

versioning:
  tag: "v{major}.{minor}.{patch}"
  branch: "{tag}"
  line: "$LINE"

fix:
  branch: $FIX_BRANCH
  base: master

build:
  steps:
    - name: binaries
      run: ./build.sh
      timeout: 5m
  artifacts: ["dist/*.tar.gz"]
  checksums: SHA256SUMS

verify:
  - name: version
    run: ./dist/app --version
    expect_stdout: "app {version}"
    timeout: 2m

cherry_pick:
  onto: [master, "release-*"]
  branch: "cherry-pick/{tag}/{target}"
  on_conflict: report

embargo: "2026-12-01 16:00 UTC"
EOF

# --- timing ---

plan() { "$EMBARGO" plan "$PIPELINE" --line "$LINE"; }

# Milliseconds (3 decimals) that one `embargo plan` takes; fails the script if plan fails.
time_plan() {
    local t0 t1
    t0=$(now_us)
    plan >/dev/null
    t1=$(now_us)
    printf '%d.%03d\n' $(((t1 - t0) / 1000)) $(((t1 - t0) % 1000))
}

# min / median / max of the numbers on stdin.
stats() {
    sort -n | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "min %.1f ms, median %.1f ms, max %.1f ms (%d runs)\n", v[1], m, v[NR], NR }'
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")

# The first run: it fetches the fix commits from the private remote.
t0=$(now_us)
out=$(plan)
cold=$((($(now_us) - t0) / 1000))
expected="v$LINE.$((PATCHES - 1))"
if ! grep -q "latest release   $expected " <<<"$out"; then
    echo "plan.sh: expected the latest release of line $LINE to be $expected; plan said:" >&2
    echo "$out" >&2
    exit 1
fi

if command -v hyperfine >/dev/null; then
    warm=$(hyperfine --shell=none --warmup 1 --runs "$RUNS" --style basic \
        "$EMBARGO plan $PIPELINE --line $LINE" 2>&1)
else
    warm=$(for ((r = 0; r < RUNS; r++)); do time_plan; done | stats)
fi

# For scale: plan lists both remotes with `git ls-remote`, whose cost it cannot avoid.
ls_remote=$(for ((r = 0; r < 5; r++)); do
    t0=$(now_us)
    git ls-remote --symref origin >/dev/null
    git ls-remote --symref security >/dev/null
    t1=$(now_us)
    echo $(((t1 - t0) / 1000))
done | stats)

warm_median=$(grep -o 'median [0-9.]*' <<<"$warm" | awk '{ print $2 }' || true)
if [[ -z "$warm_median" ]]; then # hyperfine's own format: "Time (mean ± σ):  123.4 ms ..."
    warm_median=$(grep -o 'Time (mean[^:]*: *[0-9.]* ms' <<<"$warm" | grep -o '[0-9.]* ms$' | cut -d' ' -f1 || true)
fi

echo
echo "embargo plan benchmark"
echo "  machine       $(nproc 2>/dev/null || echo '?') core(s), load average $load_before before timing, $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?') after"
echo "  repository    $COMMITS commits ($MASTER_LEN on master, $LINES release branches of $BRANCH_LEN), $((LINES * PATCHES)) annotated tags, $(git -C "$TMP/public.git" count-objects -vH | awk '/size-pack/ { print $2, $3 }') packed"
echo "  command       embargo plan PIPELINE --line $LINE  (latest release $expected, 2 fix commits)"
echo "  first run     $cold ms (fetches the fix from the private remote)"
echo "  warm runs     $warm" | sed '2,$s/^/                /'
echo "  2 ls-remotes  $ls_remote  (the floor: plan lists both remotes)"
if [[ -n "$warm_median" ]]; then
    verdict=$(awk -v m="$warm_median" -v t="$TARGET_MS" 'BEGIN { print (m < t) ? "met" : "NOT MET" }')
    echo "  target        warm plan under $TARGET_MS ms: $verdict (median $warm_median ms)"
else
    echo "  target        warm plan under $TARGET_MS ms"
fi
