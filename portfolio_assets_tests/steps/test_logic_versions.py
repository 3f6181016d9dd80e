"""A rule cannot change silently: each step's logic version is pinned together with a hash
of the code its result depends on (its step module and every module of the domain,
incremental and steps layers it imports, directly or not, but for NOT_RESULTS below:
the registry, the plain metadata and check kinds, what every step shares to find its
inputs, and the error messages). Changing that code without bumping the step's logic
version fails here, naming the version to bump.

Comments, docstrings and formatting are not hashed (the code is compared as parsed), so
only a change of code counts. When a change of code leaves every output the same for
the same inputs (a refactoring), update the pins instead of the version: print them
with `python -m portfolio_assets_tests.steps.test_logic_versions`.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

from portfolio_assets.steps.registry import ASSET_KEYS, get_asset

PACKAGE = Path(__file__).resolve().parents[2] / "portfolio_assets"

# Layers whose code decides what a step writes. io (atomic writes, the worker pool) and
# the layers above steps change how, never what.
RESULT_LAYERS = ("domain", "incremental", "steps")
# Modules of those layers that shape no output: the versions themselves, metadata and
# checks shown in the UI, error messages, and what every step shares to find its inputs.
NOT_RESULTS = {
    "domain/errors.py",
    "steps/registry.py",
    "steps/asset_metadata.py",
    "steps/asset_checks.py",
    "steps/common.py",
}

# step: (logic version, {module: hash of its code}) as last reviewed.
PINNED: dict[str, tuple[str, dict[str, str]]] = {
    "match_report": (
        "1",
        {
            "domain/broker_lists.py": "be992b8992cb",
            "domain/changes.py": "64db4853978b",
            "domain/csv_files.py": "a65cdd099185",
            "domain/currency.py": "33ed0c4020fa",
            "domain/diagnostics.py": "464fca13ab59",
            "domain/exports.py": "97a3161f754e",
            "domain/matching.py": "490f3a5fd972",
            "domain/price_files.py": "e5a09f443996",
            "domain/price_lag.py": "c8d8c40b35f9",
            "domain/price_scan.py": "2d614bce2b75",
            "domain/reports.py": "6df2071e0539",
            "domain/stooq_archives.py": "e75bf6ac37b0",
            "domain/stooq_tree.py": "4fc3b5a81394",
            "incremental/change_history.py": "5f2f9edce904",
            "incremental/consistency.py": "5a00d1e7f337",
            "incremental/diagnostics_cache.py": "67f657f602ce",
            "incremental/export_folder.py": "55c647d0cf0a",
            "incremental/file_summaries.py": "7f7258289d22",
            "incremental/fingerprints.py": "c0b687d4e31f",
            "incremental/json_cache.py": "3463bab2bc81",
            "incremental/match_cache.py": "d2a846427bce",
            "incremental/memo.py": "56a21728a461",
            "incremental/metadata_files.py": "5eca6a5b2066",
            "incremental/report_parts.py": "0dbc87f013a9",
            "incremental/stooq_sources.py": "646d9dfa552f",
            "incremental/universe_parts.py": "b1643ac513c7",
            "steps/match_changes.py": "cae0cab63254",
            "steps/match_report.py": "b3fb2c106338",
            "steps/match_report_parts.py": "fcf57f3650ae",
        },
    ),
    "price_exports": (
        "1",
        {
            "domain/broker_lists.py": "be992b8992cb",
            "domain/csv_files.py": "a65cdd099185",
            "domain/currency.py": "33ed0c4020fa",
            "domain/diagnostics.py": "464fca13ab59",
            "domain/exports.py": "97a3161f754e",
            "domain/matching.py": "490f3a5fd972",
            "domain/price_files.py": "e5a09f443996",
            "domain/price_scan.py": "2d614bce2b75",
            "domain/reports.py": "6df2071e0539",
            "domain/stooq_archives.py": "e75bf6ac37b0",
            "domain/stooq_tree.py": "4fc3b5a81394",
            "incremental/consistency.py": "5a00d1e7f337",
            "incremental/export_folder.py": "55c647d0cf0a",
            "incremental/export_sync.py": "10ac343793d9",
            "incremental/file_summaries.py": "7f7258289d22",
            "incremental/fingerprints.py": "c0b687d4e31f",
            "incremental/json_cache.py": "3463bab2bc81",
            "incremental/memo.py": "56a21728a461",
            "incremental/metadata_files.py": "5eca6a5b2066",
            "incremental/report_parts.py": "0dbc87f013a9",
            "incremental/stooq_sources.py": "646d9dfa552f",
            "incremental/universe_parts.py": "b1643ac513c7",
            "steps/price_exports.py": "15bcc77e43e6",
        },
    ),
    "price_store": (
        "1",
        {
            "domain/broker_lists.py": "be992b8992cb",
            "domain/csv_files.py": "a65cdd099185",
            "domain/currency.py": "33ed0c4020fa",
            "domain/diagnostics.py": "464fca13ab59",
            "domain/export_rows.py": "16ad90f5d704",
            "domain/exports.py": "97a3161f754e",
            "domain/matching.py": "490f3a5fd972",
            "domain/price_files.py": "e5a09f443996",
            "domain/price_scan.py": "2d614bce2b75",
            "domain/reports.py": "6df2071e0539",
            "domain/stooq_archives.py": "e75bf6ac37b0",
            "domain/stooq_tree.py": "4fc3b5a81394",
            "incremental/export_folder.py": "55c647d0cf0a",
            "incremental/export_sync.py": "10ac343793d9",
            "incremental/file_summaries.py": "7f7258289d22",
            "incremental/fingerprints.py": "c0b687d4e31f",
            "incremental/json_cache.py": "3463bab2bc81",
            "incremental/memo.py": "56a21728a461",
            "incremental/metadata_files.py": "5eca6a5b2066",
            "incremental/price_store.py": "ad18936f35c0",
            "incremental/stooq_sources.py": "646d9dfa552f",
            "incremental/store_record.py": "cf305be6e619",
            "steps/price_store.py": "158f902de1da",
        },
    ),
    "stooq_index": (
        "2",
        {
            "domain/broker_lists.py": "be992b8992cb",
            "domain/csv_files.py": "a65cdd099185",
            "domain/stooq_archives.py": "e75bf6ac37b0",
            "domain/stooq_tree.py": "4fc3b5a81394",
            "incremental/fingerprints.py": "c0b687d4e31f",
            "incremental/memo.py": "56a21728a461",
            "steps/stooq_index.py": "3123996e9434",
        },
    ),
    "tradeable_universe": (
        "1",
        {
            "domain/broker_lists.py": "be992b8992cb",
            "domain/csv_files.py": "a65cdd099185",
            "domain/stooq_archives.py": "e75bf6ac37b0",
            "domain/stooq_tree.py": "4fc3b5a81394",
            "incremental/fingerprints.py": "c0b687d4e31f",
            "incremental/json_cache.py": "3463bab2bc81",
            "incremental/memo.py": "56a21728a461",
            "incremental/metadata_files.py": "5eca6a5b2066",
            "incremental/universe_parts.py": "b1643ac513c7",
            "steps/tradeable_universe.py": "349bf94113f6",
        },
    ),
}


def _module_path(dotted: str) -> Path | None:
    parts = dotted.split(".")
    if parts[0] != "portfolio_assets" or len(parts) < 3 or parts[1] not in RESULT_LAYERS:
        return None
    path = PACKAGE.joinpath(*parts[1:])
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    return None


def _imports(path: Path) -> set[Path]:
    """The result-layer modules `path` imports (relative or absolute, anywhere in it)."""
    package = ["portfolio_assets", *path.relative_to(PACKAGE).with_suffix("").parts[:-1]]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            names = [module, *(f"{module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            target = _module_path(name)
            if target is not None:
                found.add(target)
    return found


def _relative(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def result_modules(key: str) -> list[str]:
    """The modules step `key`'s result depends on, as paths relative to the package."""
    start = PACKAGE / "steps" / f"{get_asset(key).key}.py"
    seen: set[Path] = set()
    pending = [start]
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        pending.extend(found for found in _imports(path) - seen if _relative(found) not in NOT_RESULTS)
    return sorted(_relative(path) for path in seen)


