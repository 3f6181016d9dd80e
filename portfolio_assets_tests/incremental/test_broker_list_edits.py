"""Issue 20, item 15: a broker list that grows costs its new rows, and every edit of the lists
(or of the Stooq tree) gives the reports and the change record of a from-scratch run.

The universe and the reports are kept list by list (`incremental/universe_parts.py`,
`incremental/report_parts.py`); random sequences of appends (repeats and rows with commas
and quotes among them), deletions, edits, new, removed and renamed lists, daily updates,
new Stooq files and policy changes are compared, after each, with a run that keeps
nothing: the same universe, reports and data version, and the same changes as
`compare_reports` of the reports before and after."""

from __future__ import annotations

import csv
import io
import os
import random
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portfolio_assets.domain.changes import compare_reports
from portfolio_assets.domain.errors import BrokerListError
from portfolio_assets.domain.reports import Reports, read_match_report, read_unmatched_report
from portfolio_assets.settings import Settings, settings_from_environment
from portfolio_assets.steps.match_report import ReportResult, build_match_reports
from portfolio_assets.steps.stooq_index import build_stooq_index
from portfolio_assets.steps.tradeable_universe import UniverseResult, build_universe

from ..helpers import STOOQ_HEADER, stooq_rows

DAYS = ["20240102", "20240103", "20240104"]
FILES = {
    "d_us_txt/data/daily/us/nasdaq stocks/1/aapl.us.txt": "AAPL.US",
    "d_us_txt/data/daily/us/nyse stocks/2/kim.us.txt": "KIM.US",
    "d_us_txt/data/daily/us/nasdaq stocks/1/msft.us.txt": "MSFT.US",
    "d_uk_txt/data/daily/uk/lse etfs/1/iuhc.uk.txt": "IUHC.UK",
    "d_pl_txt/data/daily/pl/wse stocks/exm.txt": "EXM",
}
NEW_FILES = {
    "d_us_txt/data/daily/us/nasdaq stocks/0/aapl.us.txt": "AAPL.US",  # sorts first: AAPL moves to it
    "d_us_txt/data/daily/us/nasdaq stocks/3/nope.us.txt": "NOPE.US",
    "d_de_txt/data/daily/de/xetra/sap.de.txt": "SAP.DE",
}
HEADERS = ("market,isin,symbol,name", "Market,ISIN,Symbol,Name,Currency,AUM", "market,isin,symbol,name,currency")
INSTRUMENTS = [
    ("NSQ", "US0378331005", "AAPL", "Apple"),
    ("NSQ", "US5949181045", "MSFT", "Microsoft, Corp."),
    ("NEW YORK STOCK EXCHANGE (USD) USA-NYSE KIMCO", "US49446R1095", "KIM:US", 'KIMCO "REALTY"'),
    ("GBR-LSE", "IE00B43HR379", "IUHC:LN", "ISHARES HEALTH"),
    ("GPW", "PLEXM", "EXM", "Exm"),
    ("NSQ", "US000", "NOPE", "Nothing yet"),
    ("XETRA", "DE0007164600", "SAP", "SAP"),
    ("", "", "ZZZ", "No market"),
]


def _row(header: str, instrument: tuple[str, str, str, str], rng: random.Random) -> list[str]:
    market, isin, symbol, name = instrument
    currency = rng.choice(["USD", "GBP", "", "PLN"])
    return {
        HEADERS[0]: [market, isin, symbol, name],
        HEADERS[1]: [market, isin, symbol, name, currency, rng.choice(["", "12.5"])],
        HEADERS[2]: [market, isin, symbol, name, currency],
    }[header]


def _csv(rows: list[list[str]], line_end: str = "\n") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=line_end).writerows(rows)
    return buffer.getvalue()


