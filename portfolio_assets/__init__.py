"""portfolio-assets: Stooq archives and broker lists into a matched universe, reports and
one price file per instrument, as Dagster assets that recompute only what changed.

`defs` is loaded on first access, so the Dagster-free layers (domain, incremental,
io, steps) and the CLI's fast path can be imported without importing Dagster.

Layers, each using only those after it: cli and dagster_defs, instance, steps,
incremental and io, domain (see docs/architecture.md, "Layers"). The Dagster layer is
`dagster_defs/`, not `defs/`: a subpackage named `defs` would replace this attribute.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import dagster as dg

__all__ = ["defs"]


def __getattr__(name: str) -> "dg.Definitions":
    if name == "defs":
        from .definitions import defs

        return defs
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    # Dagster finds the code location's Definitions through dir() + getattr().
    return sorted({*globals(), "defs"})
