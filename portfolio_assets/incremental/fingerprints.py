"""Hashes that serve as data versions: of inputs (sources) and of outputs (assets).

Content hashes make a re-saved but identical input, or an output recomputed
to the same content, look unchanged to Dagster.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from ..domain.broker_lists import broker_list_paths
from ..domain.stooq_tree import StooqFile

__all__ = [
    "bytes_fingerprint",
    "combine",
    "lists_fingerprint",
    "read_broker_bytes",
    "stooq_fingerprint",
    "text_fingerprint",
    "tradeable_fingerprint",
]


def _short(digest: hashlib._Hash) -> str:
    return digest.hexdigest()[:24]


def text_fingerprint(*texts: str) -> str:
    return bytes_fingerprint(*(text.encode("utf-8") for text in texts))


def bytes_fingerprint(*parts: bytes) -> str:
    """`text_fingerprint` of texts given as their UTF-8 bytes."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return _short(digest)


def combine(*parts: str) -> str:
    return text_fingerprint(*parts)


def read_broker_bytes(folder: Path) -> list[tuple[Path, bytes]]:
    """Every broker list with its bytes, in name order, read once."""
    contents = []
    for path in broker_list_paths(folder):
        try:
            contents.append((path, path.read_bytes()))
        except FileNotFoundError:
            continue  # removed while we read the folder: it is not there
    return contents


def lists_fingerprint(contents: Iterable[tuple[Path, bytes]]) -> str:
    digest = hashlib.sha256()
    for path, data in contents:
        for part in (path.name.encode("utf-8"), data):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    return _short(digest)


def tradeable_fingerprint(folder: Path) -> str:
    """Names and bytes of every broker list: touching or re-saving a file changes nothing."""
    return lists_fingerprint(read_broker_bytes(folder))


def stooq_fingerprint(files: Iterable[StooqFile]) -> str:
    """Relative path, size, mtime, ctime and inode of every counted Stooq file; reads no
    content. The ctime and inode reveal a same-size rewrite whose mtime was put back."""
    digest = hashlib.sha256()
    for item in files:
        digest.update(f"{item.relative_path}\0{item.size}\0{item.mtime_ns}\0{item.ctime_ns}\0{item.inode}\n".encode())
    return _short(digest)
