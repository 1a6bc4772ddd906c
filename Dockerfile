# Build stage
FROM rust:1-bookworm AS builder
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
RUN cargo build --release --locked \
    && cp target/release/actor-builds /usr/local/bin/actor-builds

# Runtime stage
FROM debian:bookworm-slim
# - buildah builds the Actors' images without a daemon (BUILDER=auto picks it when no docker
#   daemon answers and podman is absent); skopeo reads back and tags what was pushed; runc runs
#   each RUN step in its own namespaces (OCI_RUNTIME, default /usr/sbin/runc).
# - netavark, aardvark-dns and iptables give RUN steps their network (npm install, pip install).
# - No fuse-overlayfs (--no-install-recommends): the vfs storage driver is used. uidmap comes
#   with buildah as a dependency; running as root, the service does not use it.
# - git fetches GIT_REPO sources; ca-certificates for HTTPS registries and sources.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ca-certificates git buildah skopeo runc netavark aardvark-dns iptables \
    && rm -rf /var/lib/apt/lists/*
COPY --from=builder /usr/local/bin/actor-builds /usr/local/bin/actor-builds
# The service runs as root in this image. buildah as root needs nothing more than the container's
# privileges (see docker-compose.yml); as another user it would build rootless, which needs
# subordinate uid/gid ranges, newuidmap/newgidmap and user namespaces inside the container, and
# is not set up or supported here. Each RUN step runs in namespaces of its own (runc), apart
# from the service's processes and from other builds, unless BUILD_ISOLATION=chroot.
USER root
WORKDIR /var/lib/actor-builds
# Work directories and image stores (local images, layer caches) go to one volume; vfs copies
# layers, so that volume needs room.
ENV BIND_ADDR=0.0.0.0:8080 \
    WORK_DIR=/var/lib/actor-builds/work \
    IMAGE_STORE_DIR=/var/lib/actor-builds/images
EXPOSE 8080
ENTRYPOINT ["actor-builds"]
CMD ["serve"]
