"""Files and processes: atomic writes, worker processes, and the instance lock."""

__all__: list[str] = []
