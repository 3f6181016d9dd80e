"""What Dagster loads: the observable sources, the four assets, their checks, the
settings resource, and how a step's failure reaches the UI and the shell.

`portfolio_assets.definitions` assembles them into the code location's Definitions.
"""

__all__: list[str] = []
