"""The README and docs/ name only what exists, link only to what resolves, and stay short.

Every file path written in backticks is a file of the repository (the package and its
tests included) or, for a file the pipeline makes at run time, a name the code spells;
every `make` target is in the Makefile; every `portfolio-assets` subcommand and flag is
one the command accepts (read from its --help); every PORTFOLIO_ASSETS_* variable is
one the code reads, and every variable of the package is in the README's settings
table; the module tree of docs/architecture.md names exactly the package's modules;
every relative link, anchor included, resolves. The docs state the rules themselves,
so none points outside the repository.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from portfolio_assets.cli.main import main as portfolio_assets_main

PROJECT = Path(__file__).resolve().parents[1]
PACKAGE = PROJECT / "portfolio_assets"
TESTS = PROJECT / "portfolio_assets_tests"
DOCS = [PROJECT / "README.md", *sorted((PROJECT / "docs").glob("*.md"))]
README_MAX_LINES = 220

# Backticked names that look like paths and are not: a value of a broker list cell.
NOT_PATHS = {"N/A"}
# The script this project replaced: named for whoever comes from it, not part of this repository.
NOT_IN_REPOSITORY = {"prepare_tradeable_data.py"}
# Table rows whose first cell is a flag of that old script, not of `portfolio-assets`.
OLD_FLAGS_SECTION = "## Coming from prepare_tradeable_data.py"
FILE_SUFFIXES = (".py", ".md", ".yaml", ".yml", ".toml", ".json", ".jsonl", ".csv", ".txt", ".log", ".png", ".gz")


@dataclass(frozen=True)
class Doc:
    path: Path
    text: str

    @property
    def name(self) -> str:
        return str(self.path.relative_to(PROJECT))

    def code_lines(self) -> list[str]:
        """Lines of code blocks: fenced, or indented four spaces after a blank line."""
        lines, in_fence, in_block, previous_blank = [], False, False, True
        for line in self.text.splitlines():
            if line.lstrip().startswith("```"):
                in_fence = not in_fence
                continue
            if in_fence:
                lines.append(line)
                continue
            indented = line.startswith("    ") and bool(line.strip())
            in_block = indented and (previous_blank or in_block)
            if in_block:
                lines.append(line)
            previous_blank = not line.strip()
        return lines

    def prose(self) -> str:
        """The text outside code blocks, with the old script's flags left out."""
        code = set(self.code_lines())
        kept, in_fence, in_old_flags = [], False, False
        for line in self.text.splitlines():
            if line.lstrip().startswith("```"):
                in_fence = not in_fence
                continue
            if in_fence or line in code:
                continue
            if line.startswith("## "):
                in_old_flags = line == OLD_FLAGS_SECTION
            # A row of the old script's flags: its first cell is the old tool's.
            old_flag_row = in_old_flags and line.startswith("|")
            kept.append("|" + "|".join(line.split("|")[2:]) if old_flag_row else line)
        return "\n".join(kept)

    def spans(self) -> list[str]:
        """Inline code spans of the prose, white space (a line break too) as one space."""
        return [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", self.prose())]


def _docs() -> list[Doc]:
    return [Doc(path, path.read_text(encoding="utf-8")) for path in DOCS]


def _ids() -> list[str]:
    return [str(path.relative_to(PROJECT)) for path in DOCS]


# --- What the code spells ------------------------------------------------------------


@cache
def _spelled() -> str:
    """Every string literal of the package and its tests (f-strings' fixed parts too), and
    the text of the CI scripts, the Makefile and the instance configuration, one a line."""
    parts: list[str] = []
    for path in sorted([*PACKAGE.rglob("*.py"), *TESTS.rglob("*.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parts += [
            node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
        ]
    for path in [*sorted((PROJECT / ".ci").iterdir()), PROJECT / "Makefile", *sorted(PROJECT.glob("dagster_home/*"))]:
        parts.append(path.read_text(encoding="utf-8"))
    return "\n".join(parts)


def _in_repository(path: str) -> bool:
    """`path` names a file or folder of the repository, from its root, the package or the
    tests (`<placeholder>` and `*` stand for any name)."""
    pattern = re.sub(r"<[^>]*>", "*", path.rstrip("/"))
    for root in (PROJECT, PACKAGE, TESTS):
        if any(True for _ in root.glob(pattern)) if "*" in pattern else (root / pattern).exists():
            return True
    return False


@cache
def _ignored_roots() -> set[str]:
    """Folders of the checkout's root that hold no file of the repository (`/sample/`,
    `/test-artifacts/`, ...: made by the demo or the tests), from .gitignore."""
    lines = (PROJECT / ".gitignore").read_text(encoding="utf-8").splitlines()
    return {line.strip("/") for line in lines if re.fullmatch(r"/[\w.-]+/", line.strip())}


def _claims_repository(path: str) -> bool:
    """A module, or a path from a file or folder of the repository's root: it says it is one
    of the repository's files (`data/metadata/...` is the pipeline's, at run time)."""
    first = path.split("/", 1)[0]
    in_root = bool(first) and (PROJECT / first).exists() and first not in _ignored_roots()
    return path.endswith(".py") or in_root


def _looks_like_path(span: str) -> bool:
    if " " in span or "://" in span or span.startswith(("-", "*")) or span in NOT_PATHS:
        return False
    return "/" in span or span.lower().endswith(FILE_SUFFIXES)


def _path_problem(span: str) -> str | None:
    path = span.lstrip("$")
    if path in NOT_IN_REPOSITORY:
        return None
    if _in_repository(path):
        return None
    if path in _spelled():
        return None  # a tag or a file name the code writes, spelled whole
    if _claims_repository(path):
        return "is not in the repository"
    # A file the pipeline makes at run time (data/metadata/..., DAGSTER_HOME/...): every
    # name in it is one the code spells.
    names = [name for name in path.split("/") if name and name not in (".", "..", "...", "DAGSTER_HOME")]
    unknown = [name for name in names if "<" not in name and name not in _spelled()]
    return f"names {', '.join(unknown)}, which nothing in the code spells" if unknown else None


def test_the_path_pattern_finds_paths() -> None:
    named = {span for doc in _docs() for span in doc.spans() if _looks_like_path(span)}
    assert {"steps/registry.py", "data/metadata/stooq_index.csv", "dagster_home/postgres.yaml"} <= named
    assert {"N/A", "*.txt", "s3://bucket/prices", "--force"}.isdisjoint(named)


@pytest.mark.parametrize("doc", _docs(), ids=_ids())
def test_every_path_a_doc_names_exists(doc: Doc) -> None:
    named = sorted({span for span in doc.spans() if _looks_like_path(span)})
    problems = [f"`{span}` {problem}" for span in named if (problem := _path_problem(span))]
    assert not problems, f"{doc.name}: " + "; ".join(problems)


# --- make targets --------------------------------------------------------------------


def _makefile_targets() -> set[str]:
    text = (PROJECT / "Makefile").read_text(encoding="utf-8")
    return {match.group(1) for match in re.finditer(r"^([A-Za-z][\w-]*)\s*:(?!=)", text, re.MULTILINE)}


def _make_targets(doc: Doc) -> set[str]:
    in_spans = {match for span in doc.spans() for match in re.findall(r"^make ([a-z][\w-]*)", span)}
    in_code = {match for line in doc.code_lines() for match in re.findall(r"^\s*make ([a-z][\w-]*)", line)}
    return in_spans | in_code


def test_every_make_target_the_docs_name_exists() -> None:
    named = {doc.name: _make_targets(doc) for doc in _docs()}
    every = set().union(*named.values())
    assert {"demo", "test", "dev", "test-postgres", "test-fast", "lint"} <= every  # the patterns find them
    missing = {name: sorted(targets - _makefile_targets()) for name, targets in named.items()}
    missing = {name: targets for name, targets in missing.items() if targets}
    assert not missing, f"targets the Makefile does not have: {missing}"


def test_every_ci_script_the_docs_name_is_a_script() -> None:
    named = {script for doc in _docs() for script in re.findall(r"\.ci/[\w-]+", doc.text)}
    assert {".ci/system-packages", ".ci/postgres", ".ci/run"} <= named
    for script in sorted(named):
        path = PROJECT / script
        assert path.is_file() and os.access(path, os.X_OK), f"the docs name {script}, which is not a script here"


# --- Commands, subcommands and flags -------------------------------------------------


def _help(main: Callable[[list[str]], int], argv: list[str]) -> str:
    """What `main(argv)` prints for --help (argparse exits after printing it)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main(argv)
    return out.getvalue()


@cache
def _portfolio_assets_flags() -> dict[str, set[str]]:
    """Each subcommand of `portfolio-assets` and the flags it accepts, from its --help."""
    listed = re.search(r"\{([\w,-]+)\}", _help(portfolio_assets_main, ["--help"]))
    assert listed, "portfolio-assets --help lists no subcommands"
    return {
        name: set(re.findall(r"--[a-z][\w-]*", _help(portfolio_assets_main, [name, "--help"])))
        for name in listed.group(1).split(",")
    }


@cache
def _benchmark_flags() -> set[str]:
    from portfolio_assets.dev.benchmark import main as benchmark_main  # imports pyarrow: only when asked

    return set(re.findall(r"--[a-z][\w-]*", _help(benchmark_main, ["--help"])))


def _commands(doc: Doc) -> Iterator[str]:
    """Every command line the doc writes: code block lines and code spans."""
    yield from (line.strip() for line in doc.code_lines())
    yield from doc.spans()


def _command_problems(doc: Doc) -> Iterator[str]:
    subcommands = _portfolio_assets_flags()
    for command in _commands(doc):
        for words in re.findall(r"(?:^|[\s(])portfolio-assets ([^|`#()]*)", command):
            name, *rest = words.split() or [""]
            if name.startswith("-") or not name:
                continue  # the command itself, or its --help
            if name not in subcommands:
                yield f"`portfolio-assets {name}` is no subcommand ({', '.join(sorted(subcommands))})"
                continue
            unknown = {flag for flag in re.findall(r"--[a-z][\w-]*", " ".join(rest))} - subcommands[name]
            if unknown:
                yield f"`portfolio-assets {name}` has no flag {', '.join(sorted(unknown))}"
        if "portfolio_assets.dev.benchmark" in command:
            unknown = set(re.findall(r"--[a-z][\w-]*", command)) - _benchmark_flags()
            if unknown:
                yield f"the benchmark has no flag {', '.join(sorted(unknown))}"
    every_flag = set().union(*subcommands.values())
    for span in doc.spans():
        flag = re.fullmatch(r"(--[a-z][\w-]*)(?: \S+)?", span)
        if flag and flag.group(1) not in every_flag | _benchmark_flags():
            yield f"`{span}`: neither portfolio-assets nor the benchmark has the flag {flag.group(1)}"


@pytest.mark.parametrize("doc", _docs(), ids=_ids())
def test_every_subcommand_and_flag_a_doc_names_exists(doc: Doc) -> None:
    problems = list(_command_problems(doc))
    assert not problems, f"{doc.name}: " + "; ".join(problems)


def test_the_flag_patterns_find_what_the_readme_names() -> None:
    readme = _docs()[0]
    spans = set(readme.spans())
    assert "portfolio-assets refresh [--force] [--adopt-exports]" in spans
    assert "--include-empty" in spans
    assert {"sample", "init", "status", "refresh", "changes"} <= set(_portfolio_assets_flags())
    assert "--adopt-exports" in _portfolio_assets_flags()["refresh"]


def test_every_program_the_docs_run_is_installed() -> None:
    programs = {
        command.split()[0]
        for doc in _docs()
        for command in _commands(doc)
        if re.match(r"(dagster|dg|dagster-daemon|dagster-webserver|portfolio-assets)( |$)", command)
    }
    assert {"dagster", "portfolio-assets"} <= programs
    bin_dir = Path(sys.executable).parent
    assert all((bin_dir / program).exists() for program in programs), sorted(programs)


# --- Settings ------------------------------------------------------------------------

VARIABLE = re.compile(r"PORTFOLIO_ASSETS_[A-Z0-9_]*[A-Z0-9]")


@pytest.mark.parametrize("doc", _docs(), ids=_ids())
def test_every_variable_a_doc_names_is_read_by_the_code(doc: Doc) -> None:
    from portfolio_assets.settings import SETTINGS

    # A setting is a row of the table; the tests' and CI's own variables are spelled there.
    spelled = {row.variable for row in SETTINGS} | set(VARIABLE.findall(_spelled()))
    unknown = sorted(set(VARIABLE.findall(doc.text)) - spelled)
    assert not unknown, f"{doc.name} names variables nothing reads: {unknown}"


def test_every_variable_of_the_package_is_a_row_of_the_settings_table() -> None:
    """The README's and docs/settings.md's tables are rendered from the rows (tests in settings/)."""
    from portfolio_assets.settings import SETTINGS

    package = {
        name
        for path in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        for name in VARIABLE.findall(node.value)
        if name == node.value  # a variable's name alone, not a message naming one
    }
    assert len(package) >= 18, sorted(package)
    assert package - {row.variable for row in SETTINGS} == set(), "variables read outside the settings table"


# --- The module tree of docs/architecture.md -----------------------------------------


def _layout_block() -> list[str]:
    doc = Doc(PROJECT / "docs" / "architecture.md", (PROJECT / "docs" / "architecture.md").read_text("utf-8"))
    section = doc.text[doc.text.index("## Layout\n") :]
    section = section[: section.index("\n## ")]
    return Doc(doc.path, section).code_lines()


def test_the_architectures_module_tree_names_exactly_the_packages_modules() -> None:
    text = "\n".join(_layout_block())
    named_modules = set(re.findall(r"\b(\w+\.py)\b", text))
    named_folders = set(re.findall(r"(?:^|[\s,])([a-z_]\w*)/", text, re.MULTILINE))
    modules = {path.name for path in PACKAGE.rglob("*.py") if path.name not in ("__init__.py", "__main__.py")}
    folders = {path.name for root in (PACKAGE, TESTS) for path in root.rglob("*") if path.is_dir()}
    folders |= {PACKAGE.name, TESTS.name}
    assert named_modules - modules - {"conftest.py", "helpers.py"} == set(), "named, but no such module"
    assert modules - named_modules == set(), "modules of the package the tree leaves out"
    assert named_folders - folders == set(), "named, but no such folder"


# --- Links, scope and length ---------------------------------------------------------


def _anchors(text: str) -> set[str]:
    """The anchors of a Markdown file's headings, as GitHub makes them."""
    anchors: set[str] = set()
    for heading in re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").strip().lower()).replace(" ", "-")
        anchor, number = slug, 0
        while anchor in anchors:
            number += 1
            anchor = f"{slug}-{number}"
        anchors.add(anchor)
    return anchors


@pytest.mark.parametrize("doc", _docs(), ids=_ids())
def test_every_relative_link_resolves(doc: Doc) -> None:
    links = re.findall(r"\]\(([^)\s]+)\)", doc.prose())
    problems = []
    for link in links:
        if re.match(r"[a-z]+:", link):
            continue  # a web address
        target, _, anchor = link.partition("#")
        path = (doc.path.parent / target).resolve() if target else doc.path
        if not path.is_file():
            problems.append(f"{link}: no file {path}")
        elif anchor and anchor not in _anchors(path.read_text(encoding="utf-8")):
            problems.append(f"{link}: no heading #{anchor} in {path.name}")
    assert not problems, f"{doc.name}: " + "; ".join(problems)


def test_the_readme_links_every_doc() -> None:
    readme = _docs()[0]
    linked = {Path(link.partition("#")[0]).name for link in re.findall(r"\]\((docs/[^)\s]+)\)", readme.text)}
    assert linked == {path.name for path in DOCS[1:]}


@pytest.mark.parametrize("doc", _docs(), ids=_ids())
def test_no_doc_points_outside_the_repository(doc: Doc) -> None:
    # The rules are stated in docs/rules.md, in the project's own words.
    for outside in ("../shared", "SPEC.md", "/work/shared"):
        assert outside not in doc.text, f"{doc.name} names {outside}"


def test_the_readme_is_a_five_minute_read() -> None:
    lines = len(DOCS[0].read_text(encoding="utf-8").splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail into docs/"
