#!/usr/bin/env bash
# How long stage 5 (cherry-pick) takes on a repository the size of a real project, against a
# release lead doing the same picks by hand with the git CLI.
#
# Builds the release binary, then generates in a temporary folder (benches/lib.sh):
#   public.git    the "public" remote: BENCH_COMMITS commits (default 20,000), BENCH_TAGS annotated
#                 tags (default 2,000) over BENCH_LINES release lines (default 40: 1.0 .. 1.39),
#                 of which the newest BENCH_BRANCHES (default 30) keep their release-1.X branch;
#   security.git  the "private" remote: the same, plus the fix security/CVE-2026-0001, BENCH_FIX_COMMITS
#                 commits (default 3) on top of master that harden src/auth.c, src/session.c and
#                 src/acl.c, files every release branch has. Two release branches reworked the
#                 lines the fix changes: the fix conflicts there (at its first commit on the
#                 oldest branch, at its last on the middle one) and picks cleanly everywhere else;
#   work          the release lead's clone (remotes `origin` and `security`),
# and measures, for the release of the newest line with cherry_pick.onto [master, "release-*"]
# (master and every release branch: BENCH_BRANCHES + 1 targets):
#   1. `embargo run PIPELINE --dry-run --keep`, BENCH_RUNS times (default 5): the wall time of each run
#      (target: under 3 s), each in the fresh temporary folder the dry run makes and prints, which
#      is deleted after the run;
#   2. the cherry-pick stage alone, from each dry run's journal (state/journal.jsonl: the stage's
#      `started` and `completed` times) (target: under 2 s);
#   3. the baseline, BENCH_BASELINE_RUNS times (default 3): for each target, `git worktree add` of
#      its tip, `git cherry-pick -x` of the fix commits (on a conflict `git cherry-pick --abort`, and
#      on to the next target), `git branch` for the result, `git worktree remove`
#      (target: the cherry-pick stage at least 5 times faster);
#   4. git's fastest way, BENCH_MERGE_TREE_RUNS times (default 3): for each target and fix commit,
#      `git merge-tree --write-tree --merge-base=FIX^ TIP FIX` (no working tree, no index) and
#      `git commit-tree` of the result onto the tip;
#   5. with BENCH_BEFORE=PATH (another embargo binary, e.g. one built from main), the same dry runs
#      with that binary too, alternating with this one's in the same loop, side by side.
# Then it checks that all made the same picks: the same targets clean and in conflict, and on each
# target picked cleanly, the same tree (the dry run's scratch repository's branch
# cherry-pick/TAG/TARGET against the branches git made both ways, and the BENCH_BEFORE binary's).
# Any difference fails the script (exit 1).
#
# Usage: benches/cherry_pick.sh
#   BENCH_COMMITS=2000 BENCH_TAGS=200 benches/cherry_pick.sh   # a quick smoke run
#   BENCH_LINES=300 BENCH_BRANCHES=299 BENCH_BASELINE_RUNS=1 benches/cherry_pick.sh
#                       # 300 targets (master and 299 release branches; target: dry run under 2.5 s)
#   BENCH_BEFORE=/path/to/embargo   # and the same dry runs with another build, side by side
#   BENCH_RUNS=10 BENCH_BASELINE_RUNS=5                         # more runs
#   BENCH_LINES, BENCH_BRANCHES, BENCH_FIX_COMMITS, BENCH_CONFLICTS  # the repository (benches/lib.sh)
#   BENCH_KEEP=1        keep the generated repositories and print where they are
# Everything is removed on exit unless BENCH_KEEP=1 (the dry runs' folders too: they are made
# under the generated folder and each is deleted after its run).
set -euo pipefail

BENCH_NAME=cherry_pick.sh
source "$(dirname "$0")/lib.sh"
BENCH_BRANCHES=${BENCH_BRANCHES:-30}
BENCH_FIX=source
bench_config
RUNS=${BENCH_RUNS:-5}
BASELINE_RUNS=${BENCH_BASELINE_RUNS:-3}
MERGE_TREE_RUNS=${BENCH_MERGE_TREE_RUNS:-3}
BEFORE=${BENCH_BEFORE:-}
if [[ -n "$BEFORE" && ! -x "$BEFORE" ]]; then
    echo "cherry_pick.sh: BENCH_BEFORE=$BEFORE is not an executable" >&2
    exit 2
