"""The errors the domain core raises for bad input, each naming the file (and line)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["PortfolioInputError", "BrokerListError", "MissingInputFolder", "InputVanished", "InvalidSetting",
           "FolderConflict"]


class PortfolioInputError(ValueError):
    """Base class: input that the pipeline refuses to process."""


class BrokerListError(PortfolioInputError):
    """A broker list that cannot be read: not UTF-8, not CSV, or no symbol column."""

    def __init__(self, path: Path, problem: str, line: int | None = None) -> None:
        self.path = Path(path)
        self.line = line
        where = f"{self.path}" if line is None else f"{self.path}, line {line}"
        super().__init__(f"broker list {where}: {problem}")


class MissingInputFolder(PortfolioInputError):
    """An input folder (Stooq tree or broker folder) that does not exist."""

    def __init__(self, path: Path, variable: str, what: str) -> None:
        self.path = Path(path)
        self.variable = variable
        super().__init__(
            f"{what} folder {self.path} does not exist (resolved from the working "
            f"directory {Path.cwd()}); create it or set {variable} to the right path"
        )


class InputVanished(PortfolioInputError):
    """An input that existed when the step started and disappeared while it ran."""

    def __init__(self, path: Path, while_doing: str) -> None:
        self.path = Path(path)
        super().__init__(f"{self.path} disappeared while {while_doing}; nothing was written. "
                         "Run again once the input is back in place")


class InvalidSetting(PortfolioInputError):
    """A setting whose value is not one of the allowed values."""

    def __init__(self, variable: str, value: str, allowed: tuple[str, ...]) -> None:
        self.variable = variable
        super().__init__(
            f"{variable}={value!r} is not valid; expected one of: {', '.join(allowed)}"
        )


class FolderConflict(PortfolioInputError):
    """Two folder settings that overlap, or an output folder that is not a folder.

    The pipeline writes and removes files in its output folders, so a prices folder
    that is also the broker folder (say) would cost the user their files."""
