"""Small worlds for the price store's tests: export files written from rows, a match
report naming them, and the store read back as plain sorted rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable

from portfolio_assets.domain.export_rows import ExportChunk, export_rows
from portfolio_assets.domain.exports import EXPORT_HEADER, PlannedExport, export_file_name
from portfolio_assets.domain.reports import MATCH_COLUMNS, MatchRow
from portfolio_assets.incremental.memo import written_stamp
from portfolio_assets.incremental.price_store import StoreSync, prices_table_path, sync_price_store

Row = tuple[str, str]  # (date text, close text)


def export_text(ticker: str, rows: Sequence[Row]) -> str:
    lines = "".join(f"{ticker},D,{day},000000,1,2,0.5,{close},100,0\n" for day, close in rows)
    return f"{EXPORT_HEADER}\n{lines}"


def match_row(ticker: str) -> MatchRow:
    cells = dict.fromkeys(MATCH_COLUMNS, "")
    cells.update(
        symbol=ticker.split(".")[0],
        matched_ticker=ticker,
        stooq_path=f"d/{ticker.lower()}.txt",
        data_status="ok",
        price_rows="1",
        source_file="broker.csv",
    )
    return MatchRow(tuple(cells[name] for name in MATCH_COLUMNS))


class StoreWorld:
    """A prices folder, a metadata folder and a store folder under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.prices = root / "prices"
        self.metadata = root / "metadata"
        self.store = root / "store"
        self.prices.mkdir(parents=True, exist_ok=True)
        self.metadata.mkdir(parents=True, exist_ok=True)
        self.exports: dict[str, list[Row]] = {}
        self.grown: dict[str, tuple[str, str]] = {}
        """What price_exports' manifest would say: an export appended to, and the file it grew from."""

    def write(self, exports: Mapping[str, Sequence[Row]]) -> None:
        """Make the prices folder hold exactly `exports` (the way price_exports would)."""
        for ticker in set(self.exports) - set(exports):
            (self.prices / export_file_name(ticker)).unlink()
        for ticker, rows in exports.items():
            old, path = self.exports.get(ticker), self.prices / export_file_name(ticker)
            if old == list(rows):
                continue
            if old is not None and list(rows[: len(old)]) == old:
                # Rows added at the end, as the daily update brings them.
                before = written_stamp(path)
                with open(path, "a", encoding="utf-8") as handle:
                    handle.write(export_text(ticker, rows[len(old) :]).split("\n", 1)[1])
                self.grown[path.name] = (written_stamp(path), before)
            else:
                path.write_text(export_text(ticker, rows), encoding="utf-8")
                self.grown.pop(path.name, None)
        self.exports = {ticker: list(rows) for ticker, rows in exports.items()}
        report = [",".join(MATCH_COLUMNS)] + [",".join(match_row(t).cells) for t in self.exports]
        (self.metadata / "tradeable_matches.csv").write_text("\n".join(report) + "\n", encoding="utf-8")

    def planned(self) -> list[PlannedExport]:
        return [PlannedExport(export_file_name(t), t, f"d/{t.lower()}.txt", "ok") for t in self.exports]

    def sync(self, force: bool = False) -> StoreSync:
        return sync_price_store(
            self.store,
            self.prices,
            self.planned(),
            [match_row(t) for t in self.exports],
            self.metadata / "price_store.json",
            "1",
            force=force,
            grown=self.grown,
        )

    def stored(self) -> pa.Table:
        return stored_rows(self.store)

    def from_scratch(self) -> pa.Table:
        """What a store built from the exports now holds, without the bookkeeping column."""
        chunks = [
            ExportChunk(t, (self.prices / export_file_name(t)).read_bytes().split(b"\n", 1)[1]) for t in self.exports
        ]
        return export_rows(chunks).sort_by([("ticker", "ascending"), ("line", "ascending")])


def stored_rows(store: Path) -> pa.Table:
    """The prices table's rows (its latest version), sorted, without `batch`."""
    table = DeltaTable(str(prices_table_path(store))).to_pyarrow_table()
    return table.drop_columns(["batch"]).sort_by([("ticker", "ascending"), ("line", "ascending")])
