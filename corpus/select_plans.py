#!/usr/bin/env python3
"""Picks the unsafe migrations of the corpus for the real-migration plan suite.

For each folder of corpus/manifest.tsv, lints it (JSON) and keeps the up migrations with a
finding of a rule the planner has a recipe for, on a table that existed before the
migration. At most PER_REPO per repository, spread over the rules. Writes corpus/plans.tsv.

Usage: corpus/select_plans.py CHECKOUTS [LOCKSTEP]
"""
import json, subprocess, sys, collections, os

RECIPE_RULES = {
    "create-index-non-concurrently", "add-foreign-key", "set-not-null-scan", "add-check",
    "column-type-rewrite", "add-unique-or-primary-key-builds-index", "rename-column",
    "rename-table", "unbatched-data-migration", "add-column-rewrite", "add-required-column",
    "drop-index-non-concurrently", "add-constraint-validates", "drop-column",
}
PER_REPO = 6

here = os.path.dirname(os.path.abspath(__file__))
checkouts = sys.argv[1]
lockstep = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "..", "target", "debug", "lockstep")
out = ["# repository\tcommit\tfolder\tmigration\trules"]
for line in open(os.path.join(here, "manifest.tsv")):
    if line.startswith("#") or not line.strip():
        continue
    repo, commit, folder, layout, _ = line.rstrip("\n").split("\t")
    path = os.path.join(checkouts, repo.replace("/", "+"), folder)
    if not os.path.isdir(path):
        continue
    r = subprocess.run([lockstep, "lint", path, "--format", "json"], capture_output=True, text=True)
    try:
        report = json.loads(r.stdout)
    except ValueError:
        continue
    rules = collections.defaultdict(set)
    order = {m["id"]: i for i, m in enumerate(report.get("migrations", []))} if report.get("migrations") and isinstance(report["migrations"][0], dict) else {}
    for f in report.get("findings", []):
        if f.get("direction") == "up" and f["rule"] in RECIPE_RULES:
            rules[f["migration"]].add(f["rule"])
    picked, seen = [], set()
    for mig, rs in sorted(rules.items(), key=lambda kv: order.get(kv[0], 0)):
        new = rs - seen
        if new and len(picked) < PER_REPO:
            picked.append((mig, rs))
            seen |= rs
    for mig, rs in rules.items():
        if len(picked) >= PER_REPO:
            break
        if all(mig != p for p, _ in picked):
            picked.append((mig, rs))
    for mig, rs in picked:
        out.append("\t".join([repo, commit, folder, mig, ",".join(sorted(rs))]))
open(os.path.join(here, "plans.tsv"), "w").write("\n".join(out) + "\n")
print(f"{len(out) - 1} cases", file=sys.stderr)
