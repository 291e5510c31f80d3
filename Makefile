# A fresh machine needs two commands:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# checkov (a judge of the install manifests) in a venv of its own: its pins must not move ours.
CHECKOV := .venv-checkov/bin/checkov

.PHONY: demo test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Set everything up and run the main job: the whole story on a lab cluster (demo/run.py).
demo: $(STAMP)
	$(BIN)/python demo/run.py

## The whole test suite: lint, types, tests.
test: $(STAMP) $(CHECKOV) lint typecheck unit

$(CHECKOV):
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install --quiet 'checkov>=3.2'

lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools demo
	$(BIN)/ruff format --check src tests bench tools demo

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q -n 2

bench: $(STAMP)
	$(BIN)/python bench/inject.py

clean:
	rm -rf $(VENV) .venv-checkov .mypy_cache .pytest_cache .ruff_cache
