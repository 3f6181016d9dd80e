"""portfolio-assets: Stooq archives and broker lists into a matched universe, reports and
one price file per instrument, as Dagster assets that recompute only what changed."""

from .definitions import defs

__all__ = ["defs"]
