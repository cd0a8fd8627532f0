# lockstep in a container, for CI systems that run jobs in images (GitLab CI, Jenkins,
# Buildkite):
#   docker build -t lockstep .
#   docker run --rm -v "$PWD:/work" lockstep lint db/migrations --format codeclimate
#
# Build stage: the release binary from the locked dependency set.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo install --locked --path . --root /out

# Final stage: a slim Debian, not distroless, because CI runners execute their job scripts
# with the image's shell; git is there for `lint --since <ref>`. The binary needs glibc
# only (TLS is rustls with bundled roots). The mounted checkout belongs to another uid,
# which git refuses without safe.directory.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends git \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 --user-group lockstep \
 && git config --system --add safe.directory '*'
COPY --from=build /out/bin/lockstep /usr/local/bin/lockstep
USER lockstep
WORKDIR /work
ENTRYPOINT ["lockstep"]
CMD ["--help"]
