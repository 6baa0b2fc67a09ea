# credprobe: `make test` runs every check from a fresh machine.
# It installs what the checks need and a fresh machine lacks (apt, as root).

CARGO ?= cargo

.PHONY: test deps fmt-check clippy rust-test rules kubernetes demo build bench

## Everything, from a fresh machine: tools, format, lints, the Rust tests
## (unit, integration, browser, end-to-end against a real Prometheus), the
## alert rules and their unit tests, the Kubernetes manifests.
test: deps fmt-check clippy rust-test rules kubernetes

## Tools the tests call; installed when missing.
deps:
	@scripts/install-test-deps

fmt-check:
	$(CARGO) fmt --check

clippy:
	$(CARGO) clippy --all-targets -- -D warnings

rust-test:
	$(CARGO) test

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

demo:
	$(CARGO) run --release -- demo
