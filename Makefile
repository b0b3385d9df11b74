# Quick start: `make demo` and `make test`. Both create .venv/ on first use.
# torch is installed first and pinned, so a CPU-only machine never pulls CUDA wheels;
# GPU users override it, e.g. `make TORCH="torch==2.13.0 --index-url <your CUDA index>" venv`.
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint format bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ldedit demo --out demo-output

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python benchmarks/io_phantoms.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache
