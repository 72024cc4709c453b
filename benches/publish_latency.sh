#!/usr/bin/env bash
# How late the public push lands after the embargo instant, on a repository the size of a real
# project, for the two ways a release is published: `publish --wait` (a job waiting for the
# instant) and `publish --if-due --within 10m` (the cron fallback that starts shortly before it),
# side by side with `git push --atomic` of the same refs by hand at the same instant.
#
# Builds the release binary and generates the repositories of benches/lib.sh (default 20,000
# commits, 2,000 tags, BENCH_BRANCHES=30 release branches kept: 31 pick targets, two of them in
# conflict). For each mode and run:
#   - fresh copies of the public and private bare repositories and of the clone;
#   - the time the push landed: when the last of the refs it created became visible on the
#     public copy (the change time of its loose ref file, which the rename into place sets; a hook
#     cannot tell: embargo pushes to a repository on this machine with its hooks off);
#   - `embargo run PIPELINE --embargo <T>` (T = BENCH_LEAD seconds ahead, default 20), which
#     stages privately, then `embargo publish` in the mode, which proves everything before T and
#     waits;
#   - the latency: when the push landed, minus T.
# The baselines, per run, each to a fresh public copy, timed the same way from an instant of its
# own, of the very refs embargo pushed (branch, tag, pick branches), from the same clone:
#   git by hand   `git push --atomic --porcelain URL <sha>:<ref>...`, as embargo pushed until it
#                 was measured here: git matches each explicit refspec against every local and
#                 every advertised ref, which is most of the time on 2,000 tags;
#   git, pattern  the refs written under a namespace of their own, then `git push --atomic
#                 --porcelain URL refs/ns/*:refs/*`, as embargo pushes now (the refs written
#                 before the instant, as embargo does).
# No GitHub here: the release PATCH is not measured by this script (benches/patch_latency.rs).
#
# Usage: benches/publish_latency.sh
#   BENCH_RUNS=3            runs per mode (default 3)
#   BENCH_LEAD=20           seconds between staging and the instant (default 20)
#   BENCH_COMMITS=2000 BENCH_TAGS=200 benches/publish_latency.sh   # a quick smoke run
#   BENCH_KEEP=1            keep the generated repositories
#   BENCH_LINES=300 BENCH_BRANCHES=299 benches/publish_latency.sh   # 300 pick targets, 300 refs
#   BENCH_EMBARGO=PATH      measure that binary (an earlier build) instead of building this tree
set -euo pipefail

BENCH_NAME=publish_latency.sh
source "$(dirname "$0")/lib.sh"
BENCH_BRANCHES=${BENCH_BRANCHES:-30}
BENCH_FIX=source
bench_config
RUNS=${BENCH_RUNS:-3}
LEAD=${BENCH_LEAD:-20}
# The issue's targets: 250 ms, and 400 ms at 300 pick targets (BENCH_BRANCHES=299: master and 299).
TARGET_PUSH_MS=$((BRANCHES + 1 >= 300 ? 400 : 250))

bench_build
bench_tmp publish
bench_git_env
bench_generate

fail() {
    echo "publish_latency.sh: $*" >&2
    exit 1
}

# RFC 3339 of a time in microseconds since the epoch.
rfc3339() { date -u -d "@$(awk -v u="$1" 'BEGIN { printf "%.6f", u / 1e6 }')" +%Y-%m-%dT%H:%M:%S.%6NZ; }

# When a push to BARE_REPO landed, in microseconds: the latest change time of a loose ref file
# changed since SINCE_US (the atomic push renames each ref's lock file into place; the last rename
# is the moment every ref is visible). Empty if no ref changed.
landed_us() { # BARE_REPO SINCE_US
    find "$1/refs" -type f -newermt "@$(($2 / 1000000 - 1))" -printf '%C@\n' |
        sort -n | tail -1 | awk '$1 != "" { printf "%.0f\n", $1 * 1e6 }'
}

# Sleeps until an instant (microseconds) 3 s from now, whole seconds, and prints it.
instant_ahead() {
    local at=$(($(now_us) + 3000000))
    at=$((at - at % 1000000))
    while (($(now_us) < at - 50000)); do sleep 0.02; done
    while (($(now_us) < at)); do :; done
    echo "$at"
}

ms_after() { awk -v u=$(($1 - $2)) 'BEGIN { printf "%.1f", u / 1000 }'; }

# A fresh copy of the generated repositories in $1: public.git, security.git and the clone `work`
# with its remotes pointed at the copies.
fresh_copy() {
    local dir=$1
    mkdir -p "$dir"
    cp -a "$TMP/public.git" "$TMP/security.git" "$TMP/work" "$dir/"
    git -C "$dir/work" remote set-url origin "$dir/public.git"
    git -C "$dir/work" remote set-url security "$dir/security.git"
    # Written out now, not while the public copy (standing for GitHub) writes the pushed refs at
    # the instant: its fsyncs would wait for the copy's pages.
    sync
}