class World:
    """Stooq files and broker lists edited as a user edits them; every edit moves the clock."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lists = root / "tradeable_instruments"
        self.saved: dict[str, bytes] = {}
        self.grew = False
        """Whether the last edit only appended rows to a list that ended with a line break."""
        self.clock = 1_700_000_000_000_000_000
        for relative, ticker in FILES.items():
            self.write(root / "data/stooq" / relative, stooq_rows(ticker, DAYS) if ticker != "EXM" else STOOQ_HEADER)
        rng = random.Random(1)
        for number, header in enumerate(HEADERS):
            rows = [header.split(",")] + [_row(header, rng.choice(INSTRUMENTS), rng) for _ in range(6)]
            self.write(self.lists / f"broker_{'abc'[number]}.csv", _csv(rows))

    def write(self, path: Path, text: str, mode: str = "w") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, mode, encoding="utf-8", newline="") as handle:
            handle.write(text)
        self.clock += 1_000_000_000
        os.utime(path, ns=(self.clock, self.clock))

    def list_paths(self) -> list[Path]:
        return sorted(self.lists.glob("*.csv"))

    def undo(self) -> None:
        """Put the lists back as they were before the last edit."""
        for path in self.list_paths():
            path.unlink()
        for name, data in self.saved.items():
            self.write(self.lists / name, data.decode("utf-8"))

    def edit(self, operation: str, seed: int) -> None:
        self.saved = {path.name: path.read_bytes() for path in self.list_paths()}
        rng = random.Random(seed)
        path = rng.choice(self.list_paths())
        text = path.read_text(encoding="utf-8")
        header = text.splitlines()[0]
        rows = list(csv.reader(io.StringIO(text)))
        self.grew = operation in ("append", "repeat", "daily_update_and_append") and text.endswith("\n")
        if operation in ("append", "append_many"):
            count = rng.randint(1, 3) if operation == "append" else 250  # over the limit matched without the cache
            new = [_row(header, rng.choice(INSTRUMENTS), rng) for _ in range(count)]
            self.write(path, _csv(new, "\r\n" if rng.random() < 0.2 else "\n"), mode="a")
        elif operation == "repeat":  # an exact repeat of a row already there: its second occurrence
            self.write(path, _csv([rng.choice(rows[1:] or [rows[0]])]), mode="a")
        elif operation == "delete" and len(rows) > 1:
            del rows[rng.randrange(1, len(rows))]
            self.write(path, _csv(rows))
        elif operation == "edit" and len(rows) > 1:
            rows[rng.randrange(1, len(rows))] = _row(header, rng.choice(INSTRUMENTS), rng)
            self.write(path, _csv(rows))
        elif operation == "no_last_line_break":
            self.write(path, text.rstrip("\r\n"))
        elif operation == "new_list":
            new_header = rng.choice(HEADERS)
            rows = [new_header.split(",")] + [_row(new_header, rng.choice(INSTRUMENTS), rng) for _ in range(3)]
            self.write(self.lists / f"broker_{rng.choice(['0', 'd', 'z', ', quoted'])}{seed % 7}.csv", _csv(rows))
        elif operation == "remove_list" and len(self.list_paths()) > 1:
            path.unlink()
        elif operation == "rename_list":
            path.rename(self.lists / f"renamed_{seed % 5}.csv")
        elif operation == "daily_update_and_append":
            grew = self.grew
            self.edit("daily_update", seed)
            self.write(path, _csv([_row(header, rng.choice(INSTRUMENTS), rng)]), mode="a")
            self.grew = grew
        elif operation == "daily_update":
            for relative in rng.sample(sorted(FILES), 2):
                ticker = FILES[relative]
                self.write(
                    self.root / "data/stooq" / relative,
                    f"{ticker},D,2024010{rng.randint(5, 9)},000000,1,2,0.5,3,0,0\n",
                    mode="a",
                )
        elif operation == "new_stooq_file":
            relative = rng.choice(sorted(NEW_FILES))
            self.write(self.root / "data/stooq" / relative, stooq_rows(NEW_FILES[relative], DAYS))


def _build(settings: Settings, run_id: str | None = None) -> tuple[UniverseResult, ReportResult]:
    build_stooq_index(settings)
    return build_universe(settings), build_match_reports(settings, run_id=run_id)


def _from_scratch(settings: Settings, scratch: Path) -> tuple[dict[str, bytes], str]:
    shutil.rmtree(scratch, ignore_errors=True)
    fresh = replace(settings, metadata_dir=scratch)
    _, report = _build(fresh)
    outputs = {
        p.name: p.read_bytes() for p in (fresh.universe_path, fresh.match_report_path, fresh.unmatched_report_path)
    }
    return outputs, report.data_version


def _outputs(settings: Settings) -> dict[str, bytes]:
    return {
        p.name: p.read_bytes()
        for p in (settings.universe_path, settings.match_report_path, settings.unmatched_report_path)
    }


def _reports(settings: Settings) -> Reports:
    return Reports(read_match_report(settings.match_report_path), read_unmatched_report(settings.unmatched_report_path))


OPERATIONS = st.sampled_from(
    [
        "append",
        "append",
        "append_many",
        "repeat",
        "delete",
        "edit",
        "no_last_line_break",
        "new_list",
        "remove_list",
        "rename_list",
        "daily_update",
        "daily_update_and_append",
        "new_stooq_file",
        "policy",
    ]
)


# Slow (seconds of examples): in `make test`, not in the fast layer.
@pytest.mark.slow
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(OPERATIONS, st.integers(0, 10**6)), min_size=1, max_size=6))
def test_any_edits_give_the_outputs_and_changes_of_a_run_from_scratch(
    world_root: Callable[[], Path], monkeypatch: pytest.MonkeyPatch, edits: list[tuple[str, int]]
) -> None:
    root = world_root()
    monkeypatch.chdir(root)
    world = World(root)
    settings = settings_from_environment()
    _build(settings)
    for operation, seed in edits:
        if operation == "policy":
            settings = replace(settings, lse_currency_policy=random.Random(seed).choice(["broker", "stooq", "strict"]))
        else:
            world.edit(operation, seed)
        before = _reports(settings)
        try:
            universe, report = _build(settings)
        except BrokerListError as error:  # rows appended to a last line left open, say: as a first read says
            with pytest.raises(BrokerListError) as first:
                _from_scratch(settings, root / "scratch")
            assert str(first.value) == str(error)
            world.undo()
            continue
        expected, data_version = _from_scratch(settings, root / "scratch")
        assert _outputs(settings) == expected, operation
        assert report.data_version == data_version
        assert report.changes == compare_reports(before, _reports(settings)), operation
        if world.grew and operation not in ("policy", "append_many"):
            assert universe.stats["instruments_parsed"] <= 3 and report.stats["instruments_read"] <= 3


@pytest.fixture
def world_root(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Callable[[], Path]:
    """A new empty folder for each example, with no PORTFOLIO_ASSETS_* setting."""
    for variable in [name for name in os.environ if name.startswith("PORTFOLIO_ASSETS_")]:
        monkeypatch.delenv(variable)
    return lambda: tmp_path_factory.mktemp("edits")


def test_a_list_edited_into_an_error_fails_as_a_first_read_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    world = World(tmp_path)
    settings = settings_from_environment()
    _build(settings)
    broker = tmp_path / "tradeable_instruments/broker_a.csv"
    world.write(broker, 'NSQ,US1,"BROKEN,quote\n', mode="a")  # an appended row that never closes its quote
    with pytest.raises(BrokerListError) as appended:
        build_universe(settings)
    shutil.rmtree(settings.metadata_dir)
    with pytest.raises(BrokerListError) as first:
        build_universe(settings)
    assert str(appended.value) == str(first.value) and "broker_a.csv" in str(first.value)


def _long_list(rows: int, seed: int = 5) -> str:
    """A broker list in SPEC 1.2's third style: some rows name the world's files, most do not."""
    rng = random.Random(seed)
    lines = [["market", "isin", "symbol", "name", "currency"]]
    for number in range(rows):
        if number % 10 == 0:
            market, isin, symbol, name = rng.choice(INSTRUMENTS)
        else:
            market, isin, symbol, name = (
                "NASDAQ (USD) USA-NASDAQ",
                f"US{number:010d}",
                f"Q{number:06d}:US",
                "FUND, INC.",
            )
        lines.append([market, isin, symbol, name, "USD"])
    return _csv(lines)


def test_a_row_appended_to_a_list_of_twenty_thousand_costs_that_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    world = World(tmp_path)
    world.write(world.lists / "broker_long.csv", _long_list(20_000))
    settings = settings_from_environment()
    universe, report = _build(settings)
    assert universe.stats["instruments_parsed"] == universe.instrument_count > 20_000
    before = _reports(settings)
    world.write(world.lists / "broker_long.csv", "NSQ,US5949181045,MSFT,Microsoft,USD\n", mode="a")
    universe, report = _build(settings)
    assert universe.stats == {"instruments_parsed": 1, "lists_read_whole": 0, "lists_grown": 1}
    assert report.stats["instruments_read"] == 1 and report.stats["instruments_rematched"] == 1
    assert report.stats["report_rows_made"] == 1 and report.stats["report_rows_refreshed"] == 0
    assert report.stats["stooq_files_read"] == 0  # MSFT's file is matched already, by another list's rows
    assert report.changes.counts.summary() == "1 added"
    assert report.changes == compare_reports(before, _reports(settings))
    expected, data_version = _from_scratch(settings, tmp_path / "scratch")
    assert _outputs(settings) == expected and report.data_version == data_version
