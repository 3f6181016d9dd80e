"""Where dagster.yaml keeps the instance, and the check that, with
PORTFOLIO_ASSETS_POSTGRES_URL set, it is that database (no server needed: the check reads
files and the environment only). The PostgreSQL template is the project's dagster.yaml
with its storage in PostgreSQL, and a fresh clone has it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from portfolio_assets.instance.storage_config import (
    POSTGRES_TEMPLATE,
    POSTGRES_URL_VARIABLE,
    InstanceStorageMismatch,
    check_instance_storage,
    postgres_location,
    read_storage_config,
    write_postgres_template,
)

PROJECT = Path(__file__).resolve().parents[2]
SQLITE_CONFIG = PROJECT / "dagster_home" / "dagster.yaml"
TEAM_URL = "postgresql+psycopg2://team:s3cret@db.example:5432/portfolio"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(POSTGRES_URL_VARIABLE, raising=False)
    return tmp_path / "dagster_home"


def _with_config(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(text, encoding="utf-8")
    return home


def test_the_template_is_the_projects_dagster_yaml_on_postgresql() -> None:
    template = yaml.safe_load(POSTGRES_TEMPLATE.read_text(encoding="utf-8"))
    local = yaml.safe_load(SQLITE_CONFIG.read_text(encoding="utf-8"))
    assert template.pop("storage") == {"postgres": {"postgres_url": {"env": POSTGRES_URL_VARIABLE}}}
    assert template == local  # the same pool, run monitoring, run launcher and retries


def test_the_template_is_in_the_repository_not_ignored() -> None:
    assert POSTGRES_TEMPLATE == PROJECT / "dagster_home" / "postgres.yaml"
    ignored = subprocess.run(["git", "check-ignore", "-q", str(POSTGRES_TEMPLATE)], cwd=PROJECT)
    assert ignored.returncode == 1, "git ignores dagster_home/postgres.yaml: a clone would not have it"


def test_without_the_variable_any_storage_is_taken_as_configured(home: Path) -> None:
    assert check_instance_storage(home).kind == "sqlite"  # no dagster.yaml
    _with_config(home, SQLITE_CONFIG.read_text(encoding="utf-8"))
    assert check_instance_storage(home).kind == "sqlite"


def test_the_template_reads_the_url_from_the_variable(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(POSTGRES_URL_VARIABLE, TEAM_URL)
    _with_config(home, POSTGRES_TEMPLATE.read_text(encoding="utf-8"))
    storage = check_instance_storage(home)
    assert (storage.kind, storage.postgres_url) == ("postgres", TEAM_URL)
    assert storage.libpq_url == "postgresql://team:s3cret@db.example:5432/portfolio"


@pytest.mark.parametrize("config", [None, "sqlite"], ids=["no dagster.yaml", "sqlite dagster.yaml"])
def test_with_the_variable_set_a_local_instance_is_refused(
    home: Path, monkeypatch: pytest.MonkeyPatch, config: str | None
) -> None:
    monkeypatch.setenv(POSTGRES_URL_VARIABLE, TEAM_URL)
    if config:
        _with_config(home, SQLITE_CONFIG.read_text(encoding="utf-8"))
    with pytest.raises(InstanceStorageMismatch) as raised:
        check_instance_storage(home)
    message = str(raised.value)
    assert message.startswith(f"{POSTGRES_URL_VARIABLE} is set, but {home}")
    assert "local SQLite" in message and "s3cret" not in message and "\n" not in message


def test_with_the_variable_set_another_database_is_refused(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(POSTGRES_URL_VARIABLE, TEAM_URL)
    other = "postgresql+psycopg2://team:s3cret@db.example:5432/scratch"
    _with_config(home, yaml.safe_dump({"storage": {"postgres": {"postgres_url": other}}}))
    with pytest.raises(InstanceStorageMismatch) as raised:
        check_instance_storage(home)
    assert str(raised.value).startswith(
        f"{POSTGRES_URL_VARIABLE} names database portfolio on db.example:5432, but {home / 'dagster.yaml'} "
        "keeps the instance in database scratch on db.example:5432"
    )


def test_the_same_database_written_out_in_dagster_yaml_is_accepted(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(POSTGRES_URL_VARIABLE, TEAM_URL)
    parts = {"username": "team", "password": "s3cret", "hostname": "db.example", "db_name": "portfolio", "port": 5432}
    _with_config(home, yaml.safe_dump({"storage": {"postgres": {"postgres_db": parts}}}))
    assert check_instance_storage(home).kind == "postgres"


def test_a_url_without_the_driver_is_refused_with_its_password_hidden(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(POSTGRES_URL_VARIABLE, "postgresql://team:s3cret@db.example/portfolio")
    _with_config(home, POSTGRES_TEMPLATE.read_text(encoding="utf-8"))
    with pytest.raises(InstanceStorageMismatch) as raised:
        check_instance_storage(home)
    assert str(raised.value).startswith(
        f"{POSTGRES_URL_VARIABLE}=postgresql://team:***@db.example/portfolio is not valid; "
        "expected postgresql+psycopg2://USER:PASSWORD@HOST:5432/DATABASE"
    )


def test_the_template_without_its_variable_is_refused_naming_it(home: Path) -> None:
    _with_config(home, POSTGRES_TEMPLATE.read_text(encoding="utf-8"))
    assert read_storage_config(home).unset_variables == (POSTGRES_URL_VARIABLE,)
    with pytest.raises(InstanceStorageMismatch) as raised:
        check_instance_storage(home)
    assert str(raised.value).startswith(
        f"{home / 'dagster.yaml'} reads the PostgreSQL URL from {POSTGRES_URL_VARIABLE}, which is not set here"
    )


def test_a_dagster_yaml_that_is_not_yaml_is_one_line_with_its_line(home: Path) -> None:
    _with_config(home, "storage:\n  postgres: [\n")
    with pytest.raises(InstanceStorageMismatch) as raised:
        check_instance_storage(home)
    assert str(raised.value).startswith(f"{home / 'dagster.yaml'}, line 3: not valid YAML")


@pytest.mark.parametrize(
    ("url", "location"),
    [
        (TEAM_URL, "database portfolio on db.example:5432"),
        ("postgresql+psycopg2://team@db.example/portfolio", "database portfolio on db.example:5432"),
        ("postgresql+psycopg2://postgres@/tests?host=/tmp/pg&port=54329", "database tests on /tmp/pg:54329"),
        ("postgresql+psycopg2://alice@localhost:6543", "database alice on localhost:6543"),
        ("postgresql+psycopg2:///portfolio", "database portfolio on the local socket, port 5432"),
    ],
)
def test_postgres_location_names_database_and_server_without_credentials(url: str, location: str) -> None:
    assert postgres_location(url) == location


def test_the_template_is_written_only_where_there_is_no_dagster_yaml(home: Path) -> None:
    assert write_postgres_template(home)
    assert (home / "dagster.yaml").read_bytes() == POSTGRES_TEMPLATE.read_bytes()
    _with_config(home, "telemetry:\n  enabled: false\n")
    assert not write_postgres_template(home)
    assert (home / "dagster.yaml").read_text(encoding="utf-8") == "telemetry:\n  enabled: false\n"
    assert sorted(path.name for path in home.iterdir()) == ["dagster.yaml"]  # no temporary file left
