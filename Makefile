# Every target sets up .venv (pip install -e .[dev]) when missing, so it works on a fresh machine.
# The venv gets the tested versions pinned in .ci/constraints.txt (users of the package get the
# ranges in pyproject.toml); `make constraints` refreshes the pins to the latest resolved releases.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONSTRAINTS := .ci/constraints.txt

.PHONY: demo test test-fast bench bench-learning lint format venv constraints

venv: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e ".[dev]"
	touch $(STAMP)

# Resolve the newest releases the ranges allow in a scratch venv and pin them; then run
# `make test` (it reinstalls .venv from the new pins) and commit .ci/constraints.txt if it passes.
constraints:
	rm -rf .venv-constraints
	$(PYTHON) -m venv .venv-constraints
	.venv-constraints/bin/python -m pip install --quiet --upgrade pip
	.venv-constraints/bin/python -m pip install --quiet -e ".[dev]"
	head -3 $(CONSTRAINTS) > $(CONSTRAINTS).new
	.venv-constraints/bin/python -m pip freeze --exclude-editable >> $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)
	rm -rf .venv-constraints

demo: $(STAMP)
	$(BIN)/mdk demo --out runs/demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py
	$(BIN)/python benchmarks/bench_models.py
	$(BIN)/python benchmarks/bench_selfsup.py
	$(BIN)/python benchmarks/bench_inference.py
	$(BIN)/python benchmarks/bench_loading.py

# Report 5's learning proof (benchmarks/selfsup_curve.py): the whole matrix of configurations and
# seeds, several CPU-hours; finished runs are kept (and committed) in
# benchmarks/results/selfsup_curve_64x192 and not trained again.
bench-learning: $(STAMP)
	$(BIN)/python benchmarks/selfsup_curve.py --size 64x192 --cpu-minutes 15 --steps 100000 \
		--seeds 0 1 2 --configs all diagnostics --results benchmarks/results/selfsup_curve_64x192

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks
