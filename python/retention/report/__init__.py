"""`retention report`: one static HTML file people can read, rendered from the marts.

Reads the build's published Parquet marts (retention.report.data explains why),
renders the summary, cohort retention, segments, the churn model card and the
action list (one module each in retention.report.sections, laid out by the Jinja2
templates in templates/) with inline SVG charts (retention.report.svg), and writes
reports/<database>/retention_report.html atomically. The file embeds everything:
it opens offline, with no CDN.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ReportInputError", "ReportResult", "build_report", "default_output", "write_atomic"]

REPORT_NAME = "retention_report.html"


class ReportInputError(RuntimeError):
    """The warehouse or its published marts are missing: the message says what to run."""


@dataclass(frozen=True)
class ReportResult:
    path: Path
    bytes: int
    seconds: float
    build_id: str
    unavailable: tuple[str, ...]  # sections shown as "not available for this data"


def default_output(database: Path) -> Path:
    home = Path(os.environ.get("RETENTION_HOME", Path.cwd()))
    return home / "reports" / database.stem / REPORT_NAME


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file in the same folder, then rename over ``path``: a reader
    (or a browser reloading) sees the previous report or the new one, never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def build_report(
    database: Path | None = None,
    out: Path | None = None,
    published: Path | None = None,
) -> ReportResult:
    """Render the report of ``database``'s latest publish into ``out``.

    ``published`` is a publish root (the build's ``publish_path``), default
    <RETENTION_HOME>/published. Raises ReportInputError when there is nothing to read.
    """
    # Imported here: `retention --help` and the other commands stay fast.
    from retention.report.data import Marts, published_folder
    from retention.report.page import render_page, render_sections
    from retention.warehouse import database_path

    started = time.perf_counter()
    database = Path(database) if database else database_path()
    folder = published_folder(database, published)
    out = Path(out) if out else default_output(database)
    with Marts.open(folder) as marts:
        sections = render_sections(marts)
        html = render_page(
            marts,
            sections,
            database_name=database.stem,
            generated_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        )
        build_id = str(marts.manifest.get("build_id", ""))
    write_atomic(out, html)
    unavailable = tuple(s.key for s in sections if not s.available)
    return ReportResult(
        out, len(html.encode("utf-8")), time.perf_counter() - started, build_id, unavailable
    )


# ---------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database",
        type=Path,
        default=None,
        help="the warehouse file whose publish to report (default: RETENTION_DB)",
    )
    parser.add_argument(
        "--published",
        type=Path,
        default=None,
        help="publish root the build wrote to (default: <RETENTION_HOME>/published)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"output file (default: <RETENTION_HOME>/reports/<database>/{REPORT_NAME})",
    )


def run(args: argparse.Namespace) -> int:
    try:
        result = build_report(args.database, args.out, args.published)
    except ReportInputError as error:
        print(f"retention report: error: {error}", file=sys.stderr)
        return 2
    missing = (
        f"; not available for this data: {', '.join(result.unavailable)}"
        if (result.unavailable)
        else ""
    )
    print(
        f"Report ({result.bytes / 1024:,.0f} kB, {result.seconds:.1f}s, build "
        f"{result.build_id}{missing}):\n  {result.path}\n"
        f"  open it in a browser: file://{result.path.resolve()}"
    )
    return 0
