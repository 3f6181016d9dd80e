"""The `portfolio-assets` command: `sample DIR` writes the generated sample world."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def _sample(args: argparse.Namespace) -> int:
    from .core.sample import write_sample

    world = write_sample(Path(args.directory), stooq_files=args.stooq_files, instruments=args.instruments,
                         seed=args.seed)
    print(f"sample written to {Path(args.directory).absolute()}:")
    print(f"  Stooq tree:   {world.stooq_dir}")
    print(f"  broker lists: {world.tradeable_dir}")
    print("run the pipeline from that folder (the default settings point there)")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="portfolio-assets", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    sample = commands.add_parser("sample", help="write a small generated Stooq tree and broker lists")
    sample.add_argument("directory", help="folder to write data/stooq and tradeable_instruments into")
    sample.add_argument("--stooq-files", type=int, default=400)
    sample.add_argument("--instruments", type=int, default=60)
    sample.add_argument("--seed", type=int, default=7)
    sample.set_defaults(run=_sample)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
