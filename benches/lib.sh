# Shared by the benchmark scripts (benches/plan.sh, benches/cherry_pick.sh): source it, do not run
# it. It builds the release binary and generates, in a temporary folder, a repository the size of
# a real project with git fast-import, in a hermetic git environment (the same SHAs everywhere).
#
#   BENCH_NAME=plan; source "$(dirname "$0")/lib.sh"
#   bench_config          # reads the settings below, checks them, sets the shape variables
#   bench_build           # cargo build --release; sets EMBARGO (before bench_git_env: cargo needs HOME)
#   bench_tmp             # TMP, removed on exit unless BENCH_KEEP=1
#   bench_git_env         # the hermetic git environment
#   bench_generate        # $TMP/public.git, $TMP/security.git, $TMP/work (the current directory after)
#
# Settings (environment; a script may set them before bench_config):
#   BENCH_COMMITS      commits in all (default 20,000)
#   BENCH_TAGS         annotated tags (default 2,000) spelled v1.X.Y, over BENCH_LINES release
#                      lines; a quarter of the commits are backports on the lines' branches
#   BENCH_LINES        release lines 1.0 .. 1.(N-1) (default: 40, or BENCH_TAGS if fewer); each
#                      gets BENCH_TAGS / N tags, so N is at most BENCH_TAGS (e.g. 4 for a small
#                      project, 300 for pick targets by the hundred)
#   BENCH_BRANCHES     how many lines keep their release-1.X branch (default: all of them); the
#                      oldest lines are end of life: their branch is deleted, their tags stay
#   BENCH_FIX          what the fix branch security/CVE-2026-0001 (private remote only, on top of
#                      master) changes:
#                        source  (default) source files that every release branch has (src/auth.c,
#                                src/session.c, src/acl.c, from master's first commit on), so that
#                                the fix picks cleanly onto master and the release branches, except
#                                on up to BENCH_CONFLICTS release branches whose backports reworked
#                                the very lines the fix changes;
#                        notice  a new file SECURITY.txt that nothing else has (plan.sh's fix: it
#                                leaves the history byte for byte as it was before this library)
#   BENCH_FIX_COMMITS  commits on the fix branch (default 3; 1 .. 24)
#   BENCH_CONFLICTS    (BENCH_FIX=source) release branches where the fix conflicts: 0, 1 or 2
#                      (default 2): the oldest branch kept conflicts at the fix's first commit,
#                      the middle one at its last. Never the newest line, the one released.
# Shape variables set by bench_config: COMMITS TAGS LINES PATCHES LINE BRANCH_LEN MASTER_LEN
# BRANCHES FIRST_LINE FIX_KIND FIX_COMMITS CONFLICT_LINES (release line X -> the fix commit that
# conflicts on release-1.X); set on sourcing: FIX_BRANCH FIX_FILES EPOCH.

export LC_ALL=C # byte lengths for fast-import's `data` counts, and a stable `sort`

BENCH_NAME=${BENCH_NAME:-$(basename "$0")}
BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FIX_BRANCH=security/CVE-2026-0001
EPOCH=1767225600 # 2026-01-01 00:00:00 UTC, as in src/sample

# The files a `source` fix hardens, and how many lines each has (see fix_at).
FIX_FILES=(src/auth.c src/session.c src/acl.c)
FIX_FILE_LINES=48

