#!/usr/bin/env bash
# The shell of the lockstep GitHub Action (action.yml): lint the migrations a pull request
# changes, write SARIF for code scanning and a markdown report, and post or update ONE
# pull-request comment, found again by a hidden marker.
#
# Inputs come as environment variables (set by action.yml, or by tests/action_steps.rs):
#   LOCKSTEP          the lockstep binary (default: lockstep on PATH)
#   INPUT_PATHS       migration folders, space-separated (default: `migrations:` in lockstep.yaml)
#   INPUT_BASE        git ref to compare with (default: the pull request's base commit)
#   INPUT_FAIL_ON     error | warning | info (default: error)
#   INPUT_COMMENT     true | false: post/update the pull-request comment (default: true)
#   INPUT_ARGS        extra arguments for `lockstep lint` (e.g. --pg-version 16)
#   GITHUB_EVENT_PATH, GITHUB_REPOSITORY, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, RUNNER_TEMP
#   GH_TOKEN          for `gh api` (comment)
# Outputs (GITHUB_OUTPUT): sarif (file), markdown (file), exit-code (lint's: 0, 1 or 2).
set -euo pipefail
# (Arrays are expanded as ${a[@]+"${a[@]}"}: macOS runners have bash 3.2, where an empty
# array is unbound under set -u.)

lockstep="${LOCKSTEP:-lockstep}"
out_dir="${RUNNER_TEMP:-$(mktemp -d)}/lockstep"
mkdir -p "$out_dir"
sarif="$out_dir/lockstep.sarif"
markdown="$out_dir/lockstep.md"
marker="<!-- lockstep-pr-comment -->"
fail_on="${INPUT_FAIL_ON:-error}"

event="${GITHUB_EVENT_PATH:-}"
# A field of the event payload (python3 is on every GitHub runner; no jq needed).
event_field() {
    [ -n "$event" ] && [ -f "$event" ] || return 0
    python3 - "$event" "$1" <<'PY'
import json, sys
value = json.load(open(sys.argv[1], encoding="utf-8"))
for key in sys.argv[2].split("."):
    value = value.get(key) if isinstance(value, dict) else None
print("" if value is None else value)
PY
}

base="${INPUT_BASE:-}"
if [ -z "$base" ]; then
    base="$(event_field pull_request.base.sha)"
fi
pr="$(event_field pull_request.number)"
repo="${GITHUB_REPOSITORY:-$(event_field repository.full_name)}"

since=()
if [ -n "$base" ]; then
    # A shallow checkout may lack the base commit: fetch it (needs only that commit).
    if ! git cat-file -e "${base}^{commit}" 2>/dev/null; then
        git fetch --no-tags --depth=1 origin "$base" >/dev/null 2>&1 || true
    fi
    since=(--since "$base")
else
    echo "lockstep: no pull-request base (not a pull_request event and no base input): linting every migration" >&2
fi

read -r -a paths <<< "${INPUT_PATHS:-}"
read -r -a extra <<< "${INPUT_ARGS:-}"

# Exit 1 means findings at or above --fail-on; 2 is an error (bad config, bad ref): stop.
code=0
"$lockstep" lint ${since[@]+"${since[@]}"} --fail-on "$fail_on" --format sarif ${extra[@]+"${extra[@]}"} ${paths[@]+"${paths[@]}"} > "$sarif" || code=$?
if [ "$code" -ge 2 ]; then
    echo "lockstep: lint failed (exit $code)" >&2
    exit "$code"
fi
md_code=0
"$lockstep" lint ${since[@]+"${since[@]}"} --fail-on "$fail_on" --format markdown ${extra[@]+"${extra[@]}"} ${paths[@]+"${paths[@]}"} > "$markdown" || md_code=$?
if [ "$md_code" -ge 2 ]; then
    echo "lockstep: lint --format markdown failed (exit $md_code)" >&2
    exit "$md_code"
fi

if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    cat "$markdown" >> "$GITHUB_STEP_SUMMARY"
fi
if [ -n "${GITHUB_OUTPUT:-}" ]; then
    {
        echo "sarif=$sarif"
        echo "markdown=$markdown"
        echo "exit-code=$code"
    } >> "$GITHUB_OUTPUT"
fi

if [ "${INPUT_COMMENT:-true}" != "true" ] || [ -z "$pr" ] || [ -z "$repo" ]; then
    exit 0
fi

# The comment: marker first, then the report. GitHub refuses bodies over 65,536
# characters: then only the summary above the first migration goes in, pointing at the
# job summary for the rest.
body="$out_dir/comment.md"
{
    echo "$marker"
    if [ "$(wc -c < "$markdown")" -gt 60000 ]; then
        sed -n '/^### /q;p' "$markdown"
        echo
        echo "The full report (every finding and plan) is too long for a comment: see the job summary of this workflow run."
    else
        cat "$markdown"
    fi
} > "$body"

existing="$(gh api --paginate "repos/$repo/issues/$pr/comments" \
    --jq ".[] | select(.body | startswith(\"$marker\")) | .id" | head -n 1)"
clean=false
if grep -q '^No findings\.' "$markdown"; then clean=true; fi
if [ -n "$existing" ]; then
    gh api --method PATCH "repos/$repo/issues/comments/$existing" -F "body=@$body" > /dev/null
    echo "lockstep: updated comment $existing on #$pr"
elif [ "$clean" = true ]; then
    # Nothing to say and nothing said before: no comment.
    echo "lockstep: no findings; no comment posted"
else
    gh api --method POST "repos/$repo/issues/$pr/comments" -F "body=@$body" > /dev/null
    echo "lockstep: commented on #$pr"
fi
