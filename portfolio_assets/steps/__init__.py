"""The steps as plain functions over settings, and the registry that says everything
about each asset.

Each step reads its inputs, writes its outputs atomically and returns a result
with counts for metadata, a content hash for the data version, and the memo
(input fingerprint, output stamp) that lets the next run reuse its outputs.
`registry.py` has one entry per asset: key, dependencies, function, outputs,
versions, result settings, caches, checks and metadata. Dagster-free: `dagster_defs/`
generates the assets from the registry, turning plain metadata and check outcomes
(`asset_metadata.py`, `asset_checks.py`) into Dagster's.
"""

__all__: list[str] = []
