"""What changed, and what can be reused: fingerprints, step memos, the per-instrument
caches (matches, diagnostics), the export folder and its manifest, the folder states
the sensors watch, the consistency rules the checks report, and the history of what
changed in the universe (`change_history.py`).
"""

__all__: list[str] = []
