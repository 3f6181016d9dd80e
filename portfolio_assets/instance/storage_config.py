"""Where an instance keeps its runs and events, read from dagster.yaml without Dagster,
and whether that is where PORTFOLIO_ASSETS_POSTGRES_URL says the shared instance is.

The CLI's fast path and the refresh lock need to know, before Dagster is imported,
whether the instance is local SQLite (files under DAGSTER_HOME) or a PostgreSQL
database shared by several hosts, and for PostgreSQL its connection URL. This reads
the same `storage: postgres:` block dagster-postgres reads (`postgres_url`, or
`postgres_db` with its parts), with `{env: NAME}` values taken from the environment.

A user who sets PORTFOLIO_ASSETS_POSTGRES_URL means the shared instance (docs/operations.md, "A
shared instance"): `check_instance_storage` refuses, with one line, a DAGSTER_HOME that
would keep the instance anywhere else (local SQLite, another database), so nobody works
on a private instance believing it shared; `write_postgres_template` gives a DAGSTER_HOME
without a dagster.yaml the project's PostgreSQL template (dagster_home/postgres.yaml).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import yaml

from ..domain.errors import PortfolioInputError
from ..io.atomic_files import stage_bytes
from ..settings import POSTGRES_URL

__all__ = [
    "POSTGRES_TEMPLATE",
    "POSTGRES_URL_VARIABLE",
    "InstanceStorageMismatch",
    "StorageConfig",
    "check_instance_storage",
    "postgres_location",
    "read_storage_config",
    "shared_database_url",
    "write_postgres_template",
]

# The driver dagster-postgres installs. A bare postgresql:// URL makes SQLAlchemy 2
# choose psycopg 3, which dagster-postgres does not bring.
POSTGRES_SCHEME = "postgresql+psycopg2"
POSTGRES_URL_VARIABLE = POSTGRES_URL.variable
# The project's instance configuration on PostgreSQL, in the checkout the package is
# installed from (`pip install -e`, as the shared-instance steps in docs/operations.md say).
POSTGRES_TEMPLATE = Path(__file__).resolve().parents[2] / "dagster_home" / "postgres.yaml"
_URL_FORM = f"{POSTGRES_SCHEME}://USER:PASSWORD@HOST:5432/DATABASE"


class InstanceStorageMismatch(PortfolioInputError):
    """A DAGSTER_HOME whose dagster.yaml does not keep the instance where the user said,
    or cannot be read as it stands (a variable it reads is not set)."""


@dataclass(frozen=True)
class StorageConfig:
    kind: str  # "sqlite" (files under DAGSTER_HOME), "postgres", or "other"
    postgres_url: str | None = None  # with the driver named, for SQLAlchemy
    # `{env: NAME}` values in the storage block whose variable is not set.
    unset_variables: tuple[str, ...] = ()

    @property
    def libpq_url(self) -> str | None:
        """The URL as psycopg2 itself takes it (no SQLAlchemy driver suffix)."""
        if self.postgres_url is None:
            return None
        scheme, _, rest = self.postgres_url.partition("://")
        return f"postgresql://{rest}" if scheme.startswith("postgres") else self.postgres_url


def _value(raw: Any) -> str:
    if isinstance(raw, dict) and "env" in raw:
        return os.environ.get(str(raw["env"]), "")
    return "" if raw is None else str(raw)


def _unset_variables(block: Any) -> tuple[str, ...]:
    """The variables that `{env: NAME}` values anywhere in `block` name and that are unset."""
    if isinstance(block, dict):
        if set(block) == {"env"}:
            return () if os.environ.get(str(block["env"])) else (str(block["env"]),)
        return tuple(name for value in block.values() for name in _unset_variables(value))
    return ()


def _url_from_parts(parts: dict[str, Any]) -> str:
    user = quote(_value(parts.get("username")))
    password = _value(parts.get("password"))
    userinfo = f"{user}:{quote(password)}" if password else user
    host, port = _value(parts.get("hostname")), _value(parts.get("port")) or "5432"
    scheme = _value(parts.get("scheme")) or POSTGRES_SCHEME
    url = f"{scheme}://{userinfo}@{host}:{port}/{_value(parts.get('db_name'))}"
    params = parts.get("params") or {}
    if params:
        url += "?" + "&".join(f"{key}={_value(value)}" for key, value in params.items())
    return url


def read_storage_config(dagster_home: Path) -> StorageConfig:
    """The storage dagster.yaml in `dagster_home` configures ("sqlite" when none is named)."""
    path = dagster_home / "dagster.yaml"
    if not path.exists():
        return StorageConfig("sqlite")
    config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not any(key in config for key in ("storage", "run_storage", "event_log_storage", "schedule_storage")):
        return StorageConfig("sqlite")
    storage = config.get("storage")
    if isinstance(storage, dict) and set(storage) == {"postgres"} and isinstance(storage["postgres"], dict):
        block = storage["postgres"]
        unset = _unset_variables(block)
        if block.get("postgres_url") is not None:
            return StorageConfig("postgres", _value(block["postgres_url"]), unset)
        if isinstance(block.get("postgres_db"), dict):
            return StorageConfig("postgres", _url_from_parts(block["postgres_db"]), unset)
    return StorageConfig("other")


def postgres_location(url: str) -> str:
    """Which database on which server a PostgreSQL URL names, as libpq reads it (a `host`
    or `port` parameter wins over the URL's own), without user or password:
    "database NAME on HOST:PORT"."""
    try:
        parts = urlsplit(url)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        host = query.get("host") or parts.hostname
        port = query.get("port") or (str(parts.port) if parts.port else "5432")
    except ValueError:  # a port that is not a number, several hosts: show what is there
        return f"the server {url.split('@')[-1]}"
    database = query.get("dbname") or parts.path.lstrip("/") or parts.username or "postgres"
    return f"database {database} on {host}:{port}" if host else f"database {database} on the local socket, port {port}"


def _named(variable: str, value: str) -> str:
    """VARIABLE=value as the user set it, with any password hidden."""
    parts = urlsplit(value)
    if parts.password:
        value = value.replace(f":{parts.password}@", ":***@", 1)
    return f"{variable}={value}"


def shared_database_url() -> str | None:
    """PORTFOLIO_ASSETS_POSTGRES_URL, or None when it is not set; InstanceStorageMismatch
    when it is not a URL SQLAlchemy can open with the driver dagster-postgres brings."""
    wanted = os.environ.get(POSTGRES_URL_VARIABLE)
    if not wanted:
        return None
    if not wanted.startswith(f"{POSTGRES_SCHEME}://"):
        raise InstanceStorageMismatch(
            f"{_named(POSTGRES_URL_VARIABLE, wanted)} is not valid; expected {_URL_FORM} "
            "(name the driver: a bare postgresql:// makes SQLAlchemy look for psycopg 3, which is not installed)"
        )
    return wanted


def check_instance_storage(dagster_home: Path) -> StorageConfig:
    """The instance's storage, once it is sure to be the one the user means: with
    PORTFOLIO_ASSETS_POSTGRES_URL set, PostgreSQL storage in that database; in any case
    none that reads an unset variable. Raises InstanceStorageMismatch otherwise."""
    config_file = dagster_home / "dagster.yaml"
    try:
        storage = read_storage_config(dagster_home)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise InstanceStorageMismatch(f"{config_file}{where}: not valid YAML ({problem})") from None
    if storage.unset_variables:
        names = " and ".join(storage.unset_variables)
        raise InstanceStorageMismatch(
            f"{config_file} reads the PostgreSQL URL from {names}, which is not set here; "
            f"set it ({_URL_FORM}) as on every host of the shared instance"
        )
    wanted = shared_database_url()
    if wanted is None:
        return storage
    if storage.kind != "postgres":
        if not config_file.exists():
            where = f"{dagster_home} has no dagster.yaml, so Dagster would keep the instance in local SQLite there"
            fix = "run `portfolio-assets init` to set up the shared instance"
        else:
            kept = "local SQLite" if storage.kind == "sqlite" else "a storage other than PostgreSQL"
            where = f"{config_file} keeps the instance in {kept}, not in the shared database"
            fix = "copy the project's dagster_home/postgres.yaml over it"
        raise InstanceStorageMismatch(
            f"{POSTGRES_URL_VARIABLE} is set, but {where}; {fix}, or unset the variable to use this instance"
        )
    configured, named = postgres_location(str(storage.postgres_url)), postgres_location(wanted)
    if configured != named:
        raise InstanceStorageMismatch(
            f"{POSTGRES_URL_VARIABLE} names {named}, but {config_file} keeps the instance in {configured}; "
            "make dagster.yaml read the variable (as dagster_home/postgres.yaml does), or unset it"
        )
    return storage


def write_postgres_template(dagster_home: Path) -> bool:
    """Give `dagster_home` the project's PostgreSQL template as its dagster.yaml, unless it
    has a dagster.yaml already (that one is never replaced); True if written."""
    target = dagster_home / "dagster.yaml"
    if target.exists():
        return False
    try:
        template = POSTGRES_TEMPLATE.read_bytes()
    except FileNotFoundError:
        raise InstanceStorageMismatch(
            f"{dagster_home} has no dagster.yaml and the PostgreSQL template {POSTGRES_TEMPLATE} is missing "
            "(the package is not installed from the project's checkout); copy the checkout's "
            f"dagster_home/postgres.yaml to {target}"
        ) from None
    staged = stage_bytes(target, template)
    try:
        os.link(staged, target)  # not os.replace: a dagster.yaml made meanwhile is kept
    except FileExistsError:
        return False
    finally:
        staged.unlink()
    return True
