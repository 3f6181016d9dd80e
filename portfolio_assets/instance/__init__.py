"""Reading and writing the Dagster instance: memo tags on materializations, the stale
status of each asset, run bookkeeping (liveness, pool slots), the run launcher that
dagster.yaml names, the settings a running code location recorded, and the storage's
failures (a full DAGSTER_HOME, an unreachable PostgreSQL) in one line. Whatever of
Dagster is not its public API is reached through `dagster_internals/`, the one adapter.
"""

__all__: list[str] = []
