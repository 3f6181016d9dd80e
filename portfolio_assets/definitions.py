"""The code location: sources, assets, checks, sensors, resources and the in-process executor
that first frees the pool of dead runs (`dagster_defs/location.py` builds them; importing
this module builds `defs` once)."""

from __future__ import annotations

from .dagster_defs.location import build_definitions, runnable

__all__ = ["build_definitions", "defs", "runnable"]


defs = build_definitions()
