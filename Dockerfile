# syntax=docker/dockerfile:1
#
# Two images from one build:
#   default (last stage): webedt-api and webedt-operator, distroless
#     /usr/local/bin/webedt-api       the default entrypoint (`serve`); the operator's migration Job
#                                     runs `webedt-api migrate` (command set by the operator)
#     /usr/local/bin/webedt-operator  the chart's operator Deployment runs `webedt-operator run`
#   --target worker: webedt-worker, the coding agent (spec.worker of a WebEDT), on slim Debian with
#     git and CA certificates, because it runs git and the commands a model asks for. Extend it
#     with your repositories' toolchains: `FROM ghcr.io/webedt/webedt-worker:<tag>`, `USER root`,
#     install, `USER 65532:65532` (README: "Workers on Kubernetes").
#
#   docker build --target worker -t webedt-worker:dev .
#   docker build -t webedt:dev \
#     --build-arg BUILD_COMMIT_SHA="$(git rev-parse HEAD)" \
#     --build-arg BUILD_TIMESTAMP="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
#     --build-arg BUILD_VERSION=0.1.0 .
#
# The build args are compiled into webedt-api (option_env! in api/src/config.rs) and show in
# GET /health; an empty or absent one falls back to "unknown" (the version: Cargo's version).

# ---- build (glibc; the final image is distroless Debian 12, so the builder is Debian 12 too) ----
FROM rust:1.95-bookworm AS builder
WORKDIR /src

ARG BUILD_COMMIT_SHA=""
ARG BUILD_TIMESTAMP=""
ARG BUILD_VERSION=""
ENV BUILD_COMMIT_SHA=${BUILD_COMMIT_SHA} \
    BUILD_TIMESTAMP=${BUILD_TIMESTAMP} \
    BUILD_VERSION=${BUILD_VERSION} \
    CARGO_TERM_COLOR=never

# The workspace as allowed by .dockerignore: manifests, sources, migrations (embedded by
# sqlx::migrate!) and api/ui/ (embedded by rust-embed at compile time).
COPY . .

# Cache mounts keep the registry and target dir between builds (BuildKit); the binaries are
# copied out of the cached target dir. Empty build args are unset so the fallbacks apply.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    { [ -n "$BUILD_COMMIT_SHA" ] || unset BUILD_COMMIT_SHA; } \
    && { [ -n "$BUILD_TIMESTAMP" ] || unset BUILD_TIMESTAMP; } \
    && { [ -n "$BUILD_VERSION" ] || unset BUILD_VERSION; } \
    && cargo build --release --locked -p webedt-api -p webedt-operator -p webedt-worker \
    && mkdir -p /out \
    && cp target/release/webedt-api target/release/webedt-operator target/release/webedt-worker /out/

# ---- worker: slim Debian 12 + git + CA certificates, non-root, read-only-root friendly ----
FROM debian:bookworm-slim AS worker

ARG BUILD_COMMIT_SHA=""
ARG BUILD_TIMESTAMP=""
ARG BUILD_VERSION=""
ARG SOURCE_URL="https://github.com/webedt/webedt"
# Pinned (hadolint DL3008) to Debian 12's current versions; bump them with its point releases
# (`apt-cache policy git ca-certificates` in a bookworm container).
ARG GIT_VERSION="1:2.39.5-0+deb12u3"
ARG CA_CERTIFICATES_VERSION="20230311+deb12u1"
LABEL org.opencontainers.image.title="webedt-worker" \
      org.opencontainers.image.description="WebEDT coding agent: clones, edits, runs confined commands (Landlock + seccomp), commits and pushes" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.revision="${BUILD_COMMIT_SHA}" \
      org.opencontainers.image.created="${BUILD_TIMESTAMP}" \
      org.opencontainers.image.version="${BUILD_VERSION}"

# The user is 65532 like the API image (pod.rs RUN_AS); its HOME is the workspace, which the
# operator mounts as a size-limited emptyDir, so nothing needs a writable root filesystem.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
       "git=${GIT_VERSION}" "ca-certificates=${CA_CERTIFICATES_VERSION}" \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 65532 worker \
    && useradd --uid 65532 --gid 65532 --home-dir /workspace --no-create-home \
       --shell /usr/sbin/nologin worker \
    && mkdir -p /workspace \
    && chown 65532:65532 /workspace

COPY --from=builder /out/webedt-worker /usr/local/bin/

USER 65532:65532
WORKDIR /workspace
ENV HOME=/workspace \
    TMPDIR=/tmp \
    WORKER_WORKSPACE_ROOT=/workspace/runs
EXPOSE 8090

# For plain Docker: /live over bash's /dev/tcp (no curl in the image). Kubernetes uses the
# probes the operator sets on /live and /ready.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8090 && printf 'GET /live HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q ' 200 ' <&3"]

ENTRYPOINT ["/usr/local/bin/webedt-worker"]

# ---- run: no shell, no package manager, glibc + libgcc + CA certificates ----
FROM gcr.io/distroless/cc-debian12:nonroot

ARG BUILD_COMMIT_SHA=""
ARG BUILD_TIMESTAMP=""
ARG BUILD_VERSION=""
ARG SOURCE_URL="https://github.com/webedt/webedt"
LABEL org.opencontainers.image.title="webedt" \
      org.opencontainers.image.description="WebEDT: webedt-api (stateless API + UI) and webedt-operator (Kubernetes operator)" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.revision="${BUILD_COMMIT_SHA}" \
      org.opencontainers.image.created="${BUILD_TIMESTAMP}" \
      org.opencontainers.image.version="${BUILD_VERSION}"

COPY --from=builder /out/webedt-api /out/webedt-operator /usr/local/bin/

# The non-root user of distroless (and pod.rs RUN_AS in the operator's builders).
USER 65532:65532
# webedt-api (PORT); webedt-operator /healthz /readyz /metrics (HTTP_ADDR).
EXPOSE 3001 8080

# For plain Docker (it probes webedt-api; Kubernetes ignores it and uses the probes the operator
# and the chart set, so the operator Deployment is unaffected).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/webedt-api", "healthcheck"]

ENTRYPOINT ["/usr/local/bin/webedt-api"]
CMD ["serve"]
