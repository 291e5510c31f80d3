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

## Set everything up and run the main job: inject the examples and print the result.
demo: $(STAMP)
	$(BIN)/vaultinject inject -f examples/ -o yaml --vault-addr https://vault.vault.svc:8200 --summary

## The whole test suite: lint, types, tests.
test: $(STAMP) $(CHECKOV) lint typecheck unit

$(CHECKOV):
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install --quiet 'checkov>=3.2'

lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q -n 2

bench: $(STAMP)
	$(BIN)/python bench/inject.py

clean:
	rm -rf $(VENV) .venv-checkov .mypy_cache .pytest_cache .ruff_cache
