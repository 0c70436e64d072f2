# Two commands on a fresh machine: `make demo` and `make test`.
# torch is installed first, from the CPU build, so that the package's torch range is already
# satisfied and pip never pulls a CUDA build. GPU users: see the README.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: demo demo-quick test lint test-slow bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	# bubblewrap: the organisms' tool sandbox (without it those tests skip and the organisms run stops with a clear error)
	command -v bwrap >/dev/null || apt-get install -y -q bubblewrap || (apt-get update -q && apt-get install -y -q bubblewrap) \
		|| echo "warning: could not install bubblewrap (Debian package); the organisms experiment needs it"
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev,bench,trl,ray,serve]"
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

# Lint first, then unit tests (seconds), then the science checks (minutes).
test: lint
	$(BIN)/python -m pytest -q --durations=10 -m "not slow and not science"
	$(BIN)/python -m pytest -q --durations=30 -m "science and not slow"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	$(BIN)/python bench/bench_generator.py
	$(BIN)/python bench/bench_prm_scoring.py

clean:
	rm -rf $(VENV) runs .pytest_cache
