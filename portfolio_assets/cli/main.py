"""The `portfolio-assets` command.

- `sample DIR` writes the generated sample world.
- `init` creates the Dagster instance in DAGSTER_HOME, once, under the lock that
  `status` and `refresh` take (so no two dagster processes race to create it), and says
  where it is. With PORTFOLIO_ASSETS_POSTGRES_URL set it sets up the shared instance:
  the PostgreSQL template as dagster.yaml when DAGSTER_HOME has none, then the database.
- `status [--json]` observes the sources and prints each asset as fresh, stale or missing.
- `refresh [--force] [--adopt-exports]` materializes exactly the stale and missing
  assets, and ends with one line saying what changed in the universe. Steps that take longer than about 2 s
  show their progress on stderr: a bar on a terminal, plain lines elsewhere
  (PORTFOLIO_ASSETS_PROGRESS=0 turns it off; portfolio_assets.io.progress).
- `changes [--last N] [--json] [--all]` prints the last N change records of
  match_report, newest first: the first changes of each kind and how many more, or
  with `--all` every change (Dagster-free: it reads the history beside the reports).

`status` and `refresh` use the Dagster instance in DAGSTER_HOME and take each setting
of the pipeline as a flag, which overrides its environment variable (the flags are the
settings table's, portfolio_assets/settings/table.py). With
PORTFOLIO_ASSETS_POSTGRES_URL set, `init`, `status` and `refresh` refuse an instance
kept anywhere but that database (instance/storage_config.py).

Bad input and faults are one line on stderr: an invalid flag names the flag, an
invalid variable names the variable, a file that cannot be read or written names
its path, a full DAGSTER_HOME or an unreachable PostgreSQL server says so (with the
full error in DAGSTER_HOME/portfolio_assets.log). Exit status: 2 for invalid flags, settings or input (status), 1 for a
failed refresh or a file error, 3 when `refresh` is refused because a running code
location (dagster dev) works with other settings.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from ..domain.errors import InvalidSetting, PortfolioInputError, describe_os_error
from ..settings import (
    METADATA_DIR,
    SETTINGS,
    Setting,
    Settings,
    Switch,
    check_process_settings,
    settings_from_environment,
)
from .fault_log import library_logs_to_file, log_error

if TYPE_CHECKING:
    import dagster as dg

__all__ = ["main"]

EXIT_REFUSED = 3

# The settings that are flags of `status` and `refresh`.
_FLAG_SETTINGS = tuple(row for row in SETTINGS if row.flag)


def _sample(args: argparse.Namespace) -> int:
    from ..dev.sample import write_sample

    try:
        world = write_sample(
            Path(args.directory), stooq_files=args.stooq_files, instruments=args.instruments, seed=args.seed
        )
    except (FileExistsError, ValueError) as error:
        print(f"portfolio-assets sample: {error}", file=sys.stderr)
        return 2
    print(f"sample written to {Path(args.directory).absolute()}:")
    print(f"  Stooq tree:   {world.stooq_dir}")
    print(f"  broker lists: {world.tradeable_dir}")
    print("run the pipeline from that folder (the default settings point there)")
    return 0


def _settings(args: argparse.Namespace) -> Settings:
    """The pipeline's settings: the flags given, over the environment's variables."""
    return settings_from_environment(flags={row.name: getattr(args, row.name, None) for row in _FLAG_SETTINGS})


def _dagster_home() -> Path:
    if not os.environ.get("DAGSTER_HOME"):
        raise SystemExit(
            "portfolio-assets: set DAGSTER_HOME to the Dagster instance folder "
            "(the README's `make demo` uses dagster_home/ in the project)"
        )
    return Path(os.environ["DAGSTER_HOME"])


def _prepared(args: argparse.Namespace) -> tuple[Settings, Path]:
    """Validate every setting before Dagster is imported, as the definitions do when they
    load (build_definitions), where a bad value would end in a traceback; here it is one
    line (main)."""
    from ..instance.storage_config import check_instance_storage

    home = _dagster_home()
    # Before the fast path, which would otherwise answer from an instance the user does not mean.
    check_instance_storage(home)
    settings = _settings(args)
    check_process_settings()
    return settings, home


def _load(args: argparse.Namespace) -> tuple[Settings, dg.Definitions, dg.DagsterInstance]:
    """Settings, definitions and instance for status/refresh."""
    _dagster_home().mkdir(parents=True, exist_ok=True)
    import dagster as dg

    from ..dagster_defs.location import build_definitions

    settings = _settings(args)
    defs = build_definitions(settings)  # an invalid setting raises here: main prints it as one line
    return settings, defs, dg.DagsterInstance.get()


def _known_fresh(args: argparse.Namespace, settings: Settings, home: Path) -> bool:
    """The Dagster-free check: True only if nothing can have changed since Dagster said fresh.

    When it is, no run has started since, so leftover temporary files of killed runs
    are removed here as `refresh` would (it is not called on this path)."""
    from ..domain.stooq_tree import scan_stooq_tree
    from .fast_path import known_fresh, remove_leftovers

    try:
        # One stat scan serves this check and, if it fails, the observation that follows.
        args.stooq_scan = scan_stooq_tree(settings.stooq_dir) if settings.stooq_dir.is_dir() else None
        fresh = known_fresh(home, settings, args.stooq_scan)
    except (PortfolioInputError, OSError):
        return False  # the full path reports the problem
    if fresh:
        remove_leftovers(home, settings)
    return fresh


def _location_conflict(settings: Settings, home: Path) -> str | None:
    from ..instance.location_settings import running_location_conflict

    return running_location_conflict(home, settings)


def _init(args: argparse.Namespace) -> int:
    """Create the instance's databases now, under the lock status and refresh take.

    Dagster creates them on first use; two processes doing that at once on a new
    DAGSTER_HOME can fail (dagster issue 27390), so `make demo` and `make dev` call
    this before anything else runs. With PORTFOLIO_ASSETS_POSTGRES_URL set, a
    DAGSTER_HOME without dagster.yaml gets the PostgreSQL template, and one whose
    dagster.yaml keeps the instance elsewhere is refused (check_instance_storage)."""
    home = _dagster_home()
    from ..instance.storage_config import (
        POSTGRES_TEMPLATE,
        check_instance_storage,
        postgres_location,
        shared_database_url,
        write_postgres_template,
    )
    from ..io.locking import exclusive_lock

    if shared_database_url() and write_postgres_template(home):
        print(f"wrote {home / 'dagster.yaml'} from {POSTGRES_TEMPLATE}")
    storage = check_instance_storage(home)
    with exclusive_lock(home, storage.libpq_url):
        import dagster as dg

        from ..dagster_defs.assets import POOL
        from ..instance.runs import ensure_pool_limit

        # Opening it creates the schema, in the database on PostgreSQL: connected, then.
        with dg.DagsterInstance.get() as instance:
            # An instance without the project's dagster.yaml has no pool limit: set one, so
            # that two runs never write the same outputs at once.
            ensure_pool_limit(instance, POOL)
    if storage.kind == "postgres":
        where = f"shared, in PostgreSQL {postgres_location(str(storage.postgres_url))}"
    else:
        where = "local SQLite, this host's only" if storage.kind == "sqlite" else "the storage its dagster.yaml names"
    print(f"Dagster instance ready in {home}: {where}")
    return 0


def _shared_database(home: Path) -> str | None:
    """The PostgreSQL database the instance shares with other hosts, if it does."""
    import yaml

    from ..instance.storage_config import read_storage_config

    try:
        return read_storage_config(home).libpq_url
    except (OSError, ValueError, yaml.YAMLError):
        return None  # Dagster reports a broken dagster.yaml when it reads it


@contextmanager
def _locked_instance(
    args: argparse.Namespace,
) -> Iterator[tuple[Settings, dg.Definitions, dg.DagsterInstance, float]]:
    """(settings, defs, instance, seconds waited) under the instance's lock, which keeps
    another refresh or status from changing the instance (or creating it) under us."""
    from ..io.locking import exclusive_lock

    home = _dagster_home()
    with exclusive_lock(home, _shared_database(home)) as waited:
        if waited > 0.05:
            args.stooq_scan = None  # taken before the wait: observe afresh
        settings, defs, instance = _load(args)
        with instance:
            from ..dagster_defs.assets import POOL
            from ..instance.runs import ensure_pool_limit

            ensure_pool_limit(instance, POOL)  # as init does: never two writers at once
            yield settings, defs, instance, waited


def _input_problem(error: Exception, exit_code: int) -> int:
    """Print bad input (a dg.Failure from a source, or our own error) as one line."""
    print(f"portfolio-assets: {getattr(error, 'description', None) or error}", file=sys.stderr)
    return exit_code


def _status(args: argparse.Namespace) -> int:
    settings, home = _prepared(args)
    conflict = _location_conflict(settings, home)
    if conflict:
        # Status only reports: stderr, so that --json output stays parseable.
        print(
            f"portfolio-assets: note: {conflict}; this status is for the settings given here, and "
            "`refresh` with them would be refused",
            file=sys.stderr,
        )
    if _known_fresh(args, settings, home):
        from ..steps.registry import asset_keys
        from .fast_path import recorded_notes

        notes = recorded_notes(home)
        statuses = [{"key": key, "status": "fresh", "causes": [], "notes": notes.get(key, [])} for key in asset_keys()]
        _print_statuses(statuses, args.json)
        return 0
    import dagster as dg

    from ..dagster_defs.sources import record_observations
    from .refresh import clear_dead_runs_and_slots, fresh_checked_statuses

    with _locked_instance(args) as (settings, defs, instance, _):
        # On stderr, so that --json output stays parseable.
        clear_dead_runs_and_slots(instance, lambda line: print(f"portfolio-assets: {line}", file=sys.stderr))
        try:
            record_observations(instance, settings, getattr(args, "stooq_scan", None))
        except (dg.Failure, PortfolioInputError) as error:
            return _input_problem(error, exit_code=2)
        statuses = [s.as_json() for s in fresh_checked_statuses(defs, instance, settings)]
    _print_statuses(statuses, args.json)
    return 0


def _print_statuses(statuses: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print(json.dumps({"assets": statuses}, indent=2))
        return
    for status in statuses:
        print(f"{status['key']:<20} {status['status']}")
        for cause in status["causes"]:
            print(f"{'':<20}   - {cause}")
        for note in status.get("notes", []):
            print(f"{'':<20}   note: {note}")


def _refresh(args: argparse.Namespace) -> int:
    settings, home = _prepared(args)
    conflict = _location_conflict(settings, home)
    if conflict:
        print(
            f"portfolio-assets: refresh refused: {conflict}; its sensors would undo this refresh within a "
            "minute. Run refresh with its settings, or stop `dagster dev` (or restart it with these "
            "settings) and run refresh again",
            file=sys.stderr,
        )
        return EXIT_REFUSED
    if not args.force and _known_fresh(args, settings, home):
        print("nothing is stale: no run launched (nothing changed since the last check)")
        return 0
    import dagster as dg

    from ..io.progress import progress_shown
    from .refresh import refresh

    # The runs execute in this process: their long file work shows progress on its stderr.
    with _locked_instance(args) as (settings, defs, instance, waited), progress_shown():
        if waited > 0.5:
            print(f"waited {waited:.1f} s for another refresh or status on this instance to finish")
        try:
            outcome = refresh(
                defs,
                instance,
                settings,
                force=args.force,
                stooq_scan=getattr(args, "stooq_scan", None),
                adopt_exports=args.adopt_exports,
            )
        except (dg.Failure, PortfolioInputError) as error:
            return _input_problem(error, exit_code=1)
    if not outcome.success:
        # One line per failed step, our own message first; the full log is in the instance.
        for line in outcome.error.splitlines() or ["the run failed"]:
            print(f"portfolio-assets: refresh failed: {line}", file=sys.stderr)
        return 1
    if outcome.materialized:
        print(f"materialized {', '.join(outcome.materialized)} in {outcome.runs} run(s)")
    if outcome.runs:
        print(outcome.changes_line())
    return 0


def _changes(args: argparse.Namespace) -> int:
    from ..incremental.change_history import read_all_changes, read_history
    from ..incremental.metadata_files import MetadataFiles
    from .changes import render_json, render_text

    folder = MetadataFiles(_settings(args).metadata_dir).change_history_dir
    history = read_history(folder, last=args.last)
    for warning in history.warnings:
        print(f"portfolio-assets: warning: {warning}", file=sys.stderr)
    newest = history.records[::-1]
    if args.all:
        for number, record in enumerate(newest):
            try:
                newest[number] = read_all_changes(folder, record)
            except ValueError as error:
                print(f"portfolio-assets: warning: {error}; showing the changes its line holds", file=sys.stderr)
    print(render_json(newest) if args.json else render_text(newest, folder, every_change=args.all))
    return 0


def _positive_count(value: str) -> int:
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{shlex.quote(value)} is not valid; expected a whole number, at least 1")
    return int(value)


class _OneLineParser(argparse.ArgumentParser):
    """argparse, with a usage error as one line (problem, then where to read the usage)
    rather than the usage block followed by the problem."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _flag_type(row: Setting[Any]) -> Callable[[str], str]:
    """An argparse type checking a flag as the settings table reads its variable, so the
    flag and the variable accept exactly the same values. The value is kept as typed: it
    is read with the others (`_settings`), relative paths where the settings are read."""

    def flag_value(value: str) -> str:
        try:
            row.parse(value)
        except InvalidSetting as error:
            # argparse prefixes "argument --flag: ": the flag the user typed, not the variable.
            raise argparse.ArgumentTypeError(f"{shlex.quote(value)} {error.problem}") from None
        return value

    flag_value.__name__ = row.name
    return flag_value


