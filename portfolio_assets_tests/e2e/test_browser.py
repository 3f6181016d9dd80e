"""The asset graph as a user sees it: Debian's Chromium, driven by Playwright, headless.

No browser is downloaded: Playwright drives the `chromium` on PATH (Debian's package,
which `make test` installs when missing: .ci/system-packages). The screenshot is kept in test-artifacts/.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from portfolio_assets.steps.registry import ASSET_KEYS

from ..helpers import ARTIFACTS

pytestmark = pytest.mark.slow

FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def test_asset_graph_shows_the_four_assets(dagster_dev: tuple[int, Path, Path], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed: .ci/system-packages installs it"
    port, _, _ = dagster_dev
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/asset-groups/portfolio@portfolio_assets", timeout=60_000)
            for name in ASSET_KEYS:
                page.get_by_text(name, exact=True).first.wait_for(timeout=60_000)
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "asset-graph.png"), full_page=True)
        finally:
            browser.close()
    assert (ARTIFACTS / "asset-graph.png").stat().st_size > 10_000
