"""Command-line interface: ``retention <command> [options]``.

Subcommands are registered from a list of :class:`Command` entries (name, help, a function that
adds the options to its sub-parser, and a function that runs it and returns an exit code), all
listed in :func:`builtin_commands`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Command:
    """One ``retention`` subcommand."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


# --------------------------------------------------------------------------- generate
def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from exc


def _add_generate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--customers", type=int, required=True, help="number of customers")
    parser.add_argument("--seed", type=int, required=True, help="random seed")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument("--start", type=_date, default=dt.date(2023, 1, 1), help="first day")
    parser.add_argument(
        "--end", type=_date, default=dt.date(2024, 12, 31), help="last day (inclusive)"
    )
    parser.add_argument(
        "--defect-rate", type=float, default=0.0, help="share of rows corrupted per table"
    )
    parser.add_argument(
        "--chunk-customers",
        type=int,
        default=50_000,
        help="customers per chunk/part file (rounded up to a multiple of 1000)",
    )
    parser.add_argument(
        "--events-scale", type=float, default=1.0, help="multiplier of browsing events"
    )
    parser.add_argument(
        "--seed-files",
        action="store_true",
        help="csv only: write DIR/raw_<table>.csv (dbt seeds) and no ground truth",
    )
    parser.add_argument(
        "--truth-dir",
        type=Path,
        default=None,
        help="where ground truth goes (default DIR/ground_truth)",
    )
    parser.add_argument(
        "--campaigns",
        type=int,
        default=0,
        help="simulate N past randomized retention campaigns (contacts table; default 0)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _run_generate(args: argparse.Namespace) -> int:
    from retention.datagen import GeneratorConfig, generate

    config = GeneratorConfig(
        customers=args.customers,
        seed=args.seed,
        out=args.out,
        format=args.format,
        start=args.start,
        end=args.end,
        defect_rate=args.defect_rate,
        chunk_customers=args.chunk_customers,
        events_scale=args.events_scale,
        seed_files=args.seed_files,
        truth_dir=args.truth_dir,
        quiet=args.quiet,
        campaigns=args.campaigns,
    )
    try:
        summary = generate(config)
    except ValueError as exc:
        print(f"retention generate: error: {exc}", file=sys.stderr)
        return 2
    print(summary.format())
    return 0


def builtin_commands() -> list[Command]:
    """Every ``retention`` subcommand. Heavy modules are imported by the commands themselves."""
    from retention import report, warehouse
    from retention.loaders import cdnow

    return [
        Command(
            "generate",
            "generate the synthetic e-commerce dataset (input contract + ground truth)",
            _add_generate_arguments,
            _run_generate,
        ),
        Command(
            "load-cdnow",
            "load the public CDNOW dataset into the input contract (orders only)",
            cdnow.add_arguments,
            cdnow.run,
        ),
        Command(
            "summary",
            "print what the built warehouse holds and how to query it",
            warehouse.add_summary_arguments,
            warehouse.run_summary,
        ),
        Command(
            "query",
            "run one read-only SQL statement against the warehouse",
            warehouse.add_query_arguments,
            warehouse.run_query,
        ),
        Command(
            "report",
            "render the static HTML retention report from the published marts",
            report.add_arguments,
            report.run,
        ),
    ]


# --------------------------------------------------------------------------- entry point
def build_parser(commands: Sequence[Command] | None = None) -> argparse.ArgumentParser:
    """The top-level parser with one sub-parser per command."""
    if commands is None:
        commands = builtin_commands()
    parser = argparse.ArgumentParser(
        prog="retention",
        description="The retention warehouse's tools: demo data, loaders, churn models.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in commands:
        child = sub.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(child)
        child.set_defaults(_run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code. A failure the user can fix
    (:class:`retention.errors.UserError`, a missing input file) prints one line
    saying what happened and what to do, and exits 1, without a traceback."""
    from retention.errors import UserError

    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args))
    except (UserError, FileNotFoundError) as error:
        message = " ".join(str(error).split())  # one line, whatever the message holds
        print(f"retention {args.command}: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
