"""The repository does not point outside itself for what a reader needs: the design notes
live in docs/ (architecture, style, toolchain), and every docs/<page>.md a file names
exists."""

from __future__ import annotations

import re
import subprocess

from dbt_runner import REPO_ROOT

DOC_PAGE = re.compile(r"docs/([\w-]+)\.md")
OUTSIDE = re.compile(r"shared/design|(?<![\w/])(ARCHITECTURE|STYLE|TOOLCHAIN)\.md")


def tracked_text_files() -> dict[str, str]:
    names = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    texts = {}
    for name in names:
        if name.startswith("seeds/") or name.startswith("tests/fixtures/"):
            continue
        path = REPO_ROOT / name
        if path.is_file() and path.suffix in {".md", ".py", ".sql", ".yml", ".yaml", ""}:
            texts[name] = path.read_text(errors="replace")
    return texts


def test_no_pointer_to_design_notes_outside_the_repository() -> None:
    offending = [
        f"{name}: {match.group(0)}"
        for name, text in tracked_text_files().items()
        if name != "tests/python/test_docs_links.py"  # the pattern itself
        for match in OUTSIDE.finditer(text)
    ]
    assert not offending, (
        f"point to docs/architecture.md, docs/style.md or docs/toolchain.md: {offending}"
    )


def test_every_docs_page_named_exists() -> None:
    missing = sorted(
        {
            f"{name} -> docs/{page}.md"
            for name, text in tracked_text_files().items()
            for page in DOC_PAGE.findall(text)
            if not (REPO_ROOT / "docs" / f"{page}.md").is_file()
        }
    )
    assert not missing, missing
