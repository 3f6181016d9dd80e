"""What every step shares: the result base class, and how a step asks for its inputs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..domain.errors import MissingInputFolder, PortfolioInputError
from ..incremental.memo import StepMemo
from ..settings import SETTING_VARIABLES

__all__ = ["MissingUpstreamOutput", "StepResult", "bytes_hash", "require_folder", "require_output"]


class MissingUpstreamOutput(PortfolioInputError):
    """An output of an earlier step that a later step needs and cannot find."""

    def __init__(self, path: Path, asset: str) -> None:
        self.path = Path(path)
        self.asset = asset
        super().__init__(f"{path} is missing; materialize {asset} first")


@dataclass(frozen=True)
class StepResult:
    memo: StepMemo
    reused: bool

    @property
    def data_version(self) -> str:
        return self.memo.data_version

    def input_warnings(self) -> list[str]:
        """Warnings about the inputs the step read; the run's log shows them first."""
        return []

    def log_lines(self) -> list[tuple[Literal["info", "warning"], str]]:
        """What the run's log says about the result, line by line, after the inputs'
        warnings and whether the outputs were reused."""
        return []


def require_folder(path: Path, setting: str, what: str) -> None:
    if not path.is_dir():
        raise MissingInputFolder(path, SETTING_VARIABLES[setting], what)


def require_output(path: Path, asset: str) -> bytes:
    """The bytes of `asset`'s output at `path`, which a later step reads."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise MissingUpstreamOutput(path, asset) from None


def bytes_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:24]
