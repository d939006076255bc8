# The two commands that matter on a fresh machine: `make demo` and `make test`.
.PHONY: setup demo test lint bench

setup:
	@scripts/setup

demo: setup
	.venv/bin/workbench demo

test: setup
	.venv/bin/pytest

lint: setup
	.venv/bin/ruff check src tests benchmarks
	.venv/bin/ruff format --check src tests benchmarks

bench: setup
	.venv/bin/python benchmarks/bench_acquire.py
