"""A daily update costs what changed, and its outputs equal a from-scratch run byte for byte.

Random sequences of appends (in order or not), rewrites, truncations and touches of a
few Stooq files: after each, the diagnostics and exports kept up to date from the file
summaries equal those made with no summary or manifest at all."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import BinaryIO

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from portfolio_assets.domain.exports import PlannedExport
from portfolio_assets.incremental import export_sync
from portfolio_assets.incremental.diagnostics_cache import DiagnosedFiles, diagnose_with_cache
from portfolio_assets.incremental.export_sync import ExportSync, sync_exports
from portfolio_assets.incremental.file_summaries import load_file_summaries
from portfolio_assets.io.atomic_files import stage_spliced
from portfolio_assets.io.folder_marker import FOLDER_MARKER

HEADER = "<TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>\n"
FILES = ("a.us.txt", "b.us.txt", "c.us.txt")


def _row(day: int, close: str = "10.5") -> str:
    return f"A.US,D,{(date(2020, 1, 1) + timedelta(days=day)).strftime('%Y%m%d')},000000,1,2,0.5,{close},1000,0\n"


class World:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.stooq = root / "stooq"
        self.stooq.mkdir()
        self.clock = 1_600_000_000_000_000_000
        self.last_day = dict.fromkeys(FILES, 10)
        for name in FILES:
            self.write(name, HEADER + "".join(_row(day) for day in range(11)))

    def write(self, name: str, text: str, mode: str = "w") -> None:
        path = self.stooq / name
        with open(path, mode, encoding="utf-8", newline="") as handle:
            handle.write(text)
        self.clock += 1_000_000_000  # a new mtime for every change, as a real clock gives
        os.utime(path, ns=(self.clock, self.clock))

    def planned(self, diagnosed: DiagnosedFiles) -> list[PlannedExport]:
        return [
            PlannedExport(f"{name[:-4]}.csv", name[:-4].upper(), name, diagnosed.by_path[name].data_status)
            for name in FILES
        ]

    def diagnose(self, folder: str, force: bool = False) -> DiagnosedFiles:
        metadata = self.root / folder
        metadata.mkdir(exist_ok=True)
        return diagnose_with_cache(self.stooq, FILES, metadata / "summaries.json", "1", force=force)

    def refresh(self, folder: str, force: bool = False) -> tuple[DiagnosedFiles, ExportSync, dict[str, bytes]]:
        """match_report's reading and price_exports' writing, with their records in `folder`."""
        diagnosed = self.diagnose(folder, force)
        metadata = self.root / folder
        cache = metadata / "summaries.json"
        sync = sync_exports(
            self.stooq,
            metadata / "prices",
            self.planned(diagnosed),
            metadata / "manifest.json",
            metadata / "written.json",
            "1",
            force=force,
            max_removed_share=1.0,
            # From scratch: every export rendered from its source's bytes, as the rules say.
            summaries=None if force else load_file_summaries(cache, "1")[0],
        )
        # Every file but the folder's marker, whose token is random: a leftover counts too.
        exports = {
            path.name: path.read_bytes()
            for path in sorted((metadata / "prices").iterdir())
            if path.name != FOLDER_MARKER
        }
        return diagnosed, sync, exports


operations = st.one_of(
    st.tuples(st.just("daily"), st.integers(0, 2), st.integers(1, 3)),
    st.tuples(st.just("daily"), st.integers(0, 2), st.integers(1, 3)),
    st.tuples(st.just("append"), st.integers(0, 2), st.lists(st.integers(0, 40), max_size=4)),
    st.tuples(st.just("append_text"), st.integers(0, 2), st.sampled_from(["\n", "junk\n", "A,D", "\r\n", "\xff"])),
    st.tuples(st.just("rewrite"), st.integers(0, 2), st.lists(st.integers(0, 40), max_size=6)),
    st.tuples(st.just("truncate"), st.integers(0, 2), st.integers(0, 400)),
    st.tuples(st.just("touch"), st.integers(0, 2), st.just(0)),
    # match_report ran but price_exports did not (it failed, or was stopped)
    st.tuples(st.just("diagnose_only"), st.just(0), st.just(0)),
    # a user deleted an export: it is written again from its source
    st.tuples(st.just("delete_export"), st.integers(0, 2), st.just(0)),
)


def _apply(world: World, operation: tuple[str, int, object]) -> None:
    kind, index, argument = operation
    name = FILES[index]
    path = world.stooq / name
    if kind == "diagnose_only":
        world.diagnose("kept")
    elif kind == "delete_export":
        (world.root / "kept/prices" / f"{name[:-4]}.csv").unlink(missing_ok=True)
    elif kind == "daily":
        assert isinstance(argument, int)
        start = world.last_day[name] + 1
        world.last_day[name] += argument
        world.write(name, "".join(_row(day) for day in range(start, start + argument)), "a")
    elif kind == "append":
        assert isinstance(argument, list)
        world.write(name, "".join(_row(day) for day in argument), "a")
    elif kind == "append_text":
        with open(path, "ab") as handle:
            handle.write(str(argument).encode("latin-1"))
        world.write(name, "", "a")
    elif kind == "rewrite":
        assert isinstance(argument, list)
        world.write(name, HEADER + "".join(_row(day, "0") for day in argument))
    elif kind == "truncate":
        assert isinstance(argument, int)
        data = path.read_bytes()
        path.write_bytes(data[: min(argument, len(data))])
        world.write(name, "", "a")
    else:
        world.write(name, "", "a")


# Slow (seconds of examples): in `make test`, not in the fast layer.
@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(st.lists(operations, min_size=1, max_size=6))
# The export was made from bytes that the file no longer starts with.
@example([("rewrite", 0, [1, 2]), ("diagnose_only", 0, 0), ("daily", 0, 2)])
@example([("daily", 1, 1), ("diagnose_only", 0, 0), ("daily", 1, 2)])
# Rows appended that the export does not copy verbatim (a blank line, a carriage return).
@example([("append_text", 0, "\r\n"), ("delete_export", 0, 0)])
def test_kept_up_to_date_equals_from_scratch(steps: list[tuple[str, int, object]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        world = World(Path(folder))
        world.refresh("kept")
        for operation in steps:
            _apply(world, operation)
            if operation[0] == "diagnose_only":
                continue
            kept, _, kept_exports = world.refresh("kept")
            scratch, _, scratch_exports = world.refresh(f"scratch{id(operation)}", force=True)
            assert kept.by_path == scratch.by_path
            assert kept_exports == scratch_exports


def test_a_daily_update_reads_and_parses_only_the_new_rows(tmp_path: Path) -> None:
    world = World(tmp_path)
    first, first_sync, _ = world.refresh("kept")
    assert first.files_read == 3 and first.rows_parsed == 33 and first_sync.files_appended == 0
    for name in FILES:
        world.write(name, _row(20), "a")
    diagnosed, sync, exports = world.refresh("kept")
    assert (diagnosed.files_read, diagnosed.files_extended) == (3, 3)
    assert diagnosed.bytes_parsed == 3 * len(_row(20)) and diagnosed.rows_parsed == 3
    assert diagnosed.bytes_read == sum((world.stooq / name).stat().st_size for name in FILES)
    assert sync.files_appended == 3 and sync.bytes_read == 3 * len(_row(20))
    assert all(text.endswith(_row(20).encode()) for text in exports.values())
    # Touched, same bytes: read and hashed, nothing parsed, no export written.
    for name in FILES:
        world.write(name, "", "a")
    diagnosed, sync, _ = world.refresh("kept")
    assert diagnosed.files_read == 3 and diagnosed.bytes_parsed == 0
    assert sorted(sync.untouched) == ["a.us.csv", "b.us.csv", "c.us.csv"] and not sync.written
    # Rewritten with the same size: the hash tells, the whole file is parsed.
    data = (world.stooq / FILES[0]).read_bytes()
    world.write(FILES[0], data.decode().replace("10.5", "10.6"))
    diagnosed, sync, _ = world.refresh("kept")
    assert diagnosed.files_extended == 0 and diagnosed.bytes_parsed == len(data)
    assert sync.written == ["a.us.csv"] and sync.files_appended == 0


@pytest.mark.parametrize("writer", ["appends", "truncates"])
def test_a_source_changing_during_the_copy_leaves_no_wrong_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writer: str
) -> None:
    """Stooq's archive unpacked again while price_exports copies (unzip truncates files in
    place): the copy is dropped and the export rendered from what the file then holds."""
    world = World(tmp_path)
    name = FILES[0]
    real = stage_spliced  # as export_sync imports it

    def racing(
        path: Path, parts: Iterable[bytes | tuple[BinaryIO, int, int]], **options: Callable[[], bool]
    ) -> Path | None:
        if path.name == "a.us.csv":
            if writer == "appends":
                world.write(name, _row(11), "a")
            else:
                source = world.stooq / name
                source.write_bytes(source.read_bytes()[:200])
        return real(path, parts, **options)

    monkeypatch.setattr(export_sync, "stage_spliced", racing)
    world.refresh("kept")
    monkeypatch.setattr(export_sync, "stage_spliced", real)
    world.write(name, HEADER + "".join(_row(day) for day in range(13)))  # the writer finished
    world.refresh("kept")
    _, _, kept = world.refresh("kept")
    _, _, scratch = world.refresh("scratch", force=True)
    assert kept == scratch


def test_an_unreadable_source_gets_the_header_alone(tmp_path: Path) -> None:
    """A matched file that cannot be read (here a folder named like one) is reported as
    error:<class> and, with include_empty, exported as the header line, as before."""
    world = World(tmp_path)
    (world.stooq / FILES[0]).unlink()
    (world.stooq / FILES[0]).mkdir()
    diagnosed, _, exports = world.refresh("kept")
    assert diagnosed.by_path[FILES[0]].data_status == "error:IsADirectoryError"
    assert exports["a.us.csv"] == b"ticker,per,date,time,open,high,low,close,volume,openint\n"
    _, again, _ = world.refresh("kept")
    assert "a.us.csv" in again.unchanged  # read again (a read fails for the moment), not rewritten
