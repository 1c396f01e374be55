# syntax=docker/dockerfile:1
#
# The ipalloc-gateway image: a release build on Debian 12, run on distroless
# (glibc, libgcc, CA certificates; no shell, no package manager) as the
# non-root user 65532.
#
#   docker build --build-arg GIT_COMMIT="$(git rev-parse --short=12 HEAD)" -t ipalloc-gateway .
#   docker run --rm ipalloc-gateway --version
#
# In the image:
#   /usr/local/bin/ipalloc-gateway   the binary (the ENTRYPOINT)
#   /etc/ipalloc/gateway.toml        the configuration it reads (mount it: a ConfigMap)
#   /var/lib/ipalloc/                owned by the user, for `[idempotency] path` (mount a volume)
# Ports (see README, "Deploying"):
#   50051  gRPC API: `listen`, 127.0.0.1:50051 by default (a sidecar's app calls it on loopback)
#   50052  gRPC health only, for kubelet probes: `[server] health_listen`
#   9464   admin HTTP: /metrics, /live, /ready: `[admin] listen`
# Expected size (no Docker engine runs where this is written, so not measured):
# the binary, 14.1 MiB (README, "Performance"), on distroless/cc-debian12,
# about 23 MiB: about 37 MiB in all, about 15 MiB compressed.

# The toolchain the project is built and tested with (rust-version in
# Cargo.toml is the oldest that builds it). protoc is vendored: no apt-get.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY proto/ proto/
COPY emulators/ emulators/
COPY src/ src/
# `.git` is not sent (.dockerignore): build.rs takes the commit from here.
ARG GIT_COMMIT=
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    cargo build --release --locked --bin ipalloc-gateway \
    && install -D -m 0755 target/release/ipalloc-gateway /out/usr/local/bin/ipalloc-gateway \
    && install -d -m 0700 /out/var/lib/ipalloc

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/usr/local/bin/ipalloc-gateway /usr/local/bin/ipalloc-gateway
COPY --from=build --chown=65532:65532 /out/var/lib/ipalloc /var/lib/ipalloc
USER 65532:65532
EXPOSE 50051 50052 9464
ENTRYPOINT ["/usr/local/bin/ipalloc-gateway", "--config", "/etc/ipalloc/gateway.toml"]
