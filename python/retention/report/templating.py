"""The report's Jinja2 environment: templates ship inside the package (templates/), so
`retention report` finds them wherever the package is installed (pyproject package-data)."""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup


@cache
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("retention.report", "templates"),
        # Every string is escaped unless it is Markup (the SVG charts, rendered sections).
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,  # a misspelt variable fails the render, not the page
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def render(template: str, **context) -> Markup:
    """A template's HTML, safe to embed in another template."""
    return Markup(environment().get_template(template).render(**context))