def _add_setting_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings (override PORTFOLIO_ASSETS_* variables)")
    for row in _FLAG_SETTINGS:
        # A switch given alone means on: `--include-empty` is `--include-empty true`.
        alone: dict[str, Any] = {"nargs": "?", "const": "true"} if isinstance(row.kind, Switch) else {}
        group.add_argument(
            str(row.flag),
            dest=row.name,
            type=_flag_type(row),
            metavar=row.kind.metavar,
            help=row.description.replace("%", "%%"),
            **alone,
        )


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="portfolio-assets", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    sample = commands.add_parser("sample", help="write a small generated Stooq tree and broker lists")
    sample.add_argument("directory", help="folder to write data/stooq and tradeable_instruments into")
    sample.add_argument("--stooq-files", type=int, default=400)
    sample.add_argument("--instruments", type=int, default=60)
    sample.add_argument("--seed", type=int, default=7)
    sample.set_defaults(run=_sample)
    init = commands.add_parser(
        "init", help="create the Dagster instance in DAGSTER_HOME (before starting several dagster commands at once)"
    )
    init.set_defaults(run=_init)
    status = commands.add_parser("status", help="observe the sources and say which assets are stale")
    status.add_argument("--json", action="store_true", help='print {"assets": [{"key", "status", "causes", "notes"}]}')
    _add_setting_flags(status)
    status.set_defaults(run=_status)
    refresh = commands.add_parser("refresh", help="materialize exactly the stale and missing assets")
    refresh.add_argument("--force", action="store_true", help="materialize and rewrite every asset")
    refresh.add_argument(
        "--adopt-exports",
        action="store_true",
        help="take over files in the prices folder that have an export's name and start with the export "
        "header line (earlier exports, such as prepare_tradeable_data.py's) instead of stopping before them",
    )
    _add_setting_flags(refresh)
    refresh.set_defaults(run=_refresh)
    changes = commands.add_parser("changes", help="what changed in the universe at the last materializations")
    changes.add_argument("--last", type=_positive_count, default=1, metavar="N", help="how many records (default 1)")
    changes.add_argument(
        "--json",
        action="store_true",
        help="print a JSON array, newest first, of {at, run_id, counts, added, removed, ...}",
    )
    changes.add_argument(
        "--all",
        action="store_true",
        help="every change of each record, read from its file of all changes (by default: the first 20 of each "
        "kind, and how many more)",
    )
    changes.add_argument(str(METADATA_DIR.flag), dest=METADATA_DIR.name, metavar="PATH", help="the reports' folder")
    changes.set_defaults(run=_changes)
    return parser


