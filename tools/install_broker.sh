#!/usr/bin/env bash
# Installs the local Kafka-protocol broker the tests and `make run` start: nisshi (tansu's
# successor, without tansu 0.6's group, fetch and ListOffsets bugs) where a Rust toolchain new
# enough for it is installed (1.96: stable or nightly), else tansu 0.6, which vardpuls then
# drives with its compatibility workarounds (docs/aggregator.md, "Brokers").
set -euo pipefail
CARGO=${CARGO:-cargo}
NISSHI_VERSION=${NISSHI_VERSION:-0.8.1}
TANSU_VERSION=${TANSU_VERSION:-0.6.0}
NISSHI_RUST_MINOR=96

installed() { command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -q "$2"; }
minor_of() { "$@" --version 2>/dev/null | awk '{print $2}' | cut -d. -f2; }

if installed nisshi "$NISSHI_VERSION"; then exit 0; fi
toolchain=""
if [ "$(minor_of rustc || echo 0)" -ge "$NISSHI_RUST_MINOR" ] 2>/dev/null; then
  toolchain="default"
elif command -v rustup >/dev/null 2>&1 && [ "$(minor_of rustup run nightly rustc || echo 0)" -ge "$NISSHI_RUST_MINOR" ] 2>/dev/null; then
  toolchain="nightly"
fi
if [ -n "$toolchain" ]; then
  echo "installing nisshi $NISSHI_VERSION (a Kafka-compatible broker; takes ~18 minutes once)"
  plus=$([ "$toolchain" = nightly ] && echo "+nightly" || true)
  # Its default features add libSQL and PostgreSQL storage; the tests keep topics in memory.
  $CARGO $plus install nisshi --locked --version "$NISSHI_VERSION" --no-default-features --features dynostore
  exit 0
fi
if installed tansu "$TANSU_VERSION"; then exit 0; fi
echo "no Rust 1.$NISSHI_RUST_MINOR for nisshi: installing tansu $TANSU_VERSION instead (~15 minutes once)"
$CARGO install tansu --locked --version "$TANSU_VERSION" --features dynostore
