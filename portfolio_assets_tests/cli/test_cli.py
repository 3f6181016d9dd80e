"""The shell entry points as a user runs them: `portfolio-assets` and `dagster` commands."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from ..helpers import BIN, output_files

pytestmark = pytest.mark.slow


def run(
    args: list[str], cwd: Path, home: Path, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`args` run in `cwd` on DAGSTER_HOME `home`, with the variables `env` and no other PORTFOLIO_ASSETS_*."""
    home.mkdir(exist_ok=True)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PORTFOLIO_ASSETS_")}
    environment.update(DAGSTER_HOME=str(home), **(env or {}))
    completed = subprocess.run(args, cwd=cwd, env=environment, capture_output=True, text=True, timeout=300)
    if check:
        assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sample")
    run([str(BIN / "portfolio-assets"), "sample", str(root)], cwd=root, home=root / ".home")
    return root


def test_dagster_cli_materialize_equals_refresh(sample: Path, tmp_path: Path) -> None:
    shell = tmp_path / "shell"
    refreshed = tmp_path / "refreshed"
    for target in (shell, refreshed):
        target.mkdir()
        os.symlink(sample / "data" / "stooq", target / "stooq")
        os.symlink(sample / "tradeable_instruments", target / "tradeable_instruments")
    settings = {"PORTFOLIO_ASSETS_STOOQ_DIR": "stooq"}
    run(
        [str(BIN / "dagster"), "asset", "materialize", "--select", "*", "-m", "portfolio_assets"],
        cwd=shell,
        home=tmp_path / "home1",
        env=settings,
    )
    first = run([str(BIN / "portfolio-assets"), "refresh"], cwd=refreshed, home=tmp_path / "home2", env=settings)
    assert "materialized stooq_index, tradeable_universe, match_report, price_exports" in first.stdout
    outputs = output_files(shell)
    assert outputs == output_files(refreshed)
    assert sum(name.startswith("data/processed/tradeable_prices/") for name in outputs) > 10


def test_status_and_refresh_from_the_shell(sample: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {
        "PORTFOLIO_ASSETS_STOOQ_DIR": str(sample / "data/stooq"),
        "PORTFOLIO_ASSETS_TRADEABLE_DIR": str(tmp_path / "lists"),
    }
    (tmp_path / "lists").mkdir()
    for path in (sample / "tradeable_instruments").iterdir():
        (tmp_path / "lists" / path.name).write_bytes(path.read_bytes())
    status = json.loads(run([str(BIN / "portfolio-assets"), "status", "--json"], tmp_path, home, env=env).stdout)
    assert [(a["key"], a["status"]) for a in status["assets"]] == [
        ("stooq_index", "missing"),
        ("tradeable_universe", "missing"),
        ("match_report", "missing"),
        ("price_exports", "missing"),
        ("price_store", "missing"),
    ]
    run([str(BIN / "portfolio-assets"), "refresh"], tmp_path, home, env=env)
    again = run([str(BIN / "portfolio-assets"), "refresh"], tmp_path, home, env=env)
    assert "nothing is stale: no run launched" in again.stdout
    with open(tmp_path / "lists" / "broker_b_etf.csv", "a", encoding="utf-8") as handle:
        handle.write("GBR-LSE,IE00B4L5Y983,IWDA:LN,ISHARES CORE MSCI WORLD,USD,,,,\n")
    text = run([str(BIN / "portfolio-assets"), "status"], tmp_path, home, env=env).stdout
    assert "broker list broker_b_etf.csv changed" in text
    changed = run(
        [str(BIN / "portfolio-assets"), "refresh", "--lse-currency-policy", "strict"], tmp_path, home, env=env
    ).stdout
    assert "materializing tradeable_universe (stale): broker list broker_b_etf.csv changed" in changed
    assert "stooq_index" not in changed
    policy = json.loads(run([str(BIN / "portfolio-assets"), "status", "--json"], tmp_path, home, env=env).stdout)
    match = next(a for a in policy["assets"] if a["key"] == "match_report")
    assert match == {
        "key": "match_report",
        "status": "stale",
        "causes": ["setting lse_currency_policy changed from strict to broker"],
        "notes": [],
    }


def test_refresh_fails_clearly_on_a_bad_broker_list(sample: Path, tmp_path: Path) -> None:
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "broken.csv").write_bytes(b"symbol,name\nAB\xff,bad\n")
    env = {
        "PORTFOLIO_ASSETS_STOOQ_DIR": str(sample / "data/stooq"),
        "PORTFOLIO_ASSETS_TRADEABLE_DIR": str(tmp_path / "lists"),
    }
    failed = run([str(BIN / "portfolio-assets"), "refresh"], tmp_path, tmp_path / "home", check=False, env=env)
    assert failed.returncode == 1
    assert "broken.csv, line 2" in failed.stderr and "not valid UTF-8" in failed.stderr


def test_invalid_setting_is_named(tmp_path: Path) -> None:
    failed = run(
        [str(BIN / "portfolio-assets"), "status"],
        tmp_path,
        tmp_path / "home",
        check=False,
        env={"PORTFOLIO_ASSETS_INCLUDE_EMPTY": "perhaps"},
    )
    assert failed.returncode != 0 and "PORTFOLIO_ASSETS_INCLUDE_EMPTY" in failed.stderr


def test_definitions_validate(tmp_path: Path) -> None:
    run([str(BIN / "dagster"), "definitions", "validate", "-m", "portfolio_assets"], tmp_path, tmp_path / "home")
