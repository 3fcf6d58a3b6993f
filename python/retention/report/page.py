"""The whole report: every section (retention.report.sections) in one self-contained page."""

from __future__ import annotations

import datetime as dt

from retention.report.components import Section
from retention.report.context import RunContext
from retention.report.data import Marts
from retention.report.sections import SECTIONS
from retention.report.templating import environment


def render_sections(marts: Marts) -> list[Section]:
    """Every section, in page order; an opt-in section whose marts were not built at all
    (render_section returns None) is left out."""
    ctx = RunContext.load(marts)
    rendered = [section.render_section(marts, ctx) for section in SECTIONS]
    return [s for s in rendered if s is not None]


def render_page(
    marts: Marts, sections: list[Section], *, database_name: str, generated_at: dt.datetime
) -> str:
    """One HTML document: styles inline, charts inline SVG, no script, no external file."""
    manifest = marts.manifest
    return (
        environment()
        .get_template("page.html.j2")
        .render(
            database_name=database_name,
            build_id=str(manifest.get("build_id", "?")),
            published_at=str(manifest.get("published_at", "?"))[:19],
            generated_at=f"{generated_at:%Y-%m-%d %H:%M}",
            sections=sections,
            folder=str(marts.folder),
            marts_used=", ".join(f"{t} ({n:,})" for t, n in sorted(marts.tables.items())),
        )
        + "\n"
    )
