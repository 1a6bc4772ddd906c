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
# git fetches GIT_REPO sources. The docker CLI is not included: the default BUILD_COMMAND
# (`docker build`) needs it, so install it in a derived image or set BUILD_COMMAND.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates git \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /home/actor-builds --uid 10001 actor-builds
COPY --from=builder /usr/local/bin/actor-builds /usr/local/bin/actor-builds
USER actor-builds
WORKDIR /home/actor-builds
ENV BIND_ADDR=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["actor-builds"]
CMD ["serve"]