def _storage_failure(error: Exception, home: Path | None) -> str | None:
    """One line for a failure of the instance's storage (a full DAGSTER_HOME, PostgreSQL
    unreachable), its traceback in the log file; None for any other error."""
    if home is None:
        return None
    from ..instance.storage_errors import describe_storage_error

    line = describe_storage_error(error, home)
    if line is None:
        return None
    logged = log_error(home, line, error)
    return line if logged is None else f"{line} (the full error is in {logged})"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    home = Path(os.environ["DAGSTER_HOME"]) if os.environ.get("DAGSTER_HOME") else None
    try:
        # What libraries log (dagster-postgres' retries of a lost connection) goes to a log
        # file in DAGSTER_HOME, not the terminal.
        with library_logs_to_file(home):
            run: Callable[[argparse.Namespace], int] = args.run  # set by each subcommand's parser
            return run(args)
    except PortfolioInputError as error:
        # An invalid setting (also when raised while the definitions load) or other bad input.
        print(f"portfolio-assets: {error}", file=sys.stderr)
        return 2
    except Exception as error:
        storage = _storage_failure(error, home)
        if storage is not None:
            print(f"portfolio-assets: {storage}", file=sys.stderr)
            return 1
        if not isinstance(error, OSError):
            raise
        # A folder that cannot be read or written outside a run.
        print(f"portfolio-assets: {describe_os_error(error)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
