"""The report's sections, in page order.

Each section is a module with ``KEY`` (its HTML id), ``TITLE`` and
``render_section(marts, ctx) -> Section``, and a template in
``templates/sections/<module>.html.j2``. A section first checks that its marts were
published with rows (``components.missing_reason``) and otherwise returns
``Section.unavailable(KEY, TITLE, reason)``: the page says "Not available for this data"
and why, and every other section still renders. A section about an opt-in feature (``campaigns``:
``enable_contacts``) returns None when the build did not build its marts at all, and is
left out of the page.

To add a section (docs/report.md, "Adding a section"):
1. write ``sections/<name>.py`` and ``templates/sections/<name>.html.j2`` (numbers from
   the marts, formatted with ``components``; charts from ``retention.report.svg``);
2. add the module to ``SECTIONS`` below;
3. add every mart it reads to the ``retention_report`` exposure in
   ``models/marts/_exposures.yml`` (tests/python/test_report.py checks they agree).
"""

from __future__ import annotations

from retention.report.sections import (
    actions,
    campaigns,
    cohorts,
    model_card,
    segments,
    summary,
)

SECTIONS = (summary, cohorts, segments, model_card, actions, campaigns)

__all__ = ["SECTIONS"]
