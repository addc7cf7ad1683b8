# One image for every vardpuls service (`vardpuls run --target <service>`).
# Multi-stage: build with the Rust toolchain, run on a small Debian base as a non-root user.

FROM rust:1.94-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends cmake libssl-dev libsasl2-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# `tls` builds librdkafka with OpenSSL, for SASL_SSL to a production Kafka.
# `dist` is release with whole-program optimisation (Cargo.toml): the build `make bench` measures.
RUN cargo build --profile dist --locked -p vardpuls --features tls && cp target/dist/vardpuls /vardpuls

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libssl3 libsasl2-2 && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/vardpuls --create-home vardpuls
COPY --from=build /vardpuls /usr/local/bin/vardpuls
COPY deploy/units.csv deploy/targets.toml /etc/vardpuls/
USER 10001
WORKDIR /var/lib/vardpuls
ENV VARDPULS_INGEST_LISTEN=0.0.0.0:8080 \
    VARDPULS_AGGREGATOR_STATE_DIR=/var/lib/vardpuls/state \
    VARDPULS_AGGREGATOR_UNITS_FILE=/etc/vardpuls/units.csv \
    VARDPULS_EXPORTER_TARGETS_FILE=/etc/vardpuls/targets.toml \
    RUST_LOG=info
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD ["vardpuls", "probe", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["vardpuls"]
CMD ["run", "--target", "all"]
