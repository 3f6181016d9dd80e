"""portfolio-assets: Stooq archives and broker lists into a matched universe, reports and
one price file per instrument, as Dagster assets that recompute only what changed.

`defs` is loaded on first access, so the Dagster-free core (and the CLI's fast
paths) can be imported without importing Dagster.
"""

__all__ = ["defs"]


def __getattr__(name: str):
    if name == "defs":
        from .definitions import defs

        return defs
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    # Dagster finds the code location's Definitions through dir() + getattr().
    return sorted({*globals(), "defs"})
