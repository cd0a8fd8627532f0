#!/bin/sh
# The full lock-oracle run: regenerates oracle/truth-pg<major>.json for the system
# PostgreSQL and for every server fetched by oracle/fetch-servers.sh, then prints the
# model's agreement table.
#
# Usage: oracle/run.sh [BINDIR...]   (default: /usr/lib/postgresql/*/bin and /work/pgbins/*/bin)
set -eu
cd "$(dirname "$0")/.."
dirs=${*:-$(ls -d /usr/lib/postgresql/*/bin /work/pgbins/*/bin 2>/dev/null || true)}
cargo test --test lock_oracle --no-run -q
for dir in $dirs; do
  echo "== $dir"
  LOCKSTEP_PG_BINDIR=$dir cargo test -q --test lock_oracle -- --ignored --exact regenerate --nocapture
done
cargo test -q --test lock_oracle -- --exact model_agrees_with_truth --nocapture
