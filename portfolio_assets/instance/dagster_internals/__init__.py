"""Everything the project knows of Dagster beyond its public API: the one adapter.

Checked against dagster 1.13.27, the release pyproject.toml pins (`DAGSTER_RELEASE`).
Outside this package the project uses only Dagster's public API (`import dagster as
dg`): no import of its private modules, no Dagster-owned tag or metadata name spelled
by hand, no parse of Dagster's log text, no read of Dagster's storage tables
(portfolio_assets_tests/test_layers.py fails on any). Two modules:

- `library.py`: what a process that imports Dagster uses of its internals: the
  stale-status resolver, the tag names Dagster writes and reads, the engine events
  naming a run's process, the shape of its run-log records and step errors, the
  instance's pool slots and storage kind, and the types of the extension points the
  project implements (run launcher, executor, check evaluation target). The only
  module of the package that imports Dagster's private modules.
- `storage_tables.py`: Dagster's storage read as files and SQL tables, without
  importing Dagster, for the CLI's fast path.

To upgrade Dagster: set the new release in pyproject.toml and `DAGSTER_RELEASE`, run
portfolio_assets_tests/instance/test_dagster_internals.py (it names each internal that
moved: an import, a signature, a tag value, a log text, a table column), fix this package,
then the rest of the suite.
"""

__all__ = ["DAGSTER_RELEASE"]

# The release this package was checked against; pyproject.toml pins the same one.
DAGSTER_RELEASE = "1.13.27"
