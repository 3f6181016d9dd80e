"""Helpers the tests share, defined once: hand-written files, the outputs of a world,
refreshes through Dagster, and a running `dagster dev` for the slow tests.

The fixtures (`world`, `instance`) are in conftest.py. Dagster, and whatever loads the
code location, is imported when called, so the fast layer (domain, incremental, io,
steps, data) never imports it.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from io import BufferedReader
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import pytest

from portfolio_assets.settings import Settings
from portfolio_assets.steps import registry
from portfolio_assets.steps.common import StepResult
from portfolio_assets.steps.registry import ASSET_KEYS, get_asset

if TYPE_CHECKING:
    import dagster as dg

__all__ = [
    "AAPL",
    "ARTIFACTS",
    "BIN",
    "E2E_INTERVALS",
    "PROJECT",
    "STOOQ_HEADER",
    "BlockedRead",
    "build_all",
    "free_port",
    "from_scratch",
    "graphql",
    "latest_materialization",
    "materializable",
    "output_files",
    "permissions_enforced",
    "rewrite_keeping_size_and_mtime",
    "run_refresh",
    "running_dagster_dev",
    "sample_world",
    "set_logic_version",
    "stooq_rows",
    "stored_run",
    "wait_for",
    "write_file",
    "zip_folder",
]

BIN = Path(sys.executable).parent
PROJECT = Path(__file__).resolve().parents[1]
ARTIFACTS = PROJECT / "test-artifacts"

STOOQ_HEADER = "<TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>\n"
# The matched Stooq file of the `world` fixture's AAPL.
AAPL = "data/stooq/d_us_txt/data/daily/us/nasdaq stocks/1/aapl.us.txt"

T = TypeVar("T")


def stooq_rows(ticker: str, dates: list[str], close: str = "10.5", volume: str = "1000") -> str:
    return STOOQ_HEADER + "".join(f"{ticker},D,{day},000000,10,11,9,{close},{volume},0\n" for day in dates)


def write_file(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def rewrite_keeping_size_and_mtime(path: Path) -> None:
    """A same-size rewrite whose mtime is put back (`touch -r`): the last close 10.5 becomes
    -1.5, which the report flags; only the ctime (the inode stays) tells."""
    before = path.stat()
    data = path.read_bytes()
    at = data.rindex(b",10.5,")
    path.write_bytes(data[:at] + b",-1.5," + data[at + len(b",10.5,") :])
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino)


class BlockedRead:
    """Opening `path` for reading a Stooq file fails with PermissionError while `blocked`,
    as after `chmod 000`, without moving the file's stamp: a failure of the moment. Works
    in this process (match_report's reads, the sensor's look at the file), run as root
    too, where a chmod does not stop reads."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
        from portfolio_assets.incremental import file_summaries

        self.path, self.blocked = path.resolve(), True

        def guarded_open(file: Path, mode: Literal["rb"]) -> BufferedReader:
            """file_summaries' one call: open(path, "rb")."""
            if self.blocked and file.resolve() == self.path:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
            return open(file, mode)

        monkeypatch.setattr(file_summaries, "open", guarded_open, raising=False)


class _CapabilityHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapabilityData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


_CAPABILITY_VERSION_3 = 0x20080522
_DAC_OVERRIDES = (1 << 1) | (1 << 2)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH


@contextmanager
def permissions_enforced() -> Iterator[None]:
    """File permissions hold for this thread (and the threads it starts) as for any user.

    Root reads a `chmod 000` file anyway: it has CAP_DAC_OVERRIDE. As root, those two
    capabilities leave this thread's effective set (capset(2), per thread) and come back
    at the end; as another user nothing needs doing. Skips where that cannot be done."""
    if os.geteuid() != 0:
        yield
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        header, data = _CapabilityHeader(_CAPABILITY_VERSION_3, 0), (_CapabilityData * 2)()
        if libc.capget(ctypes.byref(header), data) != 0:
            raise OSError(ctypes.get_errno(), "capget")
    except (OSError, AttributeError) as error:
        pytest.skip(f"cannot drop root's file permission override here: {error}")
    saved = data[0].effective
    data[0].effective = saved & ~_DAC_OVERRIDES
    if libc.capset(ctypes.byref(header), data) != 0:
        pytest.skip(f"cannot drop root's file permission override here: errno {ctypes.get_errno()}")
    try:
        yield
    finally:
        data[0].effective = saved
        header = _CapabilityHeader(_CAPABILITY_VERSION_3, 0)
        assert libc.capset(ctypes.byref(header), data) == 0, "could not restore this thread's capabilities"


def output_files(root: Path) -> dict[str, bytes]:
    """Every report and export (CSV) under data/metadata and data/processed, by relative path.

    Caches and manifests are left out: they hold stamps that differ between copies."""
    found = {}
    for folder in (root / "data" / "metadata", root / "data" / "processed"):
        if folder.exists():
            for path in sorted(folder.rglob("*")):
                if path.is_file() and path.suffix == ".csv":
                    found[str(path.relative_to(root))] = path.read_bytes()
    return found


def build_all(settings: Settings) -> dict[str, StepResult]:
    """Every step of the registry, in order, called directly as a first run would (no memo)."""
    return {key: get_asset(key).build(settings) for key in ASSET_KEYS}


def materializable(defs: dg.Definitions) -> list[dg.AssetsDefinition | dg.AssetSpec | dg.SourceAsset]:
    """`runnable(defs)` as `dg.materialize` takes it: the project defines no cacheable assets."""
    import dagster as dg

    from portfolio_assets.definitions import runnable

    found = runnable(defs)
    kept = [item for item in found if isinstance(item, dg.AssetsDefinition | dg.AssetSpec | dg.SourceAsset)]
    assert len(kept) == len(found), f"not materializable: {[item for item in found if item not in kept]}"
    return kept


