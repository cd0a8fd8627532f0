#!/usr/bin/env bash
# Rails front end on real applications' db/migrate folders (corpus/rails.tsv).
#
#   corpus/orm_stats.sh [corpus dir, default /work/corpus] [--fetch]
#
# For each repository: the folder is expected at <corpus>/<owner>+<name>/<folder>
# (extract it with `git archive <commit> <folder>`; --fetch clones it with git). Prints
# per repository: files, statements, understood, not analysed, not analysed among
# ActiveRecord migration-method calls, panics, share of migration-method calls
# understood, share of all statements understood; then `lockstep lint` on the folder:
# its exit code (2 = refused) and findings per rule.
set -u
here="$(cd "$(dirname "$0")/.." && pwd)"
corpus="${1:-/work/corpus}"
fetch="${2:-}"
cd "$here" || exit 2
cargo build -q --example rails_counts && cargo build -q || exit 2
bin="$here/target/debug/lockstep"
printf 'repository\tfiles\tstatements\tunderstood\tnot_analysed\tdsl_not_analysed\tpanics\tdsl_share%%\tall_share%%\tlint_exit\n'
tail -n +2 corpus/rails.tsv | while IFS=$'\t' read -r repo commit folder; do
  dir="$corpus/${repo/\//+}"
  if [ ! -d "$dir/$folder" ] && [ "$fetch" = "--fetch" ]; then
    git clone -q --filter=blob:none "https://github.com/$repo" "$dir.git" &&
      git -C "$dir.git" archive "$commit" "$folder" | (mkdir -p "$dir" && tar -x -C "$dir")
  fi
  [ -d "$dir/$folder" ] || { echo "$repo: missing $dir/$folder" >&2; continue; }
  counts="$("$here/target/debug/examples/rails_counts" "$dir/$folder" 2>/dev/null | cut -f2-)"
  "$bin" lint "$dir/$folder" --format json > "/tmp/orm_stats_$$.json" 2>/dev/null
  code=$?
  printf '%s\t%s\t%s\n' "$repo" "$counts" "$code"
  python3 - "/tmp/orm_stats_$$.json" <<'PY' >&2
import json, sys, collections
try:
    doc = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"  (no JSON report: {e})"); sys.exit(0)
c = collections.Counter(f["rule"] for f in doc.get("findings", []))
print("  findings: " + ", ".join(f"{r} {n}" for r, n in c.most_common()))
PY
done
rm -f "/tmp/orm_stats_$$.json"
