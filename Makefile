# The two commands of the quick start. Each installs what it needs on a fresh Debian machine.
.PHONY: run test build bench

# Run the server on the embedded default: SQLite in ./skybridge-data, http://127.0.0.1:8080.
run:
	@bash scripts/ensure-toolchain.sh
	cargo run --release --locked -p skybridge-server --bin skybridge -- serve $(ARGS)

# Run every test (PostgreSQL too when SKYBRIDGE_TEST_POSTGRES_URL is set).
test:
	@bash scripts/test.sh

build:
	@bash scripts/ensure-toolchain.sh
	cargo build --release --locked -p skybridge-server
