#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, property and integration tests. Integration tests run on
# SQLite always, and again on PostgreSQL when SKYBRIDGE_TEST_POSTGRES_URL is set.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-toolchain.sh
command -v cargo >/dev/null 2>&1 || export PATH="$HOME/.cargo/bin:$PATH"

rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt clippy 2>/dev/null || true
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
if ! command -v cargo-nextest >/dev/null 2>&1; then
  cargo install cargo-nextest --locked
fi
cargo nextest run --workspace --locked --no-fail-fast
# Doc tests are not run by nextest.
cargo test --workspace --doc --locked
