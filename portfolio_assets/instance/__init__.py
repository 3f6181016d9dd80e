"""Reading and writing the Dagster instance: memo tags on materializations, the stale
status of each asset, run bookkeeping (liveness, pool slots), the run launcher that
dagster.yaml names, and the settings a running code location recorded.
"""

__all__: list[str] = []
