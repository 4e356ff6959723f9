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
# External peers the suite talks to: aiosmtpd (a real SMTP server, from PyPI) in a private virtualenv.
venv="target/test-venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -q && $sudo_cmd apt-get install -y -q python3-venv
  fi
  mkdir -p target
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'aiosmtpd==1.4.6'
fi
export SKYBRIDGE_TEST_SMTPD_PYTHON="$PWD/$venv/bin/python"

if ! command -v cargo-nextest >/dev/null 2>&1; then
  cargo install cargo-nextest --locked
fi
cargo nextest run --workspace --locked --no-fail-fast
# Doc tests are not run by nextest.
cargo test --workspace --doc --locked
