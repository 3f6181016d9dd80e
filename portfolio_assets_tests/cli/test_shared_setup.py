"""Setting up a shared instance as the docs say (docs/operations.md, "A shared instance"), and what stops a
user from working on a local instance while believing it shared.

With PORTFOLIO_ASSETS_POSTGRES_URL set, `init`, `status` and `refresh` refuse with one
line a DAGSTER_HOME that keeps the instance in local SQLite (these run on any storage);
on PostgreSQL, `init` writes the template into an empty DAGSTER_HOME and says which
database it is ready on, and the documented steps are followed as written: their commands
are read from docs/operations.md itself, so the test breaks when the page drifts.
"""

from __future__ import annotations

import importlib.metadata
import shlex
import shutil
import subprocess
from pathlib import Path

import dagster as dg
import pytest

from portfolio_assets.cli import main as cli
from portfolio_assets.instance.storage_config import POSTGRES_TEMPLATE, POSTGRES_URL_VARIABLE, postgres_location
from portfolio_assets.steps.registry import ASSET_KEYS

from ..helpers import BIN, PROJECT, environment, graphql, running_dagster_dev
from ..storage import POSTGRES, empty_worker_database, worker_database_url

SQLITE_CONFIG = PROJECT / "dagster_home" / "dagster.yaml"
# Well formed; never connected to: every refusal comes before any connection.
UNREACHABLE_URL = "postgresql+psycopg2://team:s3cret@db.invalid:5432/portfolio"
needs_postgres = pytest.mark.skipif(not POSTGRES, reason="needs PORTFOLIO_ASSETS_TEST_STORAGE=postgres")


