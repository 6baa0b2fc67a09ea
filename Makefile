# credprobe: `make test` runs every check from a fresh machine.
# It installs what the checks need and a fresh machine lacks (apt, as root).

CARGO ?= cargo

.PHONY: test deps fmt-check clippy doc fuzz-lock rust-test rules kubernetes demo build bench soak fuzz

## Everything, from a fresh machine: tools, format, lints, the Rust tests
## (unit, integration, browser, end-to-end against a real Prometheus), the
## alert rules and their unit tests, the Kubernetes manifests.
test: deps fmt-check clippy doc fuzz-lock rust-test rules kubernetes

## Tools the tests call; installed when missing.
deps:
	@scripts/install-test-deps

fmt-check:
	$(CARGO) fmt --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## The API documentation builds without a warning (no broken or private links).
doc:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps

## The fuzz crate's committed lock file must match its manifest and the code.
fuzz-lock:
	@$(CARGO) metadata --locked --format-version 1 --manifest-path fuzz/Cargo.toml >/dev/null \
	  || { echo "fuzz/Cargo.lock is out of date: run 'cargo update --workspace --manifest-path fuzz/Cargo.toml' and commit it" >&2; exit 1; }

rust-test:
	$(CARGO) test --workspace

## promtool check rules + promtool test rules + metric names + runbook anchors.
rules:
	deploy/prometheus/check

## kustomize renders, schema validation, PrometheusRule drift check.
kubernetes:
	scripts/check-kubernetes

build:
	$(CARGO) build --release

## The benchmark (about fifteen minutes): figures into BENCHMARKS.md.
bench:
	bench/run

## The soak (an hour; SOAK_SECONDS to change): 1,000 tenants, a fifth
## failing, scraped every 15 s; RSS, file descriptors and tenants checked;
## figures into BENCHMARKS.md.
soak:
	bench/install-deps
	bench/soak

demo:
	$(CARGO) run --release -- demo

## Coverage-guided fuzzing of the parsers (cargo fuzz, libFuzzer), not part
## of `make test`: FUZZ_SECONDS per target (default 60); prints executions
## and crashes per target (into BENCHMARKS.md), fails on any crash.
fuzz:
	scripts/fuzz
