"""What changed, and what can be reused: fingerprints, step memos, the per-instrument
caches (matches, diagnostics), the export folder and its manifest, the folder states
the sensors watch, and the consistency rules the checks report.
"""

__all__: list[str] = []
