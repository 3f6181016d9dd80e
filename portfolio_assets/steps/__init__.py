"""The four steps as plain functions over settings, and the one registry of steps.

Each step reads its inputs, writes its outputs atomically and returns a result
with counts for metadata, a content hash for the data version, and the memo
(input fingerprint, output stamp) that lets the next run reuse its outputs.
`registry.py` names every step: its asset key, function, outputs, versions and
result settings. Dagster-free: the assets in `dagster_defs/` wire these functions.
"""

__all__: list[str] = []
