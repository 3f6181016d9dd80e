"""The instance storage the tests run on: local SQLite (the default) or PostgreSQL.

`PORTFOLIO_ASSETS_TEST_STORAGE=postgres` with `PORTFOLIO_ASSETS_TEST_POSTGRES_URL` (the
server, as `.ci/postgres url` prints it) runs every test that uses a Dagster instance on
PostgreSQL: one database per pytest worker, emptied before each test that asks for an
instance. Both the in-process instances (`fresh_instance`) and the DAGSTER_HOME folders
the CLI, `dagster dev` and `dagster asset materialize` read (`write_instance_config`)
follow the choice.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import dagster as dg
import yaml

from portfolio_assets.instance.storage_config import StorageConfig

__all__ = [
    "POSTGRES",
    "STORAGE",
    "empty_worker_database",
    "fresh_instance",
    "instance_config_text",
    "worker_database_url",
    "write_instance_config",
]

PROJECT = Path(__file__).resolve().parents[1]
STORAGE = os.environ.get("PORTFOLIO_ASSETS_TEST_STORAGE", "sqlite")
if STORAGE not in ("sqlite", "postgres"):
    raise ValueError(f"PORTFOLIO_ASSETS_TEST_STORAGE must be sqlite or postgres, not {STORAGE!r}")
POSTGRES = STORAGE == "postgres"
SERVER_URL = os.environ.get(
    "PORTFOLIO_ASSETS_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:54329/postgres"
)
# Tables Dagster's migrations fill once; emptying them would make it migrate again.
_KEPT_TABLES = {"alembic_version", "secondary_indexes"}


def _libpq(url: str) -> str:
    return str(StorageConfig("postgres", url).libpq_url)


def worker_database_url(suffix: str = "") -> str:
    """A database of this pytest worker's own (created on first use), as a SQLAlchemy URL."""
    import psycopg2

    name = f"portfolio_assets_tests_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}{suffix}"
    connection = psycopg2.connect(_libpq(SERVER_URL))
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    return urlunsplit(urlsplit(SERVER_URL)._replace(path="/" + name))


def empty_worker_database(url: str) -> None:
    """Every run, event and cursor gone, the schema kept (creating it costs seconds)."""
    import psycopg2

    connection = psycopg2.connect(_libpq(url))
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        tables = [row[0] for row in cursor.fetchall() if row[0] not in _KEPT_TABLES]
        if tables:
            cursor.execute("TRUNCATE " + ", ".join(f'"{table}"' for table in tables) + " RESTART IDENTITY CASCADE")
    connection.close()


def instance_config_text(database_url: str | None = None) -> str:
    """The project's dagster.yaml, on the chosen storage."""
    config = yaml.safe_load((PROJECT / "dagster_home" / "dagster.yaml").read_text(encoding="utf-8"))
    if POSTGRES:
        config["storage"] = {"postgres": {"postgres_url": database_url or worker_database_url()}}
    return yaml.safe_dump(config, sort_keys=False)


def write_instance_config(home: Path, database_url: str | None = None, empty: bool = True) -> Path:
    """A DAGSTER_HOME at `home` with the project's configuration on the chosen storage
    (on PostgreSQL, the worker's database, emptied unless `empty` is False)."""
    home.mkdir(parents=True, exist_ok=True)
    if POSTGRES:
        database_url = database_url or worker_database_url()
        if empty:
            empty_worker_database(database_url)
    (home / "dagster.yaml").write_text(instance_config_text(database_url), encoding="utf-8")
    return home


@contextmanager
def fresh_instance(temp_dir: str | None = None) -> Iterator[dg.DagsterInstance]:
    """An instance for one test, on the chosen storage and empty."""
    if not POSTGRES:
        with dg.instance_for_test(temp_dir=temp_dir) as instance:
            yield instance
        return
    url = worker_database_url()
    empty_worker_database(url)
    with dg.instance_for_test(
        temp_dir=temp_dir, overrides={"storage": {"postgres": {"postgres_url": url}}}
    ) as instance:
        yield instance