fi
# Up to 40 targets: the dry run in 3 s; by the hundred (issue 15: 300 targets), 2.5 s.
TARGET_DRY_RUN_MS=3000
if ((BRANCHES + 1 > 100)); then TARGET_DRY_RUN_MS=2500; fi
TARGET_STAGE_MS=2000
TARGET_RATIO=5

bench_build
bench_tmp cherry-pick
bench_git_env
bench_generate

fail() {
    echo "cherry_pick.sh: $*" >&2
    exit 1
}

# The pipeline, shaped like src/sample/pipeline.yaml, with a build and a check that take no time.
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
    - name: artifact
      run: mkdir -p dist && echo x > dist/app.tar.gz
      timeout: 1m
  artifacts: ["dist/*.tar.gz"]
  checksums: SHA256SUMS

verify:
  - name: artifact
    run: cat "\$EMBARGO_DIST/app.tar.gz"
    expect_stdout: "x"
    timeout: 1m

cherry_pick:
  onto: [master, "release-*"]
  branch: "cherry-pick/{tag}/{target}"
  on_conflict: report

embargo: "2036-12-01 16:00 UTC"
EOF

# The targets, as embargo chooses them (the public remote's master and release-* branches), and
# the fix commits, oldest first: what the release lead picks by hand.
mapfile -t TARGETS < <(git ls-remote --heads origin | sed 's#^[0-9a-f]*\trefs/heads/##' |
    grep -E '^(master|release-.*)$' | sort)
FIX_TIP=$(git ls-remote security "refs/heads/$FIX_BRANCH" | cut -f1)
[[ -n "$FIX_TIP" ]] || fail "the private remote has no $FIX_BRANCH"

# --- 1 and 2: embargo run --dry-run ---

# The dry runs make their folders under TMP (TMPDIR), so nothing is left behind even if this script
# stops half-way.
DRY_TMP="$TMP/dry-runs"
mkdir -p "$DRY_TMP"
# The clone must not change (then every run is as cold as the first: it fetches the fix again).
clone_state() { git for-each-ref --format='%(objectname) %(refname)'; git count-objects -v | grep -v '^size'; }
clone_before=$(clone_state)

# Microseconds since the epoch of RFC 3339 times, one per line (GNU date reads the fractions).
to_us() { date -u -f - +%s%N | sed 's/...$//'; }

# The journal's time of `EVENT` of `STAGE`, in microseconds.
journal_us() { # JOURNAL STAGE EVENT
    { grep -o "\"at\":\"[^\"]*\",\"stage\":\"$2\",\"event\":\"$3\"" "$1" || true; } | tail -1 |
        sed 's/^"at":"\([^"]*\)".*/\1/' | to_us
}

# The cherry-pick stage's `manual` list (journal line on stdin): "TARGET FIX_COMMIT" lines. Its
# objects hold no nested object, and the keys may come in any order.
manual_of() {
    sed -n 's/.*"manual":\[//p' | sed -e 's/^\].*//' -e 's/}\].*//' -e 's/},{/\n/g' |
        while read -r object; do
            [[ -n "$object" ]] || continue
            target=$(grep -o '"target":"[^"]*"' <<<"$object" | cut -d'"' -f4)
            fix=$(grep -o '"fix_commit":"[^"]*"' <<<"$object" | cut -d'"' -f4)
            echo "$target $fix"
        done | sort
}

STAGES=(prepare build verify freeze cherry-pick)
declare -A STAGE_MS=() # stage -> its times in ms, one run a line
WALL_MS=""
STARTUP_MS="" # from the command's start to the journal's first entry: process start, plan
CLONE_WARNING=""
load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")

# One dry run of the binary $1 (run $2): sets t0, t1 (microseconds), dir and journal.
dry_run() {
    t0=$(now_us)
    if ! TMPDIR="$DRY_TMP" "$1" run "$PIPELINE" --dry-run --keep >"$TMP/dry.out" 2>"$TMP/dry.err"; then
        cat "$TMP/dry.out" "$TMP/dry.err" >&2
        fail "$1 run --dry-run failed (run $2)"
    fi
    t1=$(now_us)
    dir=$(sed -n 's/^dry run: nothing was written outside \(.*\) (kept: --keep)$/\1/p' "$TMP/dry.out")
    [[ -n "$dir" && -d "$dir" ]] || {
        cat "$TMP/dry.out" >&2
        fail "the dry run of $1 did not say where it wrote (run $2)"
    }
    journal="$dir/state/journal.jsonl"
}

# The pick branches a dry run made: "TARGET COMMIT TREE" lines.
picks_of() {
    git -C "$1/scratch.git" for-each-ref --format='%(refname) %(objectname) %(tree)' \
        'refs/heads/cherry-pick/' | sed 's#^refs/heads/cherry-pick/[^/]*/##' | sort
}

BEFORE_WALL_MS="" BEFORE_STAGE_MS="" BEFORE_PICKS=""
for ((r = 1; r <= RUNS; r++)); do
    if [[ -n "$BEFORE" ]]; then
        # The other build first, then this one: both see the same cache, run after run.
        dry_run "$BEFORE" "$r"
        BEFORE_WALL_MS+=$(awk -v u=$((t1 - t0)) 'BEGIN { printf "%.3f", u / 1000 }')$'\n'
        s=$(journal_us "$journal" cherry-pick started)
        c=$(journal_us "$journal" cherry-pick completed)
        [[ -n "$s" && -n "$c" ]] || fail "the journal $journal has no cherry-pick started/completed (BENCH_BEFORE, run $r)"
        BEFORE_STAGE_MS+=$(awk -v u=$((c - s)) 'BEGIN { printf "%.3f", u / 1000 }')$'\n'
        BEFORE_PICKS=$(picks_of "$dir")
        rm -rf "$dir"
    fi
    dry_run "$EMBARGO" "$r"
    WALL_MS+=$(awk -v u=$((t1 - t0)) 'BEGIN { printf "%.3f", u / 1000 }')$'\n'
    first=$(journal_us "$journal" prepare started)
    STARTUP_MS+=$(awk -v u=$((first - t0)) 'BEGIN { printf "%.3f", u / 1000 }')$'\n'
    for stage in "${STAGES[@]}"; do
        s=$(journal_us "$journal" "$stage" started)
        c=$(journal_us "$journal" "$stage" completed)
        [[ -n "$s" && -n "$c" ]] || fail "the journal $journal has no $stage started/completed (run $r)"
        STAGE_MS[$stage]+=$(awk -v u=$((c - s)) 'BEGIN { printf "%.3f", u / 1000 }')$'\n'
    done
    # What the run picked: target, pick commit and tree of each pick branch; the targets left for
    # a manual backport, with the fix commit that conflicts.
    picks=$(picks_of "$dir")
    manual=$(grep '"stage":"cherry-pick","event":"completed"' "$journal" | tail -1 | manual_of)
    if ((r == 1)); then
        TAG=$(grep -o '"stage":"prepare","event":"completed","detail":{.*' "$journal" |
            grep -o '"tag":"[^"]*"' | head -1 | cut -d'"' -f4)
        EMBARGO_PICKS=$picks
        EMBARGO_MANUAL=$manual
        SUMMARY=$(cat "$TMP/dry.out")
    elif [[ "$picks" != "$EMBARGO_PICKS" || "$manual" != "$EMBARGO_MANUAL" ]]; then
        fail "dry run $r picked differently from dry run 1 (the picks should be reproducible)"
    fi
    rm -rf "$dir"
done
[[ "$(clone_state)" == "$clone_before" ]] || CLONE_WARNING="the clone changed during the dry runs: they were not independent"

# --- 3: the same picks by hand ---

