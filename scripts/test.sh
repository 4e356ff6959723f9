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

# scim2-tester (PyPI), the SCIM compliance checker tests/scim-compliance/check.py runs, in the same virtualenv at
# the versions pinned in its requirements.txt; (re)installed when that file changes. It needs Python 3.11+.
scim_req="tests/scim-compliance/requirements.txt"
scim_stamp="$venv/.scim-requirements.sha256"
scim_req_sum=$(sha256sum "$scim_req" | cut -d' ' -f1)
if ! "$venv/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "scripts/test.sh: scim2-tester needs Python 3.11 or newer; $venv has $("$venv/bin/python" --version)" >&2
  exit 1
fi
if [ "$(cat "$scim_stamp" 2>/dev/null)" != "$scim_req_sum" ] || ! "$venv/bin/python" -c 'import scim2_tester' 2>/dev/null; then
  "$venv/bin/pip" install -q -r "$scim_req"
  echo "$scim_req_sum" > "$scim_stamp"
fi
export SKYBRIDGE_TEST_SCIM_PYTHON="$PWD/$venv/bin/python"

# openid-client (npm), the relying party of the OpenID Connect conformance test, at the version in the lock file.
# It needs Node.js 20 or newer; (re)installed when node_modules is missing or the lock file changed.
need_apt=()
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -q && $sudo_cmd apt-get install -y -q "${need_apt[@]}"
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "scripts/test.sh: Node.js and npm are needed (tests/oidc-conformance runs openid-client); install them" >&2
  exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "scripts/test.sh: tests/oidc-conformance needs Node.js 20 or newer (openid-client 6); this is $(node --version)" >&2
  exit 1
fi
oidc="tests/oidc-conformance"
oidc_stamp="$oidc/node_modules/.installed-from.sha256"
oidc_lock_sum=$(cat "$oidc/package.json" "$oidc/package-lock.json" | sha256sum | cut -d' ' -f1)
if [ ! -f "$oidc/node_modules/openid-client/package.json" ] || [ "$(cat "$oidc_stamp" 2>/dev/null)" != "$oidc_lock_sum" ]; then
  npm ci --prefix "$oidc" --no-audit --no-fund
  echo "$oidc_lock_sum" > "$oidc_stamp"
fi

# Headless Chromium and its WebDriver (Debian's chromium and chromium-driver) for the console's real-browser
# tests (crates/server/tests/api/console_browser.rs), which read their paths from these variables.
chromium_bin="${SKYBRIDGE_TEST_CHROMIUM:-/usr/bin/chromium}"
chromedriver_bin="${SKYBRIDGE_TEST_CHROMEDRIVER:-/usr/bin/chromedriver}"
if [ ! -x "$chromium_bin" ] || [ ! -x "$chromedriver_bin" ]; then
  if command -v apt-get >/dev/null 2>&1; then
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -q && $sudo_cmd apt-get install -y -q --no-install-recommends chromium chromium-driver
  fi
fi
if [ ! -x "$chromium_bin" ] || [ ! -x "$chromedriver_bin" ]; then
  echo "scripts/test.sh: the console browser tests need $chromium_bin and $chromedriver_bin (Debian: apt-get install chromium chromium-driver)" >&2
  exit 1
fi
export SKYBRIDGE_TEST_CHROMIUM="$chromium_bin"
export SKYBRIDGE_TEST_CHROMEDRIVER="$chromedriver_bin"

# LibreOffice Calc (Debian's libreoffice-calc), which writes the bulk-import fixtures as a person saving from Calc
# would (crates/server/tests/api/imports.rs runs `soffice --headless --convert-to`); its path in this variable.
soffice_bin="${SKYBRIDGE_TEST_SOFFICE:-$(command -v soffice || echo /usr/bin/soffice)}"
if [ ! -x "$soffice_bin" ]; then
  if command -v apt-get >/dev/null 2>&1; then
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -q && $sudo_cmd apt-get install -y -q --no-install-recommends libreoffice-calc
  fi
  soffice_bin="${SKYBRIDGE_TEST_SOFFICE:-$(command -v soffice || echo /usr/bin/soffice)}"
fi
if [ ! -x "$soffice_bin" ]; then
  echo "scripts/test.sh: the import tests need LibreOffice's soffice (Debian: apt-get install libreoffice-calc)" >&2
  exit 1
fi
export SKYBRIDGE_TEST_SOFFICE="$soffice_bin"

if ! command -v cargo-nextest >/dev/null 2>&1; then
  cargo install cargo-nextest --locked
fi
cargo nextest run --workspace --locked --no-fail-fast
# Doc tests are not run by nextest.
cargo test --workspace --doc --locked
