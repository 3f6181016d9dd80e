# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAMPLE := sample
export DAGSTER_HOME := $(CURDIR)/dagster_home

.PHONY: demo test test-fast test-postgres lint dev env instance clean-sample system-packages

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

# Debian's chromium (the browser test) and postgresql (the tests on PostgreSQL), installed
# when missing (apt-get, through sudo when not root).
system-packages:
	.ci/system-packages

# Everything on local SQLite; then every test that depends on the instance again on a
# throwaway PostgreSQL server.
test: env system-packages
	$(BIN)/python -m pytest -n 3 --maxschedchunk 2
	$(MAKE) test-postgres

# The fast layer, run after each change: the rules and the machinery (domain,
# incremental, io, steps, data) without Dagster, which the plugin without_dagster.py
# makes unimportable, and without the tests that start the CLI, a webserver or a daemon
# or take long (marked slow). About 31 s on two cores. In one process by default: two
# xdist workers each import and collect everything again, about 5 s more CPU time, and
# on a busy machine that is all they change (`make test-fast FAST_WORKERS=2` on an idle
# one). A test that hangs fails after 30 s with its stacks. `make test` runs these too;
# the layers above need an instance (dagster/, instance/) or processes (cli/, e2e/).
FAST_TESTS := portfolio_assets_tests/domain portfolio_assets_tests/settings portfolio_assets_tests/incremental \
	portfolio_assets_tests/io portfolio_assets_tests/steps portfolio_assets_tests/data
FAST_WORKERS ?= 0

test-fast: env
	$(BIN)/python -m pytest -p portfolio_assets_tests.without_dagster -m "not slow" --timeout 30 -n $(FAST_WORKERS) -q \
		$(FAST_TESTS)

# On PostgreSQL: the tests of what the storage changes (docs/operations.md's shared-instance
# steps as written, the shared instance across hosts, the daemon under `dagster dev`, the
# fast path, Dagster's stale status in every SPEC 6 state, sensors and run liveness). The rest of the suite runs on SQLite only,
# to keep CI within its time (docs/testing.md).
POSTGRES_TESTS := portfolio_assets_tests/cli/test_shared_instance.py portfolio_assets_tests/cli/test_shared_setup.py \
	portfolio_assets_tests/e2e/test_end_to_end.py \
	portfolio_assets_tests/instance portfolio_assets_tests/cli/test_fresh_state.py \
	portfolio_assets_tests/dagster/test_sensors.py portfolio_assets_tests/dagster/test_run_liveness.py \
	portfolio_assets_tests/cli/test_instance_faults.py portfolio_assets_tests/cli/test_dead_runs.py

test-postgres: env
	.ci/postgres start >/dev/null
	PORTFOLIO_ASSETS_TEST_STORAGE=postgres PORTFOLIO_ASSETS_TEST_POSTGRES_URL="$$(.ci/postgres url)" \
		$(BIN)/python -m pytest -n 4 --maxschedchunk 1 $(POSTGRES_TESTS) -k "not dies_under_dagster_dev"; \
		status=$$?; .ci/postgres stop; exit $$status

# Static checks, run by CI before the tests: lint, format, types (package and tests, strict),
# and the definitions load.
lint: env
	$(BIN)/ruff check portfolio_assets portfolio_assets_tests
	$(BIN)/ruff format --check portfolio_assets portfolio_assets_tests README.md
	$(BIN)/mypy
	VIRTUAL_ENV=$(CURDIR)/$(VENV) DAGSTER_HOME=$$(mktemp -d) $(BIN)/dg check defs