bench_config() {
    COMMITS=${BENCH_COMMITS:-20000}
    TAGS=${BENCH_TAGS:-2000}
    # Release lines 1.0 .. 1.(LINES-1), PATCHES tags each (v1.X.0 .. v1.X.(PATCHES-1)).
    LINES=${BENCH_LINES:-$((TAGS < 40 ? TAGS : 40))}
    if ! [[ "$LINES" =~ ^[0-9]+$ ]] || ((LINES < 1 || LINES > TAGS)); then
        echo "$BENCH_NAME: BENCH_LINES=$LINES: 1 .. BENCH_TAGS ($TAGS)" >&2
        exit 2
    fi
    PATCHES=$((TAGS / LINES))
    LINE="1.$((LINES - 1))"
    # A quarter of the commits are on the release branches (backports), the rest on master. Every
    # patch release needs at least one commit of its own on its branch.
    BRANCH_LEN=$((COMMITS / (4 * LINES)))
    BRANCH_LEN=$((BRANCH_LEN < PATCHES - 1 ? PATCHES - 1 : BRANCH_LEN))
    MASTER_LEN=$((COMMITS - LINES * BRANCH_LEN))
    if ((LINES < 1 || MASTER_LEN <= LINES)); then
        echo "$BENCH_NAME: BENCH_COMMITS=$COMMITS is too few for BENCH_TAGS=$TAGS" >&2
        exit 2
    fi
    BRANCHES=${BENCH_BRANCHES:-$LINES}
    if ! [[ "$BRANCHES" =~ ^[0-9]+$ ]] || ((BRANCHES < 1 || BRANCHES > LINES)); then
        echo "$BENCH_NAME: BENCH_BRANCHES=$BRANCHES: there are $LINES release lines (1 .. $LINES branches)" >&2
        exit 2
    fi
    FIRST_LINE=$((LINES - BRANCHES)) # the oldest line that keeps its branch
    FIX_KIND=${BENCH_FIX:-source}
    FIX_COMMITS=${BENCH_FIX_COMMITS:-3}
    if [[ "$FIX_KIND" != source && "$FIX_KIND" != notice ]]; then
        echo "$BENCH_NAME: BENCH_FIX=$FIX_KIND: it is \`source\` or \`notice\`" >&2
        exit 2
    fi
    if ! [[ "$FIX_COMMITS" =~ ^[0-9]+$ ]] || ((FIX_COMMITS < 1 || FIX_COMMITS > 24)); then
        echo "$BENCH_NAME: BENCH_FIX_COMMITS=$FIX_COMMITS: 1 .. 24" >&2
        exit 2
    fi
    # Release lines whose branch reworked what the fix changes, with the fix commit that conflicts.
    CONFLICT_LINES=()
    if [[ "$FIX_KIND" == source ]]; then
        local conflicts=${BENCH_CONFLICTS:-2} candidates=() c
        if ! [[ "$conflicts" =~ ^[0-2]$ ]]; then
            echo "$BENCH_NAME: BENCH_CONFLICTS=$conflicts: 0, 1 or 2" >&2
            exit 2
        fi
        if ((conflicts >= 1)); then candidates+=("$FIRST_LINE:1"); fi
        if ((conflicts >= 2)); then candidates+=("$((FIRST_LINE + BRANCHES / 2)):$FIX_COMMITS"); fi
        for c in "${candidates[@]}"; do
            # Not the line being released (its tip must take the fix), nor one line twice.
            if ((${c%:*} < LINES - 1)) && [[ -z "${CONFLICT_LINES[${c%:*}]:-}" ]]; then
                CONFLICT_LINES[${c%:*}]=${c#*:}
            fi
        done
    fi
}

# Builds the release binary with the caller's environment (cargo and rustup find their homes
# through HOME, which bench_git_env replaces) and sets EMBARGO. BENCH_EMBARGO=PATH measures that
# binary instead (an earlier build, to compare before and after a change on the same machine).
bench_build() {
    if [[ -n "${BENCH_EMBARGO:-}" ]]; then
        EMBARGO=$BENCH_EMBARGO
        return
    fi
    echo "building the release binary..." >&2
    (cd "$BENCH_ROOT" && cargo build --release --quiet)
    local target_dir=${CARGO_TARGET_DIR:-$BENCH_ROOT/target}
    [[ "$target_dir" == /* ]] || target_dir="$BENCH_ROOT/$target_dir" # cargo ran in BENCH_ROOT
    EMBARGO="$target_dir/release/embargo"
}

# TMP: a temporary folder for everything generated, removed on exit unless BENCH_KEEP=1. A script
# that has more to clean up defines bench_cleanup_extra.
bench_tmp() {
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/embargo-bench-${1:-$BENCH_NAME}-XXXXXX")
    trap bench_cleanup EXIT
}

bench_cleanup() {
    if declare -F bench_cleanup_extra >/dev/null; then bench_cleanup_extra || true; fi
    if [[ "${BENCH_KEEP:-}" == 1 ]]; then
        echo "kept the generated repositories in $TMP" >&2
    else
        rm -rf "$TMP"
    fi
}

# Hermetic git: no user or system configuration, fixed identities and times, so that every
# machine generates the same repositories (and the same SHAs). fast-import takes its identities
# and dates from the stream; the variables cover everything else git and embargo run.
bench_git_env() {
    export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null HOME="$TMP" GIT_TERMINAL_PROMPT=0
    export GIT_AUTHOR_NAME="Fix Lead" GIT_AUTHOR_EMAIL=fix-lead@example.org
    export GIT_COMMITTER_NAME="Release Lead" GIT_COMMITTER_EMAIL=release-lead@example.org
    export GIT_AUTHOR_DATE="@$EPOCH +0000" GIT_COMMITTER_DATE="@$EPOCH +0000"
}

# Microseconds since the epoch; bash's EPOCHREALTIME costs no process, `date` is the fallback.
now_us() {
    if [[ -n "${EPOCHREALTIME:-}" ]]; then
        local t=${EPOCHREALTIME/[.,]/}
        echo "$t"
    else
        echo $(($(date +%s%N) / 1000))
    fi
}

# min / median / max of the numbers (milliseconds) on stdin.
stats() {
    sort -n | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "min %.1f ms, median %.1f ms, max %.1f ms (%d runs)\n", v[1], m, v[NR], NR }'
}

# --- the history, as a git fast-import stream (one process instead of 20,000 `git commit`s) ---

data() { printf 'data %d\n%s\n' "${#1}" "$1"; }

# Fix commit $1 (1-based) changes line FIX_AT_LINE of FIX_FILES[FIX_AT_FILE]: the files in turn,
# 4 lines further down each round.
fix_at() {
    FIX_AT_FILE=$((($1 - 1) % ${#FIX_FILES[@]}))
    FIX_AT_LINE=$((10 + 4 * (($1 - 1) / ${#FIX_FILES[@]})))
}

# TEXT := the content of FIX_FILES[$1] once fix commits 1 .. $2 are in; with $3 (a line) and $4 (a
# release line), as reworked on that release line: lines $3 - 2 .. $3 + 2 rewritten, which
# conflicts with any fix commit that changes line $3.
source_text() {
    local f=$1 upto=$2 rework=${3:-0} where=${4:-} name l n line
    local -a hardened=()
    for ((n = 1; n <= upto; n++)); do
        fix_at "$n"
        if ((FIX_AT_FILE == f)); then hardened[FIX_AT_LINE]=$n; fi
    done
    name=${FIX_FILES[f]##*/}
    name=${name%.c}
    TEXT=""
    for ((l = 1; l <= FIX_FILE_LINES; l++)); do
        line="int ${name}_setting_$l = 0;"
        if ((rework > 0 && l >= rework - 2 && l <= rework + 2)); then
            line="int ${name}_option_$l = 0; /* settings reworked in $where */"
        fi
        if [[ -n "${hardened[l]:-}" ]]; then
            line="int ${name}_setting_$l = 1; /* CVE-2026-0001, part ${hardened[l]} */"
        fi
        TEXT+="$line"$'\n'
    done
}

# M := a fast-import file command that writes $2 to the path $1.
inline_file() {
    printf -v M 'M 100644 inline %s\ndata %d\n%s\n' "$1" "${#2}" "$2"
}

# Master commit i gets mark :i; commit k (1-based) of line X's release branch gets mark
# :(MASTER_LEN + X * BRANCH_LEN + k). Line X forks from master commit (X + 1) * MASTER_LEN /
# (LINES + 1), so the lines are spread along the whole history. Master commits are an hour apart
# and end at EPOCH; backports are a minute apart after their fork.
# (Plain arithmetic in the loops, no helper functions: a $(...) per commit would cost 20,000
# processes. The source files of a `source` fix are written once, ahead of the loops.)
fast_import_stream() {
    local i x k y t mark from f seed="" rework=()
    if [[ "$FIX_KIND" == source ]]; then
        for f in "${!FIX_FILES[@]}"; do
            source_text "$f" 0
            inline_file "${FIX_FILES[f]}" "$TEXT"
            seed+=$M
        done
        for x in "${!CONFLICT_LINES[@]}"; do
            fix_at "${CONFLICT_LINES[x]}"
            source_text "$FIX_AT_FILE" 0 "$FIX_AT_LINE" "1.$x"
            inline_file "${FIX_FILES[FIX_AT_FILE]}" "$TEXT"
            rework[x]=$M
        done
    fi
    # Master: each commit edits one of 100 source files, like ordinary development.
    for ((i = 1; i <= MASTER_LEN; i++)); do
        t=$((EPOCH - (MASTER_LEN - i) * 3600))
        printf 'commit refs/heads/master\nmark :%d\ncommitter Dev <dev@example.org> %d +0000\n' "$i" "$t"
        data "Change $i to module $((i % 100))"
        printf 'M 100644 inline src/mod-%d.c\n' $((i % 100))
        data "/* module $((i % 100)), revision $i */"
        if ((i == 1)); then printf '%s' "$seed"; fi
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
            if ((k == 1)); then printf '%s' "${rework[x]:-}"; fi
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

# The fix: FIX_COMMITS commits on top of master ($1), on the private remote only.
fix_stream() {
    local n
    for ((n = 1; n <= FIX_COMMITS; n++)); do
        printf 'commit refs/heads/%s\nauthor Fix Lead <fix-lead@example.org> %d +0000\n' "$FIX_BRANCH" "$EPOCH"
        printf 'committer Fix Lead <fix-lead@example.org> %d +0000\n' "$EPOCH"
        data "Deny anonymous access by default, part $n (CVE-2026-0001)"
        if ((n == 1)); then printf 'from %s\n' "$1"; fi
        if [[ "$FIX_KIND" == source ]]; then
            fix_at "$n"
            source_text "$FIX_AT_FILE" "$n"
            inline_file "${FIX_FILES[FIX_AT_FILE]}" "$TEXT"
            printf '%s' "$M"
        else
            printf 'M 100644 inline SECURITY.txt\n'
            data "anonymous access: denied (part $n)"
        fi
    done
}

# Generates in TMP:
#   public.git    the bare "public" remote: the history above, packed like a real remote's;
#   security.git  the "private" remote: the same refs plus the fix branch;
#   work          the release lead's clone, remotes `origin` (public) and `security` (private),
#                 which knows the fix only through the private remote,
# and changes into TMP/work.
bench_generate() {
    local started x
    started=$(now_us)
    echo "generating $COMMITS commits and $((LINES * PATCHES)) tags ($LINES lines x $PATCHES patches)..." >&2
    git init -q --bare -b master "$TMP/public.git"
    fast_import_stream | git -C "$TMP/public.git" fast-import --quiet
    if ((FIRST_LINE > 0)); then # end-of-life lines: their tags stay, their branches go
        for ((x = 0; x < FIRST_LINE; x++)); do
            echo "delete refs/heads/release-1.$x"
        done | git -C "$TMP/public.git" update-ref --stdin
    fi
    # Real remotes are packed (refs and objects); fast-import leaves loose refs and a raw pack.
    git -C "$TMP/public.git" gc --quiet
    # The private remote mirrors the public one (a local clone shares its objects) and holds the fix.
    git clone -q --bare "$TMP/public.git" "$TMP/security.git"
    fix_stream "$(git -C "$TMP/security.git" rev-parse master)" |
        git -C "$TMP/security.git" fast-import --quiet
    # The release lead's clone knows the fix only through the private remote, so the first command
    # that needs it has to fetch it, as on a real machine.
    git clone -q "$TMP/public.git" "$TMP/work"
    cd "$TMP/work"
    git remote add security "$TMP/security.git"
    echo "generated in $((($(now_us) - started) / 1000)) ms" >&2
}
