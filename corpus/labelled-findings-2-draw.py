#!/usr/bin/env python3
"""Draws the second labelled sample of lockstep findings (corpus/labelled-findings-2.tsv).

Usage: corpus/labelled-findings-2-draw.py CHECKOUTS REPORTS_DIR > sample.tsv
  CHECKOUTS    the checkouts of corpus/manifest.tsv (one folder per repository, owner+name)
  REPORTS_DIR  one `lockstep lint <folder> --format json` report per manifest folder (*.json)

Design: 200 findings, seed 112. Every repository with findings gets min(3, its findings);
the remaining places go to repositories in proportion to their number of findings
(largest remainder), and each repository's findings are drawn uniformly. The summary
(labelled-findings-2.md) gives the plain share and the share weighted back to each
repository's part of all findings. Columns: repository, commit, path, line, rule, verdict,
reason (verdict and reason left empty for the judge), then the message as a working aid."""
import glob, json, os, random, sys

checkouts, reports = sys.argv[1], sys.argv[2]
here = os.path.dirname(os.path.abspath(__file__))
commit = {}
for line in open(os.path.join(here, "manifest.tsv")):
    if line.startswith("#") or not line.strip():
        continue
    repo, c = line.split("\t")[:2]
    commit[repo] = c
by_repo = {}
for p in sorted(glob.glob(os.path.join(reports, "*.json"))):
    for f in json.load(open(p))["findings"]:
        rel = os.path.relpath(f["path"], checkouts)
        owner_name, path = rel.split(os.sep, 1)
        repo = owner_name.replace("+", "/", 1)
        by_repo.setdefault(repo, []).append((path, f))
for fs in by_repo.values():
    fs.sort(key=lambda pf: (pf[0], pf[1]["span"]["start"], pf[1]["rule"]))
TOTAL, SEED, MIN = 200, 112, 3
quota = {r: min(MIN, len(fs)) for r, fs in by_repo.items()}
left = TOTAL - sum(quota.values())
n_all = sum(len(fs) for fs in by_repo.values())
share = {r: left * len(fs) / n_all for r, fs in by_repo.items()}
extra = {r: int(s) for r, s in share.items()}
for r in sorted(share, key=lambda r: -(share[r] - extra[r]))[: left - sum(extra.values())]:
    extra[r] += 1
rng = random.Random(SEED)
print("repository\tcommit\tpath\tline\trule\tverdict\treason\tmessage")
for repo in sorted(by_repo):
    fs = by_repo[repo]
    k = min(len(fs), quota[repo] + extra[repo])
    for path, f in sorted(rng.sample(fs, k), key=lambda pf: (pf[0], pf[1]["span"]["start"])):
        text = open(os.path.join(checkouts, repo.replace("/", "+", 1), path), encoding="utf-8", errors="replace").read()
        line = text[: f["span"]["start"]].count("\n") + 1 if text else 1
        msg = f["message"].replace("\t", " ").replace("\n", " ")
        print(f"{repo}\t{commit.get(repo, '?')}\t{path}\t{line}\t{f['rule']}\t\t\t{msg}")