def latest_materialization(instance: dg.DagsterInstance, key: str) -> dg.AssetMaterialization:
    """The latest materialization of asset `key` in `instance` (it must have one)."""
    import dagster as dg

    event = instance.get_latest_materialization_event(dg.AssetKey(key))
    assert event is not None and event.asset_materialization is not None, f"{key} was never materialized"
    return event.asset_materialization


def stored_run(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRun:
    """Run `run_id` as `instance` stores it (it must be there)."""
    run = instance.get_run_by_id(run_id)
    assert run is not None, f"no run {run_id} in the instance"
    return run


def run_refresh(instance: dg.DagsterInstance, force: bool = False) -> list[str]:
    """`refresh` in process with the environment's settings; returns what it materialized."""
    from portfolio_assets.cli.refresh import refresh
    from portfolio_assets.definitions import build_definitions
    from portfolio_assets.settings import settings_from_environment

    outcome = refresh(build_definitions(), instance, settings_from_environment(), force=force, report=lambda _: None)
    assert outcome.success, outcome.error
    return outcome.materialized


def from_scratch(world: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Outputs of a first run on a copy of the current inputs, with a new instance."""
    import dagster as dg

    fresh = tmp_path_factory.mktemp("scratch")
    for folder in ("data/stooq", "tradeable_instruments"):
        shutil.copytree(world / folder, fresh / folder, symlinks=True)
    here = Path.cwd()
    os.chdir(fresh)
    try:
        with dg.instance_for_test() as scratch_instance:
            assert run_refresh(scratch_instance) == list(ASSET_KEYS)
        return output_files(fresh)
    finally:
        os.chdir(here)


def set_logic_version(monkeypatch: pytest.MonkeyPatch, key: str, version: str) -> None:
    """Bump step `key`'s logic version in the registry for the rest of the test."""
    monkeypatch.setattr(
        registry,
        "ASSETS",
        tuple(replace(step, logic_version=version) if step.key == key else step for step in registry.ASSETS),
    )


def environment(home: Path) -> dict[str, str]:
    """This process's environment for a command on DAGSTER_HOME `home`, with no
    PORTFOLIO_ASSETS_* setting (the command takes the defaults)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTFOLIO_ASSETS_")}
    env["DAGSTER_HOME"] = str(home)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def graphql(port: int, query: str) -> dict[str, Any]:
    """The `data` of the webserver's answer to `query` (JSON, as the query shapes it)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        data: dict[str, Any] = json.loads(response.read())["data"]
        return data


def wait_for(condition: Callable[[], T | None], timeout: float, what: str, interval: float = 1.0) -> T:
    """The first true value `condition` returns, asked every `interval` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


E2E_INTERVALS = {
    "PORTFOLIO_ASSETS_TRADEABLE_SENSOR_SECONDS": "2",
    "PORTFOLIO_ASSETS_STOOQ_SENSOR_SECONDS": "5",
    # The unpacked sample is walked every tick, as before archives gave the sensor a cheaper look.
    "PORTFOLIO_ASSETS_STOOQ_WALK_SECONDS": "5",
    "PORTFOLIO_ASSETS_OUTPUT_SENSOR_SECONDS": "2",
    "PORTFOLIO_ASSETS_AUTOMATION_SECONDS": "2",
}


def sample_world(root: Path) -> Path:
    """A settled sample in `root` and a DAGSTER_HOME with the project's dagster.yaml; returns the home."""
    from .storage import write_instance_config

    home = write_instance_config(root / "dagster_home")
    subprocess.run([str(BIN / "portfolio-assets"), "sample", str(root)], check=True, capture_output=True)
    for path in root.rglob("*"):  # the sample is settled, not being written
        if path.is_file():
            os.utime(path, (time.time() - 60, time.time() - 60))
    return home


def _answers(port: int) -> bool:
    try:
        return bool(graphql(port, "{ version }"))
    except OSError:
        return False


@contextmanager
def running_dagster_dev(
    root: Path,
    home: Path,
    log_name: str = "dagster_dev.log",
    location: tuple[str, ...] = ("-w", str(PROJECT / "workspace.yaml")),
    **settings: str,
) -> Iterator[int]:
    """`dagster dev` from `root` with short sensor intervals (and `settings` as variables),
    loading the code location `location` names (`make dev`'s workspace.yaml unless told);
    yields its port."""
    env = environment(home)
    env.update(**E2E_INTERVALS, **settings)
    port = free_port()
    log = open(root / log_name, "w")  # noqa: SIM115 - closed in the finally below, after the process
    process = subprocess.Popen(
        [str(BIN / "dagster"), "dev", *location, "-h", "127.0.0.1", "-p", str(port)],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(lambda: _answers(port), 120, "the webserver to answer GraphQL")
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)  # reaped, not left to the garbage collector's warning
        log.close()
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(root / log_name, ARTIFACTS / log_name)


def zip_folder(folder: Path, archive: Path, extra: Callable[[zipfile.ZipFile], None] | None = None) -> None:
    """`folder` as the archive Stooq ships: deflate, directory entries, written anew (a new inode)."""
    partial = archive.with_name(archive.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as handle:
        for path in sorted(folder.rglob("*")):
            handle.write(path, path.relative_to(folder).as_posix())
        if extra is not None:
            extra(handle)
    os.replace(partial, archive)
