"""No Python function over 60 lines (issue 15), next to ruff's complexity rules (C90,
PLR0912, PLR0915 in pyproject.toml), which count branches and statements, not lines."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

from dbt_runner import REPO_ROOT

MAX_LINES = 60
FOLDERS = ("python", "tests", "benchmarks", "models", "dbt_score_rules")


def long_functions(source: str, max_lines: int = MAX_LINES) -> list[tuple[str, int]]:
    """(name, lines) of every function, decorators included, longer than ``max_lines``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            lines = node.end_lineno - first + 1
            if lines > max_lines:
                found.append((node.name, lines))
    return found


def test_the_check_counts_a_function_with_its_decorators():
    body = "\n".join(f"    x{i} = {i}" for i in range(58))
    assert long_functions(f"def short():\n{body}\n") == []  # 59 lines
    assert long_functions(f"@decorated\ndef long():\n{body}\n    return 1\n") == [("long", 61)]
    nested = f"class A:\n    def method(self):\n    {body.replace(chr(10), chr(10) + '    ')}\n" * 1
    assert long_functions(nested, max_lines=58) == [("method", 59)]


def test_no_function_is_over_60_lines():
    # The project's own files: git's list, so generated trees (benchmarks/results/, e.g.
    # compare_builds' exported revisions) and virtualenvs are not counted.
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", *FOLDERS],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    files = [REPO_ROOT / p for p in tracked if p.endswith(".py")]
    assert len(files) > 100, "the folders should hold the project's Python"
    offenders = {
        str(path.relative_to(REPO_ROOT)): found
        for path in files
        if (found := long_functions(Path(path).read_text()))
    }
    assert not offenders, f"split these into named steps: {offenders}"
