"""Atomic file writes: a temporary file in the target folder, then renamed into place.

Every output of the pipeline goes through here, so a reader never sees a
half-written file and a failed run leaves the previous outputs intact.

Replacing an existing export (a file the pipeline can write again, `rebuildable`):
on Linux, the new file is swapped with the old one in one step (`renameat2` with
RENAME_EXCHANGE) and the old one, now under the temporary name, is then removed;
elsewhere, or where the file system cannot swap, `os.replace`. Both are atomic for
readers. The swap is used because ext4 makes a plain rename over an existing file
wait to write the new file's data out first (its `auto_da_alloc` safeguard):
measured on this project's machine, replacing 2,000 exports (376 MB) took 1.02 s by
`os.replace` and 0.44 s by swap and unlink, the bulk of a daily update's export
step. The price of the swap is that ext4 no longer forces the data out before the
rename: after a power failure an export can come back empty, which `price_exports`
sees (its stamp differs from the manifest's) and writes again. Every other file
(reports, caches, the change history) keeps `os.replace` and ext4's safeguard.
Temporary files carry a fixed prefix so a later run can recognise and remove
leftovers of a killed one. Files get the permissions of any file the user makes
(0o666 less the umask), and a failed write raises an OSError naming the file
the user knows (the target), not our temporary file.
"""

from __future__ import annotations

import ctypes
import errno
import os
import secrets
import stat
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "FILE_MODE",
    "TEMP_PREFIX",
    "create_file_durably",
    "file_holds",
    "remove_leftover_temp_files",
    "replace_all",
    "stage_appended",
    "stage_bytes",
    "stage_spliced",
    "write_bytes_atomic",
    "write_bytes_if_changed",
    "write_text_atomic",
    "write_text_if_changed",
]

TEMP_PREFIX = ".portfolio-assets-tmp-"
# Created with this mode, the kernel takes the umask off as for any file the user makes:
# 0o644 under umask 022, 0o664 under 002. (tempfile.mkstemp makes 0o600, which a
# backtest running as another user cannot read.) Letting open(2) apply the umask means
# reading it nowhere, so nothing can race a thread that changes it.
FILE_MODE = 0o666
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _create_temp(folder: Path) -> tuple[int, Path]:
    """A new empty temporary file in `folder`, open for writing (O_EXCL: never someone else's)."""
    for _ in range(100):
        candidate = folder / f"{TEMP_PREFIX}{secrets.token_hex(8)}.part"
        try:
            return os.open(candidate, _CREATE_FLAGS, FILE_MODE), candidate
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary file name", str(folder))


def _write_all(fd: int, data: bytes) -> None:
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _naming(error: OSError, target: Path) -> OSError:
    """`error`, naming `target` when it names no file or only our temporary file.

    A full disk fails write(2), whose error names no file; a read-only folder fails
    the temporary file's creation. Either way the user needs to hear which output
    could not be written. OSError(errno, ...) keeps the subclass (PermissionError...)."""
    if error.errno is None or not error.strerror:
        return error
    if error.filename is not None and not Path(os.fsdecode(error.filename)).name.startswith(TEMP_PREFIX):
        return error
    named = OSError(error.errno, error.strerror, str(target))
    named.__cause__ = error
    return named


