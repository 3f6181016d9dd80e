"""The `portfolio-assets` command.

- `sample DIR` writes the generated sample world.
- `status [--json]` observes the sources and prints each asset as fresh, stale or missing.
- `refresh [--force]` materializes exactly the stale and missing assets.

`status` and `refresh` use the Dagster instance in DAGSTER_HOME and take every
setting as a flag, which overrides its environment variable.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .core.errors import PortfolioInputError

__all__ = ["main"]

_SETTING_FLAGS = {
    "stooq_dir": "--stooq-dir",
    "tradeable_dir": "--tradeable-dir",
    "metadata_dir": "--metadata-dir",
    "prices_dir": "--prices-dir",
    "lse_currency_policy": "--lse-currency-policy",
    "include_empty": "--include-empty",
}


def _sample(args: argparse.Namespace) -> int:
    from .core.sample import write_sample

    try:
        world = write_sample(Path(args.directory), stooq_files=args.stooq_files,
                             instruments=args.instruments, seed=args.seed)
    except (FileExistsError, ValueError) as error:
        print(f"portfolio-assets sample: {error}", file=sys.stderr)
        return 2
    print(f"sample written to {Path(args.directory).absolute()}:")
    print(f"  Stooq tree:   {world.stooq_dir}")
    print(f"  broker lists: {world.tradeable_dir}")
    print("run the pipeline from that folder (the default settings point there)")
    return 0


def _apply_setting_flags(args: argparse.Namespace) -> None:
    from .core.settings import SETTING_VARIABLES

    for field in _SETTING_FLAGS:
        value = getattr(args, field)
        if value is not None:
            os.environ[SETTING_VARIABLES[field]] = str(value)


def _dagster_home() -> Path:
    if not os.environ.get("DAGSTER_HOME"):
        raise SystemExit("portfolio-assets: set DAGSTER_HOME to the Dagster instance folder "
                         "(the README's `make demo` uses dagster_home/ in the project)")
    return Path(os.environ["DAGSTER_HOME"])


def _load(args: argparse.Namespace):
    """Settings, definitions and instance for status/refresh."""
    _apply_setting_flags(args)
    _dagster_home().mkdir(parents=True, exist_ok=True)
    import dagster as dg

    from .core.settings import settings_from_environment
    from .definitions import build_definitions

    try:
        defs = build_definitions()
    except PortfolioInputError as error:
        raise SystemExit(f"portfolio-assets: {error}") from None
    settings = settings_from_environment()
    return settings, defs, dg.DagsterInstance.get()


def _known_fresh(args: argparse.Namespace) -> bool:
    """The Dagster-free check: True only if nothing can have changed since Dagster said fresh."""
    _apply_setting_flags(args)
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        return False
    from .core.fresh_state import known_fresh
    from .core.settings import settings_from_environment
    from .core.stooq_tree import scan_stooq_tree

    try:
        settings = settings_from_environment()
        # One stat scan serves this check and, if it fails, the observation that follows.
        args.stooq_scan = scan_stooq_tree(settings.stooq_dir) if settings.stooq_dir.is_dir() else None
        return known_fresh(Path(home), settings, args.stooq_scan)
    except (PortfolioInputError, OSError):
        return False  # the full path reports the problem


@contextmanager
def _locked_instance(args: argparse.Namespace) -> Iterator[tuple]:
    """(settings, defs, instance, seconds waited) under the instance's lock, which keeps
    another refresh or status from changing the instance (or creating it) under us."""
    from .core.locking import exclusive_lock

    with exclusive_lock(_dagster_home()) as waited:
        if waited > 0.05:
            args.stooq_scan = None  # taken before the wait: observe afresh
        settings, defs, instance = _load(args)
        with instance:
            yield settings, defs, instance, waited


def _input_problem(error: Exception, exit_code: int) -> int:
    """Print bad input (a dg.Failure from a source, or our own error) as one line."""
    print(f"portfolio-assets: {getattr(error, 'description', None) or error}", file=sys.stderr)
    return exit_code


def _status(args: argparse.Namespace) -> int:
    if _known_fresh(args):
        from .core.outputs import STEP_KEYS

        statuses = [{"key": key, "status": "fresh", "causes": []} for key in STEP_KEYS]
        _print_statuses(statuses, args.json)
        return 0
    import dagster as dg

    from .refresh import fresh_checked_statuses
    from .sources import record_observations

    with _locked_instance(args) as (settings, defs, instance, _):
        try:
            record_observations(instance, settings, getattr(args, "stooq_scan", None))
        except (dg.Failure, PortfolioInputError) as error:
            return _input_problem(error, exit_code=2)
        statuses = [s.as_json() for s in fresh_checked_statuses(defs, instance, settings)]
    _print_statuses(statuses, args.json)
    return 0


def _print_statuses(statuses: list[dict], as_json: bool) -> None:
    if as_json:
        print(json.dumps({"assets": statuses}, indent=2))
        return
    for status in statuses:
        print(f"{status['key']:<20} {status['status']}")
        for cause in status["causes"]:
            print(f"{'':<20}   - {cause}")


def _refresh(args: argparse.Namespace) -> int:
    if not args.force and _known_fresh(args):
        print("nothing is stale: no run launched (nothing changed since the last check)")
        return 0
    import dagster as dg

    from .refresh import refresh

    with _locked_instance(args) as (settings, defs, instance, waited):
        if waited > 0.5:
            print(f"waited {waited:.1f} s for another refresh or status on this instance to finish")
        try:
            outcome = refresh(defs, instance, settings, force=args.force,
                              stooq_scan=getattr(args, "stooq_scan", None))
        except (dg.Failure, PortfolioInputError) as error:
            return _input_problem(error, exit_code=1)
    if not outcome.success:
        print(f"portfolio-assets: refresh failed: {outcome.error}", file=sys.stderr)
        return 1
    if outcome.materialized:
        print(f"materialized {', '.join(outcome.materialized)} in {outcome.runs} run(s)")
    return 0


def _add_setting_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings (override PORTFOLIO_ASSETS_* variables)")
    for field, flag in _SETTING_FLAGS.items():
        if field == "include_empty":
            group.add_argument(flag, dest=field, nargs="?", const="true", default=None,
                               metavar="true|false", help="export empty, missing and unreadable files too")
        elif field == "lse_currency_policy":
            group.add_argument(flag, dest=field, choices=("broker", "stooq", "strict"))
        else:
            group.add_argument(flag, dest=field, metavar="PATH")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="portfolio-assets", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    sample = commands.add_parser("sample", help="write a small generated Stooq tree and broker lists")
    sample.add_argument("directory", help="folder to write data/stooq and tradeable_instruments into")
    sample.add_argument("--stooq-files", type=int, default=400)
    sample.add_argument("--instruments", type=int, default=60)
    sample.add_argument("--seed", type=int, default=7)
    sample.set_defaults(run=_sample)
    status = commands.add_parser("status", help="observe the sources and say which assets are stale")
    status.add_argument("--json", action="store_true", help='print {"assets": [{"key", "status", "causes"}]}')
    _add_setting_flags(status)
    status.set_defaults(run=_status)
    refresh = commands.add_parser("refresh", help="materialize exactly the stale and missing assets")
    refresh.add_argument("--force", action="store_true", help="materialize and rewrite every asset")
    _add_setting_flags(refresh)
    refresh.set_defaults(run=_refresh)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
