"""The Stooq index (SPEC 1.1 and the index row of SPEC 2): which files count, and their cells."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from portfolio_assets.domain.stooq_tree import (
    INDEX_COLUMNS,
    build_index,
    index_entry,
    render_index,
    scan_stooq_tree,
)

from .reference import stooq_paths


def _touch(root: Path, relative_path: str, text: str = "") -> Path:
    path = root / relative_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _scanned_paths(root: Path) -> list[str]:
    return [item.relative_path for item in scan_stooq_tree(root)]


@pytest.mark.parametrize(
    ("relative_path", "ticker", "region", "category"),
    [
        ("d_us_txt/data/daily/us/nasdaq stocks/1/aapl.us.txt", "AAPL.US", "us", "nasdaq stocks/1"),
        ("d_uk_txt/data/daily/uk/lse etfs/2/vwrl.uk.txt", "VWRL.UK", "uk", "lse etfs/2"),
        ("d_pl_txt/data/daily/pl/nc stocks/exm.txt", "EXM", "pl", "nc stocks"),
        ("d_us_txt/data/daily/us/nyse etfs/spy.us.txt", "SPY.US", "us", "nyse etfs"),
        ("d_world_txt/data/daily/world/currencies/major/eurusd.txt", "EURUSD", "world", "currencies/major"),
        ("d_us_txt/data/daily/us/aapl.us.txt", "AAPL.US", "us", ""),
        ("d_uk_txt/data/daily/uk/lse etfs/2/VWRL.UK.TXT", "VWRL.UK", "uk", "lse etfs/2"),
        ("d_us_txt/data/daily/us/nasdaq stocks/1/Msft.Us.Txt", "MSFT.US", "us", "nasdaq stocks/1"),
        # no `daily` part: region = first part, category = the parts between first and last
        ("custom/world indices/major/spx.txt", "SPX", "custom", "world indices/major"),
        ("custom/spx.txt", "SPX", "custom", ""),
        ("my data/us/nasdaq stocks/1/aapl.us.txt", "AAPL.US", "my data", "us/nasdaq stocks/1"),
    ],
)
def test_index_entry_cells(relative_path: str, ticker: str, region: str, category: str) -> None:
    entry = index_entry(relative_path)
    assert entry.as_row() == (ticker, ticker, relative_path, region, category)


@pytest.mark.parametrize(
    ("relative_path", "counted"),
    [
        ("d_us_txt/data/daily/us/nasdaq stocks/1/aapl.us.txt", True),
        ("d_pl_txt/data/daily/pl/nc stocks/exm.txt", True),
        ("d_uk_txt/data/daily/uk/lse etfs/2/VWRL.UK.TXT", True),
        ("d_us_txt/data/daily/us/nyse stocks/1/ibm.us.Txt", True),
        ("d_us_txt/data/daily/us/nasdaq stocks/1/aapl.us.csv", False),
        ("d_us_txt/data/daily/us/nasdaq stocks/1/aapl.us.txt.bak", False),
        ("d_us_txt/data/daily/us/nasdaq stocks/1/readme", False),
        ("d_us_txt/data/daily/us/nasdaq stocks/1/.hidden.us.txt", False),
        ("d_us_txt/data/daily/us/.nasdaq stocks/1/aapl.us.txt", False),
        (".cache/d_us_txt/data/daily/us/nasdaq stocks/1/aapl.us.txt", False),
        ("d_us_txt/.git/daily/us/x.us.txt", False),
    ],
)
def test_which_files_count(tmp_path: Path, relative_path: str, counted: bool) -> None:
    _touch(tmp_path, relative_path)
    assert _scanned_paths(tmp_path) == ([relative_path] if counted else [])


def test_symlinked_folder_is_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "stooq"
    outside = tmp_path / "outside"
    _touch(outside, "daily/us/nasdaq stocks/aapl.us.txt")
    _touch(root, "d_us_txt/data/daily/us/nyse stocks/ibm.us.txt")
    os.symlink(outside, root / "d_linked_txt", target_is_directory=True)
    assert _scanned_paths(root) == ["d_us_txt/data/daily/us/nyse stocks/ibm.us.txt"]


def test_symlinked_file_is_not_counted(tmp_path: Path) -> None:
    root = tmp_path / "stooq"
    real = _touch(tmp_path, "elsewhere/aapl.us.txt")
    _touch(root, "d_us_txt/data/daily/us/nyse stocks/ibm.us.txt")
    os.symlink(real, root / "d_us_txt/data/daily/us/nyse stocks/aapl.us.txt")
    assert _scanned_paths(root) == ["d_us_txt/data/daily/us/nyse stocks/ibm.us.txt"]


def test_symlink_loop_does_not_hang_the_scan(tmp_path: Path) -> None:
    _touch(tmp_path, "d_us_txt/data/daily/us/nyse stocks/ibm.us.txt")
    os.symlink(tmp_path / "d_us_txt", tmp_path / "d_us_txt/data/loop", target_is_directory=True)
    assert _scanned_paths(tmp_path) == ["d_us_txt/data/daily/us/nyse stocks/ibm.us.txt"]


def test_same_ticker_in_two_folders_gives_two_index_rows(tmp_path: Path) -> None:
    _touch(tmp_path, "d_us_txt/data/daily/us/nyse stocks/2/abc.us.txt")
    _touch(tmp_path, "d_us_txt/data/daily/us/nasdaq stocks/1/abc.us.txt")
    entries = build_index(stooq_paths(tmp_path))
    assert [entry.as_row() for entry in entries] == [
        ("ABC.US", "ABC.US", "d_us_txt/data/daily/us/nasdaq stocks/1/abc.us.txt", "us", "nasdaq stocks/1"),
        ("ABC.US", "ABC.US", "d_us_txt/data/daily/us/nyse stocks/2/abc.us.txt", "us", "nyse stocks/2"),
    ]


def test_index_rows_are_sorted_by_relative_path_text(tmp_path: Path) -> None:
    # Sorted as text: " " < "-" < "/" < "0" < "A" < "a".
    paths = [
        "a/x.txt",
        "a b/z.txt",
        "a-b/y.txt",
        "a0/w.txt",
        "d/daily/us/nyse stocks/2/b.us.txt",
        "d/daily/us/nyse stocks/10/c.us.txt",
        "B/v.txt",
    ]
    for path in reversed(paths):
        _touch(tmp_path, path)
    assert _scanned_paths(tmp_path) == sorted(paths)
    assert _scanned_paths(tmp_path) == [
        "B/v.txt",
        "a b/z.txt",
        "a-b/y.txt",
        "a/x.txt",
        "a0/w.txt",
        "d/daily/us/nyse stocks/10/c.us.txt",
        "d/daily/us/nyse stocks/2/b.us.txt",
    ]


def test_scan_reads_header_only_and_zero_byte_files_alike(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        "d_us_txt/data/daily/us/nyse stocks/gone.us.txt",
        "<TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>\n",
    )
    _touch(tmp_path, "d_us_txt/data/daily/us/nyse stocks/zero.us.txt", "")
    assert [entry.ticker for entry in build_index(stooq_paths(tmp_path))] == ["GONE.US", "ZERO.US"]


def test_rendered_index_columns_and_cells(tmp_path: Path) -> None:
    _touch(tmp_path, "d_uk_txt/data/daily/uk/lse etfs/2/vwrl.uk.txt")
    _touch(tmp_path, "d_pl_txt/data/daily/pl/nc stocks/exm.txt")
    _touch(tmp_path, "d_us_txt/data/daily/us/nasdaq stocks/1/aapl.us.txt")
    text = render_index(build_index(stooq_paths(tmp_path)))
    assert INDEX_COLUMNS == ("ticker", "stem", "relative_path", "region", "category")
    assert text.splitlines() == [
        "ticker,stem,relative_path,region,category",
        "EXM,EXM,d_pl_txt/data/daily/pl/nc stocks/exm.txt,pl,nc stocks",
        "VWRL.UK,VWRL.UK,d_uk_txt/data/daily/uk/lse etfs/2/vwrl.uk.txt,uk,lse etfs/2",
        "AAPL.US,AAPL.US,d_us_txt/data/daily/us/nasdaq stocks/1/aapl.us.txt,us,nasdaq stocks/1",
    ]


def test_rendered_index_quotes_a_path_with_a_comma(tmp_path: Path) -> None:
    _touch(tmp_path, "d_us_txt/data/daily/us/odd, folder/abc.us.txt")
    text = render_index(build_index(stooq_paths(tmp_path)))
    assert text.splitlines()[1] == ('ABC.US,ABC.US,"d_us_txt/data/daily/us/odd, folder/abc.us.txt",us,"odd, folder"')


def test_empty_tree_gives_header_only_index(tmp_path: Path) -> None:
    assert render_index(build_index(stooq_paths(tmp_path))).splitlines() == [
        "ticker,stem,relative_path,region,category"
    ]


def test_a_file_name_that_is_not_utf8_is_an_error_naming_it(tmp_path: Path) -> None:
    from portfolio_assets.domain.stooq_tree import UndecodableFileName

    folder = os.path.join(os.fsencode(tmp_path), b"d_us_txt/data/daily/us/caf\xe9")
    os.makedirs(folder)
    with open(os.path.join(folder, b"x\xff.us.txt"), "w") as handle:
        handle.write("")
    with pytest.raises(UndecodableFileName, match=r"caf\\xe9/x\\xff\.us\.txt.*not valid UTF-8"):
        scan_stooq_tree(tmp_path)
