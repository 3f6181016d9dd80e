"""How bad input surfaces in Dagster: a step failure whose headline is our own message."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from .core.errors import PortfolioInputError

__all__ = ["failing_clearly"]


@contextmanager
def failing_clearly() -> Iterator[None]:
    """Bad input fails the step with our message (file, line, variable) as the headline."""
    try:
        yield
    except PortfolioInputError as error:
        raise dg.Failure(description=str(error)) from error
