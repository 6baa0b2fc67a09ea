# syntax=docker/dockerfile:1
# credprobe container image.
#   docker build -t ghcr.io/credprobe/credprobe:0.1.0 \
#     --build-arg CREDPROBE_REVISION="$(git rev-parse --short HEAD)" .
#   docker run --rm -p 9891:9891 -v "$PWD/examples:/etc/credprobe:ro" \
#     ghcr.io/credprobe/credprobe:0.1.0 run --config.file /etc/credprobe/credprobe.yml
# Needs BuildKit (the default builder of current Docker) for the cache mounts.

# ---- build: the release binary, exactly the locked dependencies. The daemon
# only: without the `demo` feature, so the image has no `credprobe demo` or
# `credprobe simulate` (the simulator crate and its certificate generator are
# left out; run the demo from a source checkout).
FROM rust:1-slim-bookworm AS build
WORKDIR /src
# Exported as credprobe_build_info{revision=...}; "unknown" when not given.
ARG CREDPROBE_REVISION=
ENV CREDPROBE_REVISION=${CREDPROBE_REVISION}
# The build context is only what .dockerignore lets through: the manifests,
# the lock file and the sources of the workspace's crates.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    if [ -z "$CREDPROBE_REVISION" ]; then unset CREDPROBE_REVISION; fi \
    && cargo build --release --locked --package credprobe --no-default-features --bin credprobe \
    && install -D -m 0755 target/release/credprobe /out/credprobe

# ---- runtime: glibc, libgcc and CA certificates, no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/credprobe /usr/local/bin/credprobe
# 65534 (nobody), the uid/gid the Kubernetes manifests run as
# (securityContext runAsUser/runAsGroup/fsGroup 65534).
USER 65534:65534
EXPOSE 9891
ENTRYPOINT ["/usr/local/bin/credprobe"]
CMD ["run", "--config.file", "/etc/credprobe/credprobe.yml"]
LABEL org.opencontainers.image.title="credprobe" \
      org.opencontainers.image.description="Proves per tenant that OAuth2 client-credentials API credentials still work, and exports why they fail to Prometheus" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/credprobe/credprobe"
