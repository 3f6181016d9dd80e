"""Progress of long file work: nothing unless turned on and slow, a tqdm bar on a terminal,
plain lines elsewhere, and `portfolio-assets refresh` unchanged when its work is short."""

from __future__ import annotations

import fcntl
import io
import os
import re
import select
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from portfolio_assets.domain.errors import InvalidSetting
from portfolio_assets.io import progress
from portfolio_assets.io.progress import (
    disable_progress,
    enable_progress,
    file_progress,
    progress_enabled,
    progress_shown,
)

from ..helpers import BIN


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TerminalLike(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def switched_off(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("PORTFOLIO_ASSETS_PROGRESS", raising=False)
    disable_progress()
    yield
    disable_progress()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(progress, "_clock", fake)
    return fake


def test_plain_lines_name_the_label_and_the_count_at_most_every_five_seconds(clock: FakeClock) -> None:
    stream = io.StringIO()
    assert enable_progress(stream) and progress_enabled()
    with file_progress("match_report: reading Stooq files", 6109) as shown:
        for done in range(1, 6110):
            clock.now += 1 / 256  # 256 files a second (exact in binary): about 24 s in all
            shown.advance()
            if done == 511:
                assert stream.getvalue() == ""  # not yet 2 s
    assert stream.getvalue().splitlines() == [
        "match_report: reading Stooq files: 512/6109 files",  # at 2 s
        "match_report: reading Stooq files: 1792/6109 files",  # 5 s later
        "match_report: reading Stooq files: 3072/6109 files",
        "match_report: reading Stooq files: 4352/6109 files",
        "match_report: reading Stooq files: 5632/6109 files",
        "match_report: reading Stooq files: 6109/6109 files in 23.9 s",
    ]


def test_a_batch_advances_by_its_size_and_a_failure_says_where_it_stopped(clock: FakeClock) -> None:
    stream = io.StringIO()
    enable_progress(stream)
    with pytest.raises(OSError), file_progress("price_exports: writing exports", 300) as shown:
        clock.now += 3
        shown.advance(100)
        raise OSError("disk full")
    assert stream.getvalue().splitlines() == [
        "price_exports: writing exports: 100/300 files",
        "price_exports: writing exports: 100/300 files stopped after 3.0 s",
    ]


@pytest.mark.parametrize("stream_type", [io.StringIO, TerminalLike])
def test_work_that_ends_before_the_delay_shows_nothing(clock: FakeClock, stream_type: type[io.StringIO]) -> None:
    stream = stream_type()
    enable_progress(stream)
    with file_progress("match_report: reading Stooq files", 50) as shown:
        for _ in range(50):
            clock.now += 0.01
            shown.advance()
    assert stream.getvalue() == ""


@pytest.mark.parametrize("stream_type", [io.StringIO, TerminalLike])
def test_disabled_shows_nothing(monkeypatch: pytest.MonkeyPatch, stream_type: type[io.StringIO]) -> None:
    monkeypatch.setattr(progress, "SHOW_AFTER_SECONDS", 0.0)
    stream = stream_type()
    assert not progress_enabled()  # the default: Dagster's own runs show nothing
    with file_progress("match_report: reading Stooq files", 3) as shown:
        for _ in range(3):
            shown.advance()
    monkeypatch.setenv("PORTFOLIO_ASSETS_PROGRESS", "0")
    assert not enable_progress(stream) and not progress_enabled()
    with file_progress("match_report: reading Stooq files", 3) as shown:
        for _ in range(3):
            shown.advance()
    assert stream.getvalue() == ""


def test_an_invalid_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTFOLIO_ASSETS_PROGRESS", "maybe")
    with pytest.raises(InvalidSetting, match="PORTFOLIO_ASSETS_PROGRESS=maybe is not valid"):
        enable_progress(io.StringIO())


def test_progress_shown_turns_it_off_again() -> None:
    with progress_shown(io.StringIO()) as on:
        assert on and progress_enabled()
    assert not progress_enabled()


@pytest.mark.parametrize("columns", [100, 0])  # 0: a pseudo-terminal that reports no size
def test_a_terminal_gets_a_tqdm_bar(monkeypatch: pytest.MonkeyPatch, columns: int) -> None:
    monkeypatch.setattr(progress, "SHOW_AFTER_SECONDS", 0.0)
    controller, terminal = os.openpty()
    fcntl.ioctl(controller, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    try:
        with os.fdopen(terminal, "w", encoding="utf-8") as stream:
            enable_progress(stream)
            with file_progress("match_report: reading Stooq files", 250) as shown:
                for _ in range(250):
                    shown.advance()
            disable_progress()
        screen = _read_all(controller)
    finally:
        os.close(controller)
    assert "match_report: reading Stooq files:" in screen
    assert "250/250" in screen and "files/s" in screen and "\r" in screen
    assert all(len(line) <= (columns or 80) for line in screen.replace("\r", "\n").splitlines())


def test_advance_from_many_threads_counts_every_file(clock: FakeClock) -> None:
    stream = io.StringIO()
    enable_progress(stream)
    with file_progress("match_report: reading Stooq files", 8000) as shown:
        clock.now += 10

        def work() -> None:
            for _ in range(1000):
                shown.advance()

        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert stream.getvalue().splitlines()[-1].startswith("match_report: reading Stooq files: 8000/8000 files in")


def _read_all(controller: int) -> str:
    chunks = []
    while select.select([controller], [], [], 0.5)[0]:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the terminal side is closed and everything was read
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


# A step's progress while Dagster captures the step's stderr: Dagster points descriptor 2
# at the captured log during the step, so the bar has to go to the stderr the process had.
IN_A_STEP = """
import os, sys, tempfile
from pathlib import Path

import dagster as dg
from portfolio_assets.io import progress

progress.SHOW_AFTER_SECONDS = 0.0

@dg.asset
def reads_files() -> None:
    print("in the step: stderr is a terminal:", sys.stderr.isatty(), file=sys.stderr)
    with progress.file_progress("reads_files: reading", 7) as shown:
        for _ in range(7):
            shown.advance()

with tempfile.TemporaryDirectory() as home, dg.DagsterInstance.local_temp(home) as instance:
    with progress.progress_shown():
        dg.materialize([reads_files], instance=instance)
    captured = "".join(path.read_text() for path in Path(home).rglob("*.err"))
    print("captured log:", repr(captured), flush=True)
"""


@pytest.mark.slow
def test_progress_in_a_dagster_step_reaches_the_terminal_not_the_captured_log(tmp_path: Path) -> None:
    controller, terminal = os.openpty()
    fcntl.ioctl(controller, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        done = subprocess.run(
            [sys.executable, "-c", IN_A_STEP],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=terminal,
            env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
            text=True,
            timeout=120,
        )
        os.close(terminal)
        screen = _read_all(controller)
    finally:
        os.close(controller)
    assert done.returncode == 0, done.stdout + screen
    assert "reads_files: reading:" in screen and "7/7" in screen
    captured = done.stdout.split("captured log:", 1)[1]
    assert "in the step: stderr is a terminal: False" in captured  # Dagster's capture
    assert "7/7" not in captured


@pytest.mark.slow
def test_refresh_prints_the_same_when_its_work_is_short(tmp_path: Path) -> None:
    """Piped or on a terminal, a short refresh prints what it printed before progress existed
    (as with PORTFOLIO_ASSETS_PROGRESS=0)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PORTFOLIO_ASSETS_")}
    sample = tmp_path / "sample"
    sample.mkdir()
    subprocess.run(
        [str(BIN / "portfolio-assets"), "sample", str(sample), "--stooq-files", "120", "--instruments", "30"],
        env=environment,
        capture_output=True,
        check=True,
        timeout=120,
    )

    def refresh(name: str, on_terminal: bool = False, **env: str) -> tuple[str, str]:
        home = tmp_path / name
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
        settings = {
            "DAGSTER_HOME": str(home),
            "PORTFOLIO_ASSETS_STOOQ_DIR": str(sample / "data/stooq"),
            "PORTFOLIO_ASSETS_TRADEABLE_DIR": str(sample / "tradeable_instruments"),
            "PORTFOLIO_ASSETS_METADATA_DIR": str(home / "metadata"),
            "PORTFOLIO_ASSETS_PRICES_DIR": str(home / "prices"),
        }
        command = [str(BIN / "portfolio-assets"), "refresh"]
        if not on_terminal:
            done = subprocess.run(
                command, env={**environment, **settings, **env}, capture_output=True, text=True, timeout=300
            )
            assert done.returncode == 0, done.stdout + done.stderr
            return done.stdout, done.stderr
        controller, terminal = os.openpty()
        try:
            started = subprocess.Popen(
                command,
                env={**environment, **settings, **env},
                stdin=subprocess.DEVNULL,
                stdout=terminal,
                stderr=terminal,
            )
            os.close(terminal)
            chunks = []
            while True:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:
                    break  # EIO once the command has exited and its output was read
                if not chunk:
                    break
                chunks.append(chunk)
            assert started.wait(timeout=300) == 0
        finally:
            os.close(controller)
        return b"".join(chunks).decode().replace("\r\n", "\n"), ""

    before = refresh("off", PORTFOLIO_ASSETS_PROGRESS="0")
    assert "materialized stooq_index, tradeable_universe, match_report, price_exports" in before[0]
    assert refresh("piped") == before
    screen, _ = refresh("terminal", on_terminal=True)
    assert screen == before[0] + before[1]
    assert not re.search(r"\d+/\d+ files", screen) and "\r" not in screen