def stage_bytes(path: Path, data: bytes) -> Path:
    """Write `data` to a new temporary file beside `path` and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, temp_path = _create_temp(path.parent)
    except OSError as error:
        raise _naming(error, path)  # noqa: B904 - _naming sets the cause
    try:
        _write_all(fd, data)
    except BaseException as error:
        temp_path.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise _naming(error, path)  # noqa: B904 - _naming sets the cause
        raise
    return temp_path


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _load_renameat2() -> ctypes._NamedFuncPointer | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # a C library without it (glibc before 2.28, musl)
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_renameat2 = _load_renameat2()


def _swap(temp_path: Path, target: Path) -> bool:
    return (
        _renameat2 is not None
        and _renameat2(_AT_FDCWD, os.fsencode(temp_path), _AT_FDCWD, os.fsencode(target), _RENAME_EXCHANGE) == 0
    )


def _swapped(temp_path: Path, target: Path, keep_old: bool = False) -> bool:
    """Swap `temp_path` with an existing regular file `target` and remove what then bears
    the temporary name (the old file; with `keep_old` it stays, for the caller to
    remove); False, with nothing changed, where that cannot be
    done (no such target, a file system that cannot swap, no renameat2). Anything but a
    regular file that was swapped out (a folder, a symlink) is swapped back, for
    `os.replace` to decide: it refuses a folder and replaces a symlink itself."""
    if not _swap(temp_path, target):
        return False
    try:
        regular = stat.S_ISREG(os.lstat(temp_path).st_mode)
    except OSError:
        regular = False
    if not regular:
        if not _swap(temp_path, target):
            raise OSError(errno.EIO, f"could not put {target} back after swapping it with {temp_path}")
        return False
    if not keep_old:
        temp_path.unlink(missing_ok=True)
    return True


def _rename_into_place(temp_path: Path, target: Path, rebuildable: bool, old_files: list[Path] | None) -> None:
    if rebuildable and _swapped(temp_path, target, keep_old=old_files is not None):
        if old_files is not None:
            old_files.append(temp_path)
        return
    os.replace(temp_path, target)


def replace_all(
    staged: Iterable[tuple[Path, Path]], rebuildable: bool = False, old_files: list[Path] | None = None
) -> None:
    """Move each staged temporary file onto its target; on failure drop the rest.

    `rebuildable` targets (exports, which the pipeline writes again when their stamp
    differs from its manifest's) are swapped in rather than renamed over; see above.
    With `old_files`, the old files swapped out stay under their temporary names, added
    to that list, for the caller to remove: freeing their blocks is the slow part of a
    replacement (measured here on ext4: 2,000 exports of 190 KB swapped in 0.04 s, their
    old versions then removed in 6 s one after the other, 0.3 s on eight threads)."""
    pending = list(staged)
    try:
        while pending:
            temp_path, target = pending[0]
            try:
                _rename_into_place(temp_path, target, rebuildable, old_files)
            except OSError as error:
                raise _naming(error, target)  # noqa: B904 - _naming sets the cause
            pending.pop(0)
    finally:
        for temp_path, _ in pending:
            temp_path.unlink(missing_ok=True)


_COPY_CHUNK = 1 << 20


def _copy_into(fd: int, source: BinaryIO, offset: int, count: int) -> int:
    """Copy `count` bytes of `source` from `offset` on to `fd`; return how many there were
    (fewer if the file shrank). On Linux in the kernel (`sendfile`); elsewhere, or where
    the file systems refuse it, through a buffer."""
    copied = 0
    if sys.platform.startswith("linux"):
        while copied < count:
            try:
                sent = os.sendfile(fd, source.fileno(), offset + copied, count - copied)
            except OSError:
                if copied:
                    raise
                break  # refused before anything was sent: copy through a buffer below
            if sent == 0:
                return copied  # end of file: the source shrank
            copied += sent
    while copied < count:
        chunk = os.pread(source.fileno(), min(_COPY_CHUNK, count - copied), offset + copied)
        if not chunk:
            break
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view) :]
        copied += len(chunk)
    return copied


def stage_spliced(
    path: Path,
    parts: Iterable[bytes | tuple[BinaryIO, int, int]],
    still_valid: Callable[[], bool] = lambda: True,
) -> Path | None:
    """Write `parts` in order to a new temporary file beside `path` and return its path:
    bytes as they are, and (open file, offset, count) for that many of the file's bytes
    from the offset, copied in the kernel.

    Returns None, leaving no temporary file, when a file had fewer bytes than asked for
    or `still_valid()` (asked once all is written) says no: the source moved meanwhile."""
    try:
        fd, temp_path = _create_temp(path.parent)
    except OSError as error:
        raise _naming(error, path)  # noqa: B904 - _naming sets the cause
    try:
        complete = True
        with os.fdopen(fd, "wb") as handle:
            for part in parts:
                if isinstance(part, bytes):
                    handle.write(part)
                    continue
                handle.flush()
                source, offset, count = part
                complete = complete and _copy_into(handle.fileno(), source, offset, count) == count
                handle.seek(0, os.SEEK_END)
        if not (complete and still_valid()):
            temp_path.unlink(missing_ok=True)
            return None
    except BaseException as error:
        temp_path.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise _naming(error, path)  # noqa: B904 - _naming sets the cause
        raise
    return temp_path


def stage_appended(path: Path, data: bytes) -> Path:
    """A new temporary file beside `path` holding its bytes followed by `data`."""
    with open(path, "rb") as current:
        size = os.fstat(current.fileno()).st_size
        staged = stage_spliced(path, [(current, 0, size), data])
    if staged is None:
        raise OSError(errno.EAGAIN, "changed while it was being extended", str(path))
    return staged


def _sync_folder(folder: Path) -> None:
    """Write a folder's entries out to disk (its new names), where the system can."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # a file system (or a platform) that cannot sync a folder
    finally:
        os.close(fd)


def create_file_durably(path: Path, data: bytes, *, replace: bool = False) -> bool:
    """Make `path` hold `data` in one step, with its bytes and its name on disk before
    this returns (fsync: a power failure leaves either no file or the whole one). True
    if written; False, with nothing changed, when something already has that name,
    unless `replace` (which puts it in place of a regular file).

    For small files whose loss would cost the user more than the sync does (the prices
    folder's marker). Without `replace` the file is linked into place, which never
    takes an existing name, even from a writer racing this one; a file system without
    hard links falls back to a rename after checking the name is free."""
    try:
        fd, temp_path = _create_temp(path.parent)
    except OSError as error:
        raise _naming(error, path)  # noqa: B904 - _naming sets the cause
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(temp_path, path)
        else:
            try:
                os.link(temp_path, path)
            except FileExistsError:
                return False
            except OSError:  # no hard links here (FAT, some network shares)
                if os.path.lexists(path):
                    return False
                os.replace(temp_path, path)
    except OSError as error:
        raise _naming(error, path)  # noqa: B904 - _naming sets the cause
    finally:
        temp_path.unlink(missing_ok=True)
    _sync_folder(path.parent)
    return True


def write_bytes_atomic(path: Path, data: bytes, rebuildable: bool = False) -> None:
    replace_all([(stage_bytes(path, data), path)], rebuildable)


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_text_if_changed(path: Path, text: str, rebuildable: bool = False) -> bool:
    """Write atomically unless the file already holds exactly this text; True if written.

    Leaving an identical file alone keeps its mtime, so readers that watch
    mtimes see no change.
    """
    return write_bytes_if_changed(path, text.encode("utf-8"), rebuildable)


def write_bytes_if_changed(path: Path, data: bytes, rebuildable: bool = False) -> bool:
    """`write_text_if_changed` for bytes."""
    if file_holds(path, data):
        return False
    write_bytes_atomic(path, data, rebuildable)
    return True


def file_holds(path: Path, data: bytes) -> bool:
    """Whether `path` exists with exactly these bytes."""
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def remove_leftover_temp_files(folder: Path, older_than_seconds: float = 0) -> int:
    """Delete temporary files a killed run left in `folder` (only those older than
    `older_than_seconds`, when a live writer could own the newer ones); return how many."""
    if not folder.is_dir():
        return 0
    removed = 0
    now = time.time()
    for entry in os.scandir(folder):
        if entry.name.startswith(TEMP_PREFIX) and entry.is_file(follow_symlinks=False):
            try:
                if now - entry.stat().st_mtime < older_than_seconds:
                    continue
            except FileNotFoundError:
                continue
            Path(entry.path).unlink(missing_ok=True)
            removed += 1
    return removed
