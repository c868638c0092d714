# syntax=docker/dockerfile:1.7
# prescale's image: the binary the benchmarks measure (glibc, so its allocator settings in
# src/heap.rs apply; musl's allocator has none of them) on distroless/cc (glibc and libgcc
# only), running as a non-root UID, no shell, no package manager. Build and load it into a
# local cluster:
#   docker build -t prescale:0.1.0 .
#   kind load docker-image prescale:0.1.0        # or: minikube image load prescale:0.1.0
# Kubernetes probes the admin port (deploy/base/deployment.yaml); the image has no
# HEALTHCHECK because distroless has nothing to run one with and Kubernetes ignores it.
# checkov:skip=CKV_DOCKER_2:Kubernetes probes /healthz and /readyz; Docker HEALTHCHECK is ignored there and distroless has no client to run it

# The toolchain CI tests with (rust-version in Cargo.toml is the minimum).
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
# Built natively for the platform this stage runs on (linux/amd64 or linux/arm64), against
# Debian 12's glibc, the one distroless/cc-debian12 carries: a multi-platform
# `docker buildx build --platform linux/amd64,linux/arm64` needs no cross toolchain.
WORKDIR /src
# The whole crate (.dockerignore keeps target/, .git and the manifests out), so files the
# code includes at compile time are there too.
COPY . .
# No debug info (Cargo.toml keeps it for profiling), stripped symbols, and the whole-program
# optimisation `cargo bench` measures with (Cargo.toml's bench profile): the image carries
# only what runs. Cache mounts keep the registry and build between local builds.
ENV CARGO_PROFILE_RELEASE_DEBUG=0 \
    CARGO_PROFILE_RELEASE_STRIP=symbols \
    CARGO_PROFILE_RELEASE_LTO=fat \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin prescale \
 && cp target/release/prescale /prescale \
 && /prescale --version

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /prescale /usr/local/bin/prescale
# distroless's `nonroot` user, numeric so the kubelet can check runAsNonRoot.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/prescale"]
CMD ["run", "--config", "/etc/prescale/config/prescale.yaml", "--admin-addr", "0.0.0.0:8080"]
