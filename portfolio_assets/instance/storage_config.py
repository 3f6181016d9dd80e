"""Where an instance keeps its runs and events, read from dagster.yaml without Dagster.

The CLI's fast path and the refresh lock need to know, before Dagster is imported,
whether the instance is local SQLite (files under DAGSTER_HOME) or a PostgreSQL
database shared by several hosts, and for PostgreSQL its connection URL. This reads
the same `storage: postgres:` block dagster-postgres reads (`postgres_url`, or
`postgres_db` with its parts), with `{env: NAME}` values taken from the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

__all__ = ["StorageConfig", "read_storage_config"]

# The driver dagster-postgres installs. A bare postgresql:// URL makes SQLAlchemy 2
# choose psycopg 3, which dagster-postgres does not bring.
POSTGRES_SCHEME = "postgresql+psycopg2"


@dataclass(frozen=True)
class StorageConfig:
    kind: str  # "sqlite" (files under DAGSTER_HOME), "postgres", or "other"
    postgres_url: str | None = None  # with the driver named, for SQLAlchemy

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
        if block.get("postgres_url") is not None:
            return StorageConfig("postgres", _value(block["postgres_url"]))
        if isinstance(block.get("postgres_db"), dict):
            return StorageConfig("postgres", _url_from_parts(block["postgres_db"]))
    return StorageConfig("other")
