# credprobe: `make test` runs every check from a fresh machine.
# It installs what the checks need and a fresh machine lacks (apt, as root).

CARGO ?= cargo

.PHONY: test deps check-tools fmt-check clippy rust-test demo build

test: deps fmt-check clippy rust-test

## Tools the tests call; installed when missing.
deps:
	@scripts/install-test-deps

fmt-check:
	$(CARGO) fmt --check

clippy:
	$(CARGO) clippy --all-targets -- -D warnings

rust-test:
	$(CARGO) test --all-targets

build:
	$(CARGO) build --release

demo:
	$(CARGO) run --release -- demo
