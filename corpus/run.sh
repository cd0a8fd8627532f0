#!/usr/bin/env bash
# Lints every migration folder of corpus/manifest.tsv and prints one row per folder:
#   repository folder layout detected expected read exit panics findings parsed_by
# expected = migrations the framework would run (counted from its own rules, see
# corpus/README.md); read = migrations lockstep read (`migrations` in the JSON report).
#
# Usage: corpus/run.sh CHECKOUTS [LOCKSTEP]
#   CHECKOUTS  a directory holding one checkout per repository, named owner+name
#              (e.g. CHECKOUTS/ory+kratos/persistence/sql/migrations/sql).
#   LOCKSTEP   the binary (default: target/debug/lockstep).
# Re-fetching (needs network; the repositories' files are never committed here):
#   corpus/run.sh --fetch CHECKOUTS
# clones each repository (shallow, blobless) at the manifest's commit into CHECKOUTS.
set -u
here=$(cd "$(dirname "$0")" && pwd)
manifest="$here/manifest.tsv"

if [ "${1:-}" = "--fetch" ]; then
  dest=${2:?usage: corpus/run.sh --fetch CHECKOUTS}
  mkdir -p "$dest"
  grep -v '^#' "$manifest" | cut -f1,2 | sort -u | while IFS=$'\t' read -r repo commit; do
    dir="$dest/${repo/\//+}"
    [ -d "$dir/.git" ] && continue
    git init -q "$dir" &&
      git -C "$dir" fetch -q --depth 1 --filter=blob:none "https://github.com/$repo" "$commit" &&
      git -C "$dir" -c advice.detachedHead=false checkout -q FETCH_HEAD ||
      echo "fetch failed: $repo $commit" >&2
  done
  exit 0
fi

checkouts=${1:?usage: corpus/run.sh CHECKOUTS [LOCKSTEP]}
lockstep=${2:-$here/../target/debug/lockstep}
printf 'repository\tfolder\tlayout\tdetected\texpected\tread\texit\tpanics\tfindings\tparsed_by\n'
grep -v '^#' "$manifest" | while IFS=$'\t' read -r repo commit folder layout expected; do
  dir="$checkouts/${repo/\//+}/$folder"
  if [ ! -d "$dir" ]; then
    printf '%s\t%s\t%s\t-\t%s\tmissing\t-\t-\t-\t-\n' "$repo" "$folder" "$layout" "$expected"
    continue
  fi
  out=$(mktemp)
  err=$(mktemp)
  "$lockstep" lint "$dir" --format json >"$out" 2>"$err" </dev/null
  code=$?
  read=$(python3 -c 'import json,sys
try:
    d=json.load(open(sys.argv[1]))
    ups=sum(1 for m in d["migrations"] if m.get("direction")=="up")
    by={}
    for m in d["migrations"]:
        for st in m.get("statements", []):
            k=st.get("parsed_by","?"); by[k]=by.get(k,0)+1
    parsed=",".join("%s=%d" % kv for kv in sorted(by.items()))
    print("%s\t%s\t%s\t%d" % (d["settings"]["layout"], ups, parsed, len(d.get("findings",[]))))
except Exception: print("?\t?\t?\t?")' "$out")
  panics=$(grep -c "panicked" "$err")
  IFS=$'\t' read -r detected ups parsed findings <<<"$read"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$repo" "$folder" "$layout" "$detected" "$expected" "$ups" "$code" "$panics" "$findings" "$parsed"
  rm -f "$out" "$err"
done