@pytest.fixture
def local_home(world: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DAGSTER_HOME with the project's (SQLite) dagster.yaml, not yet used."""
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(SQLITE_CONFIG, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def _stderr_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


@pytest.mark.parametrize("command", ["init", "status", "refresh"])
def test_with_the_shared_url_set_a_local_sqlite_instance_is_refused(
    local_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.setenv(POSTGRES_URL_VARIABLE, UNREACHABLE_URL)
    assert cli.main([command]) == 2
    lines = _stderr_lines(capsys)
    assert lines == [
        f"portfolio-assets: {POSTGRES_URL_VARIABLE} is set, but {local_home / 'dagster.yaml'} keeps the instance "
        "in local SQLite, not in the shared database; copy the project's dagster_home/postgres.yaml over it, "
        "or unset the variable to use this instance"
    ]
    assert sorted(path.name for path in local_home.iterdir()) == ["dagster.yaml"]  # no SQLite database made
    assert not Path("data/metadata").exists()  # nothing ran


@pytest.mark.parametrize("command", ["status", "refresh"])
def test_with_the_shared_url_set_a_dagster_home_never_initialised_is_refused(
    world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    home = tmp_path / "new_home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv(POSTGRES_URL_VARIABLE, UNREACHABLE_URL)
    assert cli.main([command]) == 2
    assert _stderr_lines(capsys) == [
        f"portfolio-assets: {POSTGRES_URL_VARIABLE} is set, but {home} has no dagster.yaml, so Dagster would keep "
        "the instance in local SQLite there; run `portfolio-assets init` to set up the shared instance, "
        "or unset the variable to use this instance"
    ]
    assert not home.exists() or not any(home.iterdir())


def test_init_refuses_a_url_without_the_driver_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "new_home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv(POSTGRES_URL_VARIABLE, "postgresql://team:s3cret@db.invalid/portfolio")
    assert cli.main(["init"]) == 2
    lines = _stderr_lines(capsys)
    assert len(lines) == 1 and "s3cret" not in lines[0], lines
    assert lines[0].startswith(f"portfolio-assets: {POSTGRES_URL_VARIABLE}=postgresql://team:***@db.invalid/portfolio")
    assert not (home / "dagster.yaml").exists()


def test_init_without_the_variable_says_the_instance_is_local(
    local_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(POSTGRES_URL_VARIABLE, raising=False)
    assert cli.main(["init"]) == 0
    assert capsys.readouterr().out == f"Dagster instance ready in {local_home}: local SQLite, this host's only\n"


@needs_postgres
def test_init_with_the_variable_set_writes_the_template_and_names_the_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = worker_database_url("_init")
    empty_worker_database(url)
    home = tmp_path / "new_home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv(POSTGRES_URL_VARIABLE, url)
    assert cli.main(["init"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"wrote {home / 'dagster.yaml'} from {POSTGRES_TEMPLATE}",
        f"Dagster instance ready in {home}: shared, in PostgreSQL {postgres_location(url)}",
    ]
    assert (home / "dagster.yaml").read_bytes() == POSTGRES_TEMPLATE.read_bytes()
    assert not (home / "history").exists()  # no local SQLite storage
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"


# --- The documented steps, as written ----------------------------------------------

DOC_URL = "postgresql+psycopg2://USER:PASSWORD@HOST:5432/DATABASE"
DOC_HOME = "/var/lib/portfolio-assets"


def _documented_blocks() -> list[list[str]]:
    """The command blocks (indented four spaces) of "A shared instance" in docs/operations.md."""
    text = (PROJECT / "docs" / "operations.md").read_text(encoding="utf-8")
    start = text.index("## A shared instance\n")
    section = text[start : text.index("\n## ", start + 1)]
    blocks: list[list[str]] = []
    in_block = False
    for line in section.splitlines():
        if line.startswith("    ") and line.strip():
            if not in_block:
                blocks.append([])
            blocks[-1].append(line[4:])
        in_block = line.startswith("    ") and bool(line.strip())
    return blocks


def _host_shell(steps: list[str], home: Path, url: str, then: str = "") -> subprocess.CompletedProcess[str]:
    """Documented lines in one shell session in the checkout (then `then`), with this test's
    database and DAGSTER_HOME for the page's placeholders. `pip install` is left out:
    this environment is that install (checked by the caller)."""
    lines = [line for line in steps if not line.startswith("pip install ")]
    script = "\n".join(lines).replace(DOC_URL, url).replace(DOC_HOME, str(home))
    env = environment(home)
    env.pop("DAGSTER_HOME")  # the documented steps set it
    env["PATH"] = f"{BIN}:{env['PATH']}"
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", f"{script}\n{then}"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
@needs_postgres
def test_the_documented_shared_instance_steps_work_as_written(tmp_path: Path) -> None:
    setup, server, refresh = _documented_blocks()
    assert setup[0] == "pip install -e '.[postgres]'"
    assert importlib.metadata.version("dagster-postgres") == "0.29.27"  # what that line installs
    assert any(DOC_URL in line for line in setup) and any(DOC_HOME in line for line in setup)
    url = worker_database_url("_docs")
    empty_worker_database(url)
    data = tmp_path / "data"
    subprocess.run([str(BIN / "portfolio-assets"), "sample", str(data)], check=True, capture_output=True)

    # The server, then another host: each sets itself up as the page says.
    server_home, other_home = tmp_path / "server_home", tmp_path / "other_home"
    for home in (server_home, other_home):
        done = _host_shell(setup, home, url)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.splitlines()[-1] == (
            f"Dagster instance ready in {home}: shared, in PostgreSQL {postgres_location(url)}"
        )
        assert not (home / "history").exists()  # no local SQLite instance beside it

    # Someone refreshes from their own shell (the variables exported), from the data folder.
    session = [line for line in setup if line.startswith("export ")]
    assert refresh == ["portfolio-assets refresh"]
    done = _host_shell(session, other_home, url, then=f"cd {shlex.quote(str(data))}\n{refresh[0]}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"materialized {', '.join(ASSET_KEYS)} in 1 run(s)" in done.stdout

    # The server's `dagster dev`, started from the data folder as the page writes it (on
    # 127.0.0.1 and a free port here, not on every address and port 3000), lists that run:
    # the server's DAGSTER_HOME sees the other host's run.
    [command] = server
    words = shlex.split(command)
    assert words[:2] == ["dagster", "dev"] and words[-4:] == ["-h", "0.0.0.0", "-p", "3000"], words
    with running_dagster_dev(data, server_home, location=tuple(words[2:-4]), **{POSTGRES_URL_VARIABLE: url}) as port:
        runs = graphql(port, "{ runsOrError { ... on Runs { results { status tags { key value } } } } }")
    refreshes = [
        run
        for run in runs["runsOrError"]["results"]
        if any(tag["key"] == "portfolio_assets/assets" for tag in run["tags"])
    ]
    assert [run["status"] for run in refreshes] == ["SUCCESS"], runs
