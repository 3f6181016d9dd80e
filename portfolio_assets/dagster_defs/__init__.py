"""What Dagster loads: the observable sources, an asset for each registry entry with its checks, the
settings resource, and how a step's failure reaches the UI and the shell.

`portfolio_assets.definitions` assembles them into the code location's Definitions.
"""

__all__: list[str] = []
