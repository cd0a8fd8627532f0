#!/usr/bin/env bash
# Installs lockstep for the GitHub Action: the release binary for this runner
# (checksum-verified), or, with INPUT_VERSION=source, a build of the action's own checkout
# (action.yml caches ~/.lockstep between runs).
#   INPUT_VERSION   a release tag (v0.1.0) or "source"
#   ACTION_REPO     owner/name the releases come from
#   GITHUB_ACTION_PATH, RUNNER_OS, RUNNER_ARCH, RUNNER_TEMP, GITHUB_PATH, GITHUB_OUTPUT
set -euo pipefail

version="${INPUT_VERSION:?INPUT_VERSION is required}"
if [ "$version" = "source" ]; then
    root="$HOME/.lockstep"
    if [ ! -x "$root/bin/lockstep" ]; then
        cargo install --locked --path "$GITHUB_ACTION_PATH" --root "$root"
    fi
    bin="$root/bin"
else
    case "${RUNNER_OS}-${RUNNER_ARCH}" in
        Linux-X64) target=x86_64-unknown-linux-gnu ;;
        Linux-ARM64) target=aarch64-unknown-linux-gnu ;;
        macOS-X64) target=x86_64-apple-darwin ;;
        macOS-ARM64) target=aarch64-apple-darwin ;;
        *) echo "lockstep: no release binary for ${RUNNER_OS}-${RUNNER_ARCH}; use version: source" >&2; exit 2 ;;
    esac
    name="lockstep-${version}-${target}"
    url="https://github.com/${ACTION_REPO}/releases/download/${version}/${name}.tar.gz"
    dir="${RUNNER_TEMP}/lockstep-install"
    mkdir -p "$dir"
    curl --fail --silent --show-error --location --retry 3 -o "$dir/$name.tar.gz" "$url"
    curl --fail --silent --show-error --location --retry 3 -o "$dir/$name.tar.gz.sha256" "$url.sha256"
    (
        cd "$dir"
        if command -v sha256sum >/dev/null; then sha256sum -c "$name.tar.gz.sha256";
        else shasum -a 256 -c "$name.tar.gz.sha256"; fi
    )
    tar -C "$dir" -xzf "$dir/$name.tar.gz"
    bin="$dir/$name"
fi
echo "$bin" >> "$GITHUB_PATH"
echo "lockstep=$bin/lockstep" >> "$GITHUB_OUTPUT"
"$bin/lockstep" --version
