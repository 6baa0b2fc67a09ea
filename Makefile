# credprobe: `make help` lists every target with its one-line description;
# `make test` (also plain `make`) runs every check from a fresh machine.
# It installs what the checks need and a fresh machine lacks (apt, as root).
#
# A target's `##` line, just above it (after any `#` lines of detail), is
# its description in `make help`.

CARGO ?= cargo

.PHONY: help test deps fmt-check clippy doc fuzz-lock rust-test rules kubernetes demo build bench soak fuzz
.DEFAULT_GOAL := test

## Lists every target with its one-line description (this list).
help:
	@echo 'make TARGET (plain make: test), TARGET one of:'
	@awk '/^## / { text = substr($$0, 4); next } \
	  /^[a-z][a-z-]*:/ { name = $$0; sub(/:.*/, "", name); printf "  %-11s %s\n", name, text; text = "" } \
	  /^$$/ { text = "" }' $(firstword $(MAKEFILE_LIST))

# Tools, format, lints, API documentation, the fuzz crate's lock file, the
# Rust tests of every crate of the workspace (unit, integration, browser,
# end-to-end against a real Prometheus), the alert rules and their unit
# tests, the Kubernetes manifests.
## Everything, from a fresh machine, as CI runs it (.ci/run).
test: deps fmt-check clippy doc fuzz-lock rust-test rules kubernetes

## Tools the tests call; installed when missing.
deps:
	@scripts/install-test-deps

## The code is formatted as `cargo fmt` formats it.
fmt-check:
	$(CARGO) fmt --check

## Lints of every crate of the workspace, all targets; a warning fails.
clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	# The daemon as the container image builds it: without the simulator.
	$(CARGO) clippy -p credprobe --no-default-features -- -D warnings

## The API documentation builds without a warning (no broken or private links).
doc:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps

## The fuzz crate's committed lock file must match its manifest and the code.
fuzz-lock:
	@$(CARGO) metadata --locked --format-version 1 --manifest-path fuzz/Cargo.toml >/dev/null \
	  || { echo "fuzz/Cargo.lock is out of date: run 'cargo update --workspace --manifest-path fuzz/Cargo.toml' and commit it" >&2; exit 1; }

## The Rust tests of every crate of the workspace: unit, integration, doc.
rust-test:
	$(CARGO) test --workspace

## promtool check rules + promtool test rules + metric names + runbook anchors.
rules:
	deploy/prometheus/check

## kustomize renders, schema validation, PrometheusRule drift check.
kubernetes:
	scripts/check-kubernetes

## The release binary, target/release/credprobe (with demo and simulate).
build:
	$(CARGO) build --release

## The benchmark (about 45 minutes): figures into BENCHMARKS.md.
bench:
	bench/run

# 1,000 tenants, a fifth failing, scraped every 15 s; RSS, file
# descriptors and tenants checked.
## The soak (an hour; SOAK_SECONDS to change): figures into BENCHMARKS.md.
soak:
	bench/install-deps
	bench/soak

## The simulated API and a daemon probing it: the README's first command.
demo:
	$(CARGO) run --release -- demo

# cargo fuzz with libFuzzer; prints executions and crashes per target (into
# BENCHMARKS.md), fails on any crash.
## Coverage-guided fuzzing of the parsers, FUZZ_SECONDS (60) per target; not in test.
fuzz:
	scripts/fuzz
