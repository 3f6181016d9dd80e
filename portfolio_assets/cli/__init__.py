"""The `portfolio-assets` command (`main.py`), the refresh it runs through Dagster
(`refresh.py`), the Dagster-free fast path that answers "nothing changed"
(`fast_path.py`), and the log file behind its one-line errors (`fault_log.py`).

Importing this package imports neither Dagster nor the price reader: `main` imports
what a command needs when it runs.
"""

__all__: list[str] = []
