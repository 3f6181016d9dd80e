"""What a step remembers of its last run, to reuse outputs whose inputs did not change.

A step's input fingerprint hashes what it really reads (not a possibly stale
observation of it) plus its code version; its output stamp hashes the path and
stamp of every file it wrote. Outputs are reused only when both still match, so
a deleted or edited output is always rebuilt.

A file's stamp is its size, mtime, ctime and inode number. The mtime alone can be
put back (`touch -r`, an archive unpacked with its times, a copy with `cp -p`), so
that a same-size rewrite would look unchanged; the ctime is set by the kernel on
every change and no user tool restores it, and a file replaced by another one (an
archive unpacked again) has another inode. The device is left out: it can change
on a remount (network shares) while the files did not.

A file the pipeline wrote itself (a report, an export) is stamped without its ctime
(`written_stamp`): nobody else writes those files, and backups that hard-link them
(`cp -al`, rsnapshot) or a `chmod -R` move every ctime, which would otherwise make
every output look edited and cost a rewrite of all of them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

__all__ = ["StepMemo", "can_reuse", "file_stamp", "output_stamp", "stat_stamp", "written_stamp"]


@dataclass(frozen=True, slots=True)
class StepMemo:
    input_fingerprint: str
    output_stamp: str
    data_version: str


def file_stamp(path: Path | str) -> str:
    """`size:mtime_ns:ctime_ns:inode` of a file, or `missing`."""
    try:
        return stat_stamp(os.stat(path))
    except OSError:
        return "missing"


def stat_stamp(stat: os.stat_result) -> str:
    """A file's stamp from its stat (an open file's `os.fstat`, say)."""
    return f"{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ctime_ns}:{stat.st_ino}"


def written_stamp(path: Path | str) -> str:
    """`size:mtime_ns:inode` of a file the pipeline wrote, or `missing`."""
    try:
        stat = os.stat(path)
    except OSError:
        return "missing"
    return f"{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ino}"


def output_stamp(paths: Iterable[Path]) -> str:
    # Sorted as Path objects sort (part by part), but as strings: comparing 7,000 Path
    # objects costs more than stamping the files.
    texts = sorted((os.fspath(path) for path in paths), key=lambda text: text.split(os.sep))
    return hashlib.sha256("".join(f"{text}\0{written_stamp(text)}\n" for text in texts).encode()).hexdigest()[:24]


def can_reuse(
    previous: StepMemo | None, input_fingerprint: str, outputs: Iterable[Path], force: bool
) -> TypeGuard[StepMemo]:
    """True when `previous` (then not None) matches the inputs and its outputs are intact."""
    if force or previous is None or previous.input_fingerprint != input_fingerprint:
        return False
    outputs = list(outputs)
    return all(path.is_file() for path in outputs) and output_stamp(outputs) == previous.output_stamp