def code_hash(relative: str) -> str:
    """The hash of a module's code as parsed: without comments, docstrings or layout."""
    return source_hash((PACKAGE / relative).read_text(encoding="utf-8"))


def source_hash(source: str) -> str:
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            body.pop(0)
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()[:12]


def current_pins() -> dict[str, tuple[str, dict[str, str]]]:
    return {
        key: (get_asset(key).logic_version, {module: code_hash(module) for module in result_modules(key)})
        for key in ASSET_KEYS
    }


def test_a_steps_code_does_not_change_without_its_logic_version() -> None:
    problems = []
    for key, (version, modules) in current_pins().items():
        pinned_version, pinned_modules = PINNED.get(key, ("", {}))
        changed = sorted(m for m in set(modules) | set(pinned_modules) if modules.get(m) != pinned_modules.get(m))
        if changed and version == pinned_version:
            problems.append(
                f"the code {key}'s result depends on changed ({', '.join(changed)}): bump its logic_version in "
                f"steps/registry.py (now {version}); if its outputs for the same inputs stay the same, "
                "update PINNED instead (python -m portfolio_assets_tests.steps.test_logic_versions)"
            )
        elif changed or version != pinned_version:
            problems.append(
                f"{key}'s logic_version is {version}, pinned {pinned_version or '(none)'}: update PINNED "
                "(python -m portfolio_assets_tests.steps.test_logic_versions)"
            )
    assert not problems, "\n".join(problems)


def test_the_check_sees_a_changed_rule() -> None:
    # The hash ignores what does not change code, and sees what does.
    text = (PACKAGE / "domain" / "exports.py").read_text(encoding="utf-8")
    original = code_hash("domain/exports.py")
    assert "domain/exports.py" in result_modules("price_exports")
    assert "domain/matching.py" not in result_modules("stooq_index")
    assert source_hash("# a comment\n" + text.replace("\n\n\n", "\n\n\n\n")) == original
    assert source_hash(text + "\nLIMIT = 1\n") != original


if __name__ == "__main__":
    import pprint

    print("PINNED: dict[str, tuple[str, dict[str, str]]] = ", end="")
    pprint.pprint(current_pins(), width=110, sort_dicts=True)
