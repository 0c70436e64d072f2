# Two commands on a fresh machine: `make demo` and `make test`.
# torch is installed first, from the CPU build, so that the package's torch range is already
# satisfied and pip never pulls a CUDA build. GPU users: see the README.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: demo demo-quick test lint test-slow bench clean

# --no-compile: pip would byte-compile every file of torch, transformers and ray (about 90 s here);
# Python compiles the modules a run imports, once, on first import instead. That needs Python to
# write its bytecode cache, which some sandboxes turn off (PYTHONDONTWRITEBYTECODE=1): without it
# every process would compile torch afresh.
PIP := $(BIN)/python -m pip install --quiet --no-compile
unexport PYTHONDONTWRITEBYTECODE

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	# bubblewrap: the organisms' tool sandbox (without it those tests skip and the organisms run stops with a clear error)
	command -v bwrap >/dev/null || apt-get install -y -q bubblewrap || (apt-get update -q && apt-get install -y -q bubblewrap) \
		|| echo "warning: could not install bubblewrap (Debian package); the organisms experiment needs it"
	$(BIN)/python -c "import torch" 2>/dev/null || $(PIP) "$(TORCH)"
	$(PIP) -e ".[dev,bench,trl,ray,serve,research]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/autoalign demo

demo-quick: $(STAMP)
	$(BIN)/autoalign demo --quick

# The layers (import contracts in pyproject.toml) and lint: seconds.
lint: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

# Lint first, then unit tests (seconds), then the science checks (minutes). Two pytest-xdist workers
# with one torch thread each (tests/conftest.py): on 2 cores about 1.6x two threads in turn.
# XDIST=0 runs everything in one process.
XDIST ?= 2
PYTEST := $(BIN)/python -m pytest -q $(if $(filter-out 0,$(XDIST)),-n $(XDIST) --dist worksteal)

test: lint
	$(PYTEST) --durations=10 -m "not slow and not science"
	$(PYTEST) --durations=30 -m "science and not slow"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	$(BIN)/python bench/bench_generator.py
	$(BIN)/python bench/bench_prm_scoring.py

clean:
	rm -rf $(VENV) runs .pytest_cache