# The release lead fetches the fix first (not timed: embargo's dry runs fetch it too, while they
# resolve the plan, before their first stage, so it is not in the cherry-pick stage's time either).
git fetch -q security
mapfile -t FIX_SHAS < <(git rev-list --reverse "refs/remotes/origin/master..$FIX_TIP")
((${#FIX_SHAS[@]} == FIX_COMMITS)) || fail "expected $FIX_COMMITS fix commits, found ${#FIX_SHAS[@]}"

BY_HAND=refs/heads/by-hand
WORKTREE="$TMP/pick"
bench_cleanup_extra() { git -C "$TMP/work" worktree remove --force "$WORKTREE" 2>/dev/null; }

# For each target: a worktree at its tip, the picks, a branch for a clean result; a conflict is
# aborted and left for a manual backport. Prints "TARGET clean" or "TARGET conflict".
by_hand() {
    local target
    for target in "${TARGETS[@]}"; do
        git worktree add -q --detach "$WORKTREE" "refs/remotes/origin/$target"
        if git -C "$WORKTREE" cherry-pick -x "${FIX_SHAS[@]}" >/dev/null 2>&1; then
            git -C "$WORKTREE" branch "by-hand/$target"
            echo "$target clean"
        else
            git -C "$WORKTREE" cherry-pick --abort
            echo "$target conflict"
        fi
        git worktree remove "$WORKTREE"
    done
}

BASELINE_MS=""
for ((r = 1; r <= BASELINE_RUNS; r++)); do
    git for-each-ref --format='delete %(refname)' "$BY_HAND/" | git update-ref --stdin
    t0=$(now_us)
    by_hand >"$TMP/by-hand.out"
    t1=$(now_us)
    BASELINE_MS+=$(awk -v u=$((t1 - t0)) 'BEGIN { printf "%.3f", u / 1000 }')$'\n'
done

# --- 4: git merge-tree: no worktree, no index ---

declare -A TIP=()
while read -r sha ref; do TIP[${ref#refs/remotes/origin/}]=$sha; done < <(
    git for-each-ref --format='%(objectname) %(refname)' refs/remotes/origin/)

# For each target, the fix commits one after the other: each merged onto the result so far (its
# parent as the merge base, as a cherry-pick does) and committed onto it. Prints "TARGET clean
# TREE" or "TARGET conflict".
merge_tree() {
    local target tip fix tree state
    for target in "${TARGETS[@]}"; do
        tip=${TIP[$target]} state=clean
        for fix in "${FIX_SHAS[@]}"; do
            if ! tree=$(git merge-tree --write-tree --no-messages --merge-base="$fix^" "$tip" "$fix"); then
                state=conflict
                break
            fi
            tip=$(git commit-tree "$tree" -p "$tip" -m "picked $fix")
        done
        if [[ $state == clean ]]; then echo "$target clean $tree"; else echo "$target conflict"; fi
    done
}

MERGE_TREE_MS=""
for ((r = 1; r <= MERGE_TREE_RUNS; r++)); do
    t0=$(now_us)
    merge_tree >"$TMP/merge-tree.out"
    t1=$(now_us)
    MERGE_TREE_MS+=$(awk -v u=$((t1 - t0)) 'BEGIN { printf "%.3f", u / 1000 }')$'\n'
done

# --- do they all agree? ---

declare -A E_TREE=() E_COMMIT=() G_STATE=()
while read -r target commit tree; do
    E_TREE[$target]=$tree
    E_COMMIT[$target]=$commit
done <<<"$EMBARGO_PICKS"
if ((BASELINE_RUNS > 0)); then
    while read -r target state; do G_STATE[$target]=$state; done <"$TMP/by-hand.out"
fi
declare -A M_STATE=() M_TREE=()
if ((MERGE_TREE_RUNS > 0)); then
    while read -r target state tree; do
        M_STATE[$target]=$state
        M_TREE[$target]=${tree:-}
    done <"$TMP/merge-tree.out"
fi

fix_index() { # SHA -> "N/FIX_COMMITS"
    local i
    for i in "${!FIX_SHAS[@]}"; do
        if [[ "${FIX_SHAS[i]}" == "$1" ]]; then
            echo "$((i + 1))/$FIX_COMMITS"
            return
        fi
    done
    echo "?"
}

e_clean=0 e_conflict=0 g_clean=0 g_conflict=0 same_tree=0 same_commit=0 disagreements=()
m_same=0
if [[ -n "$BEFORE" && "$BEFORE_PICKS" != "$EMBARGO_PICKS" ]]; then
    disagreements+=("BENCH_BEFORE made other pick commits or trees than this build")
fi
conflict_list=""
for target in "${TARGETS[@]}"; do
    e=none
    if [[ -n "${E_TREE[$target]:-}" ]]; then
        e=clean e_clean=$((e_clean + 1))
    else
        conflicting=$(awk -v t="$target" '$1 == t { print $2 }' <<<"$EMBARGO_MANUAL")
        if [[ -n "$conflicting" ]]; then
            e=conflict e_conflict=$((e_conflict + 1))
            conflict_list+=" $target (at fix commit $(fix_index "$conflicting"))"
        fi
    fi
    g=${G_STATE[$target]:-none}
    case $g in
    clean) g_clean=$((g_clean + 1)) ;;
    conflict) g_conflict=$((g_conflict + 1)) ;;
    esac
    if ((BASELINE_RUNS == 0)); then
        : # no picks by hand to compare with (BENCH_BASELINE_RUNS=0)
    elif [[ "$e" != "$g" ]]; then
        disagreements+=("$target: embargo $e, git $g")
    elif [[ "$e" == clean ]]; then
        g_tree=$(git rev-parse "by-hand/$target^{tree}")
        g_commit=$(git rev-parse "by-hand/$target")
        if [[ "$g_tree" == "${E_TREE[$target]}" ]]; then
            same_tree=$((same_tree + 1))
        else
            disagreements+=("$target: embargo's tree ${E_TREE[$target]}, git's $g_tree")
        fi
        if [[ "$g_commit" == "${E_COMMIT[$target]}" ]]; then same_commit=$((same_commit + 1)); fi
    fi
    if ((MERGE_TREE_RUNS > 0)); then
        m=${M_STATE[$target]:-none}
        if [[ "$e" != "$m" ]]; then
            disagreements+=("$target: embargo $e, git merge-tree $m")
        elif [[ "$e" == clean && "${M_TREE[$target]}" != "${E_TREE[$target]}" ]]; then
            disagreements+=("$target: embargo's tree ${E_TREE[$target]}, git merge-tree's ${M_TREE[$target]}")
        elif [[ "$e" == clean ]]; then
            m_same=$((m_same + 1))
        fi
    fi
done

# --- the report ---

median() { sort -n | awk '{ v[NR] = $1 } END { printf "%.1f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
verdict() { awk -v ok="$1" 'BEGIN { print ok ? "met" : "NOT MET" }'; }

n=${#TARGETS[@]}
dry_median=$(median <<<"${WALL_MS%$'\n'}")
stage_median=$(median <<<"${STAGE_MS[cherry-pick]%$'\n'}")
hand_ms=${BASELINE_MS%$'\n'}
hand_median=$(median <<<"${hand_ms:-0}")
ratio=$(awk -v g="$hand_median" -v e="$stage_median" 'BEGIN { printf "%.1f", (e > 0) ? g / e : 0 }')
release_branches=$(printf '%s\n' "${TARGETS[@]}" | grep -c '^release-' || true)

echo
echo "embargo cherry-pick benchmark"
echo "  machine       $(nproc 2>/dev/null || echo '?') core(s), load average $load_before before timing, $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?') after"
echo "  repository    $COMMITS commits ($MASTER_LEN on master, $LINES release lines of $BRANCH_LEN backports), $((LINES * PATCHES)) annotated tags, $(git -C "$TMP/public.git" count-objects -vH | awk '/size-pack/ { print $2, $3 }') packed"
echo "                $BRANCHES release branches (release-1.$FIRST_LINE .. release-$LINE; the $FIRST_LINE older lines are end of life: tags only)"
echo "  release       $TAG (line $LINE), fix $FIX_BRANCH: $FIX_COMMITS commits on master (${FIX_FILES[*]})"
echo "  targets       $n: master and $release_branches release branches (onto [master, \"release-*\"])"
echo "  embargo       $e_clean clean picks, $e_conflict conflicts:${conflict_list:- none}"
echo "  git by hand   $g_clean clean picks, $g_conflict conflicts"
if ((${#disagreements[@]} == 0)); then
    echo "  agreement     same clean and conflicting targets; $same_tree/$e_clean trees identical ($same_commit/$e_clean commits identical too)"
else
    echo "  agreement     NO: ${#disagreements[@]} difference(s):"
    printf '                %s\n' "${disagreements[@]}"
fi
[[ -z "$CLONE_WARNING" ]] || echo "  warning       $CLONE_WARNING"
echo "  dry run       $(stats <<<"${WALL_MS%$'\n'}")  (each run fetches the fix into a fresh scratch repository)"
echo "    before the first stage  $(stats <<<"${STARTUP_MS%$'\n'}" | sed 's/ (.*//')  (process start, plan)"
for stage in "${STAGES[@]}"; do
    printf '    %-22s  %s\n' "$stage" "$(stats <<<"${STAGE_MS[$stage]%$'\n'}" | sed 's/ (.*//')"
done
echo "  cherry-pick   $(stats <<<"${STAGE_MS[cherry-pick]%$'\n'}"), $(awk -v m="$stage_median" -v n="$n" 'BEGIN { printf "%.1f", m / n }') ms a target (median)"
((BASELINE_RUNS == 0)) || echo "  git by hand   $(stats <<<"${BASELINE_MS%$'\n'}"), $(awk -v m="$hand_median" -v n="$n" 'BEGIN { printf "%.1f", m / n }') ms a target (median)"
((BASELINE_RUNS == 0)) || echo "  ratio         git by hand / embargo's cherry-pick stage: ${ratio}x (medians)"
if ((MERGE_TREE_RUNS > 0)); then
    mt_median=$(median <<<"${MERGE_TREE_MS%$'\n'}")
    echo "  git merge-tree $(stats <<<"${MERGE_TREE_MS%$'\n'}"), $(awk -v m="$mt_median" -v n="$n" 'BEGIN { printf "%.1f", m / n }') ms a target (median; merge-tree + commit-tree per fix commit; $m_same/$e_clean trees identical)"
    echo "  ratio         git merge-tree / embargo's cherry-pick stage: $(awk -v g="$mt_median" -v e="$stage_median" 'BEGIN { printf "%.1f", (e > 0) ? g / e : 0 }')x (medians)"
fi
if [[ -n "$BEFORE" ]]; then
    b_dry=$(median <<<"${BEFORE_WALL_MS%$'\n'}")
    b_stage=$(median <<<"${BEFORE_STAGE_MS%$'\n'}")
    echo "  BENCH_BEFORE  $BEFORE (alternating with this build, run for run)"
    echo "    dry run     $(stats <<<"${BEFORE_WALL_MS%$'\n'}")"
    echo "    cherry-pick $(stats <<<"${BEFORE_STAGE_MS%$'\n'}"), $(awk -v m="$b_stage" -v n="$n" 'BEGIN { printf "%.1f", m / n }') ms a target (median)"
    echo "    ratio       before / this build: dry run $(awk -v b="$b_dry" -v a="$dry_median" 'BEGIN { printf "%.1f", (a > 0) ? b / a : 0 }')x, cherry-pick stage $(awk -v b="$b_stage" -v a="$stage_median" 'BEGIN { printf "%.1f", (a > 0) ? b / a : 0 }')x (medians)"
fi
echo "  targets       dry run under $TARGET_DRY_RUN_MS ms: $(verdict "$(awk -v m="$dry_median" -v t=$TARGET_DRY_RUN_MS 'BEGIN { print (m < t) }')") (median $dry_median ms)"
echo "                cherry-pick stage under $TARGET_STAGE_MS ms for $n targets: $(verdict "$(awk -v m="$stage_median" -v t=$TARGET_STAGE_MS 'BEGIN { print (m < t) }')") (median $stage_median ms)"
((BASELINE_RUNS == 0)) || echo "                at least ${TARGET_RATIO}x faster than git by hand: $(verdict "$(awk -v r="$ratio" -v t=$TARGET_RATIO 'BEGIN { print (r >= t) }')") (${ratio}x)"

if ((${#disagreements[@]} > 0)); then
    echo >&2
    echo "cherry_pick.sh: embargo and git disagree on ${#disagreements[@]} target(s); the first dry run said:" >&2
    echo "$SUMMARY" >&2
    exit 1
fi
