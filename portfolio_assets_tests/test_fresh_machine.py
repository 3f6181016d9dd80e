"""The README's two commands work on a fresh machine: they are Makefile targets, and
`make test` (and so CI, which runs it) first installs the Debian packages the tests need
with `.ci/system-packages`, whose choice of what to install is tested here with fake
programs on PATH (nothing is installed for real). That every `make` target and `.ci/`
script the README and docs/ name exists is test_docs.py's.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
README = (PROJECT / "README.md").read_text(encoding="utf-8")
SCRIPT = PROJECT / ".ci" / "system-packages"


def _makefile_targets() -> set[str]:
    text = (PROJECT / "Makefile").read_text(encoding="utf-8")
    return {match.group(1) for match in re.finditer(r"^([A-Za-z][\w-]*)\s*:(?!=)", text, re.MULTILINE)}


def _section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def test_the_readmes_two_commands_are_makefile_targets() -> None:
    block = [line.split("#")[0].split() for line in _section("Two commands on a fresh machine").splitlines()]
    commands = [words for words in block if words[:1] == ["make"]]
    assert [words[1] for words in commands] == ["demo", "test"]
    assert {"demo", "test"} <= _makefile_targets()


def test_make_test_installs_the_system_packages_before_the_tests() -> None:
    # What `make test` would run, in order (-n: printed, not run).
    planned = subprocess.run(
        ["make", "-n", "test"], cwd=PROJECT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    installs = next(i for i, line in enumerate(planned) if line.strip() == ".ci/system-packages")
    runs_tests = next(i for i, line in enumerate(planned) if "pytest" in line)
    assert installs < runs_tests


def test_ci_runs_the_readmes_commands_and_installs_nothing_of_its_own() -> None:
    lines = [
        line.strip()
        for line in (PROJECT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert [line for line in lines if line.startswith("make ")] == ["make lint", "make test"]
    assert not any("apt-get" in line for line in lines)


# The script, run with a PATH of fake programs: each records how it was called.
FAKE = """#!/bin/sh
echo "${0##*/} DEBIAN_FRONTEND=${DEBIAN_FRONTEND:-} $*" >> "$CALLS"
"""
FAKE_SUDO = FAKE + 'exec "$@"\n'


def _machine(tmp_path: Path, programs: dict[str, str], uid: int = 0) -> tuple[dict[str, str], Path]:
    """A PATH holding `programs` (name: script) and `id` answering `uid`; the environment
    and the file where the fakes record their calls."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    for name, script in {**programs, "id": f"#!/bin/sh\necho {uid}\n"}.items():
        (fake_bin / name).write_text(script)
        (fake_bin / name).chmod(0o755)
    (fake_bin / "env").symlink_to(shutil.which("env") or "/usr/bin/env")
    calls = tmp_path / "calls"
    environment = {
        "PATH": str(fake_bin),
        "CALLS": str(calls),
        # Where Debian keeps PostgreSQL's programs: empty here unless a test adds pg_ctl.
        "PORTFOLIO_ASSETS_POSTGRESQL_LIB": str(tmp_path / "postgresql"),
    }
    return environment, calls


def _run_script(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    bash = shutil.which("bash") or "/bin/bash"
    return subprocess.run([bash, str(SCRIPT)], env=environment, capture_output=True, text=True, timeout=30)


def _calls(calls: Path) -> list[str]:
    return calls.read_text().splitlines() if calls.exists() else []


INSTALL = "apt-get DEBIAN_FRONTEND=noninteractive install -y -qq"


@pytest.mark.parametrize(
    ("present", "missing"),
    [
        (("chromium", "pg_ctl"), []),
        ((), ["chromium", "postgresql"]),
        (("chromium",), ["postgresql"]),
        (("pg_ctl",), ["chromium"]),
    ],
    ids=["nothing missing", "both missing", "chromium present", "pg_ctl on PATH"],
)
def test_the_script_installs_exactly_what_is_missing(
    tmp_path: Path, present: tuple[str, ...], missing: list[str]
) -> None:
    environment, calls = _machine(tmp_path, {"apt-get": FAKE, **dict.fromkeys(present, FAKE)})
    done = _run_script(environment)
    assert done.returncode == 0, done.stderr
    if missing:
        assert _calls(calls) == ["apt-get DEBIAN_FRONTEND= update -qq", f"{INSTALL} {' '.join(missing)}"]
        assert done.stdout.splitlines() == [
            f"system-packages: installing {' '.join(missing)} (Debian packages the tests need)"
        ]
    else:
        assert _calls(calls) == [] and done.stdout == ""


def test_the_script_finds_debians_postgresql_off_path(tmp_path: Path) -> None:
    environment, calls = _machine(tmp_path, {"apt-get": FAKE, "chromium": FAKE})
    pg_ctl = tmp_path / "postgresql" / "15" / "bin" / "pg_ctl"
    pg_ctl.parent.mkdir(parents=True)
    pg_ctl.write_text(FAKE)
    pg_ctl.chmod(0o755)
    done = _run_script(environment)
    assert done.returncode == 0 and _calls(calls) == [], done.stderr


def test_the_script_uses_sudo_when_not_root(tmp_path: Path) -> None:
    environment, calls = _machine(tmp_path, {"apt-get": FAKE, "sudo": FAKE_SUDO, "chromium": FAKE}, uid=1000)
    done = _run_script(environment)
    assert done.returncode == 0, done.stderr
    assert _calls(calls) == [
        "sudo DEBIAN_FRONTEND= apt-get update -qq",
        "apt-get DEBIAN_FRONTEND= update -qq",
        "sudo DEBIAN_FRONTEND= env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql",
        f"{INSTALL} postgresql",
    ]


@pytest.mark.parametrize(
    ("programs", "uid", "said"),
    [
        (
            {"apt-get": FAKE},
            1000,
            "system-packages: missing chromium postgresql: run as root: apt-get install chromium postgresql",
        ),
        ({}, 0, "system-packages: missing chromium postgresql, and there is no apt-get here"),
    ],
    ids=["not root, no sudo", "no apt-get"],
)
def test_the_script_says_what_to_install_when_it_cannot(
    tmp_path: Path, programs: dict[str, str], uid: int, said: str
) -> None:
    environment, calls = _machine(tmp_path, programs, uid=uid)
    done = _run_script(environment)
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith(said), done.stderr
    assert _calls(calls) == []