pipeline_in() { # CLONE
    mkdir -p "$1/pipelines"
    cat >"$1/pipelines/security-release.yaml" <<EOF
version: 1
name: security-release

repository:
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
EOF
    echo "$1/pipelines/security-release.yaml"
}

declare -A LATE_MS=()
REFS=0
load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")

for mode in wait if-due; do
    for ((r = 1; r <= RUNS; r++)); do
        dir="$TMP/run-$mode-$r"
        fresh_copy "$dir"
        pipeline=$(pipeline_in "$dir/work")
        instant_us=$(($(now_us) + LEAD * 1000000))
        instant_us=$((instant_us - instant_us % 1000000)) # whole seconds, as announced
        instant=$(rfc3339 "$instant_us")
        (cd "$dir/work" && "$EMBARGO" run "$pipeline" --embargo "$instant" >"$dir/run.out" 2>&1) ||
            { cat "$dir/run.out" >&2; fail "embargo run failed ($mode, run $r)"; }
        (($(now_us) < instant_us - 2000000)) || fail "staging took longer than BENCH_LEAD=$LEAD s"
        sync # what staging wrote, out before the public copy fsyncs the pushed refs at the instant
        case $mode in
            wait) args=(publish "$pipeline" --wait) ;;
            if-due) args=(publish "$pipeline" --if-due --within 10m) ;;
        esac
        (cd "$dir/work" && "$EMBARGO" "${args[@]}" >"$dir/publish.out" 2>&1) ||
            { cat "$dir/publish.out" >&2; fail "embargo publish failed ($mode, run $r)"; }
        landed=$(landed_us "$dir/public.git" "$instant_us")
        [[ -n "$landed" ]] || fail "the public remote saw no push ($mode, run $r)"
        LATE_MS[$mode]+=$(ms_after "$landed" "$instant_us")$'\n'
        # The refs embargo pushed, for the baseline: what the public copy has that it had not.
        refs_of() { git -C "$1" for-each-ref --format='%(objectname):%(refname)' | sort; }
        mapfile -t PUSHED < <(comm -13 <(refs_of "$TMP/public.git") <(refs_of "$dir/public.git"))
        REFS=${#PUSHED[@]}

        # The baselines: the same refs by hand, from the same clone, each to a fresh public copy.
        base="$TMP/base-$mode-$r"
        mkdir -p "$base"
        cp -a "$TMP/public.git" "$base/"
        sync
        instant_us=$(instant_ahead)
        git -C "$dir/work" push -q --atomic --porcelain "$base/public.git" "${PUSHED[@]}" >/dev/null
        LATE_MS[git]+=$(ms_after "$(landed_us "$base/public.git" "$instant_us")" "$instant_us")$'\n'
        rm -rf "$base/public.git"
        cp -a "$TMP/public.git" "$base/"
        sync
        for spec in "${PUSHED[@]}"; do
            echo "create refs/bench-push/${spec#*:refs/} ${spec%%:*}"
        done | git -C "$dir/work" update-ref --stdin
        instant_us=$(instant_ahead)
        git -C "$dir/work" -c pack.useBitmaps=false push -q --atomic --porcelain "$base/public.git" \
            'refs/bench-push/*:refs/*' >/dev/null
        LATE_MS[pattern]+=$(ms_after "$(landed_us "$base/public.git" "$instant_us")" "$instant_us")$'\n'
        rm -rf "$dir" "$base"
    done
done

median() { sort -n | awk '{ v[NR] = $1 } END { printf "%.1f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
verdict() { awk -v m="$1" -v t="$2" 'BEGIN { print (m <= t) ? "met" : "NOT MET" }'; }

git_median=$(median <<<"${LATE_MS[git]%$'\n'}")
echo
echo "embargo publish latency benchmark"
echo "  machine       $(nproc 2>/dev/null || echo '?') core(s), load average $load_before before, $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?') after"
echo "  repository    $COMMITS commits, $((LINES * PATCHES)) annotated tags, $BRANCHES release branches; $REFS refs pushed (patch branch, tag, pick branches)"
for mode in wait if-due; do
    m=$(median <<<"${LATE_MS[$mode]%$'\n'}")
    printf '  %-13s %s  push landed after the instant; target <= %d ms: %s; %s x git by hand (medians)\n' \
        "publish --$mode" "$(stats <<<"${LATE_MS[$mode]%$'\n'}")" "$TARGET_PUSH_MS" \
        "$(verdict "$m" "$TARGET_PUSH_MS")" "$(awk -v a="$m" -v b="$git_median" 'BEGIN { printf "%.1f", (b > 0) ? a / b : 0 }')"
done
printf '  %-13s %s  the same refs, `git push --atomic URL <sha>:<ref>...` at the instant\n' "git by hand" "$(stats <<<"${LATE_MS[git]%$'\n'}")"
printf '  %-13s %s  the same refs, from refs of their own: `git push --atomic URL refs/ns/*:refs/*`\n' "git, pattern" "$(stats <<<"${LATE_MS[pattern]%$'\n'}")"
