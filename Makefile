# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAMPLE := sample
export DAGSTER_HOME := $(CURDIR)/dagster_home

.PHONY: demo test test-fast lint dev env instance clean-sample

$(BIN)/portfolio-assets: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,postgres]'
	touch $@

env: $(BIN)/portfolio-assets

# Create the Dagster instance's databases first, under the lock `status` and `refresh`
# take: the webserver, daemon and code server of `dagster dev` (or two dagster commands)
# creating them at once on a new DAGSTER_HOME can fail (dagster issue 27390).
instance: env
	$(BIN)/portfolio-assets init

demo: instance
	rm -rf $(SAMPLE)
	$(BIN)/portfolio-assets sample $(SAMPLE)
	cd $(SAMPLE) && ../$(BIN)/portfolio-assets refresh
	@echo
	@echo "Outputs (from $(SAMPLE)/):"
	@echo "  $(SAMPLE)/data/metadata/stooq_index.csv"
	@echo "  $(SAMPLE)/data/metadata/tradeable_universe.csv"
	@echo "  $(SAMPLE)/data/metadata/tradeable_matches.csv"
	@echo "  $(SAMPLE)/data/metadata/tradeable_unmatched.csv"
	@echo "  $(SAMPLE)/data/processed/tradeable_prices/ ($$(ls $(SAMPLE)/data/processed/tradeable_prices | wc -l) price files)"
	@echo "Open the UI with: make dev   (then http://127.0.0.1:3000)"

dev: instance
	cd $(SAMPLE) && ../$(BIN)/dagster dev -w ../workspace.yaml -h 127.0.0.1 -p 3000

test: env
	$(BIN)/python -m pytest -n 2

test-fast: env
	$(BIN)/python -m pytest -m "not slow" -n 2

# Static checks, run by CI before the tests: lint, format, types, and the definitions load.
lint: env
	$(BIN)/ruff check portfolio_assets portfolio_assets_tests
	$(BIN)/ruff format --check portfolio_assets portfolio_assets_tests
	$(BIN)/mypy
	VIRTUAL_ENV=$(CURDIR)/$(VENV) DAGSTER_HOME=$$(mktemp -d) $(BIN)/dg check defs
