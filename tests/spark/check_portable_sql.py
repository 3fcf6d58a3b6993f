"""Static guard for the portable-SQL rules (docs/style.md, "Portable SQL"), run by `make lint`.

The Spark parity check (tests/spark/parity.py) runs Spark 4, which accepts some DuckDB
syntax that Spark 3.5 (and other warehouses) reject, e.g. `::` casts. This scan rejects
those constructs in the SQL of models/ and tests/dbt/ (Jinja and comments are ignored;
engine-specific SQL belongs in dispatched macros in macros/portability/).

    python tests/spark/check_portable_sql.py [folders...]    exit 1 on any finding
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ["models", "tests/dbt"]

RULES: list[tuple[str, re.Pattern]] = [
    ("`::` cast (use cast(x as type))", re.compile(r"::")),
    ("QUALIFY (use row_number() in a subquery)", re.compile(r"\bqualify\b", re.I)),
    ("string_agg (not on Spark)", re.compile(r"\bstring_agg\s*\(", re.I)),
    ("date_diff (use dbt.datediff)", re.compile(r"\bdate_diff\s*\(", re.I)),
    ("epoch() (use retention.epoch_seconds)", re.compile(r"\bepoch\s*\(", re.I)),
    ("strftime (DuckDB only)", re.compile(r"\bstrftime\s*\(", re.I)),
    ("EXCLUDE (DuckDB only)", re.compile(r"\*\s*exclude\b", re.I)),
    ("double-quoted identifier (a string on Spark)", re.compile(r'"[A-Za-z_][A-Za-z0-9_]*"')),
]

JINJA = re.compile(r"{#.*?#}|{%.*?%}|{{.*?}}", re.S)
SQL_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
STRING = re.compile(r"'(?:[^']|'')*'")


def sql_text(source: str) -> str:
    """The SQL outside Jinja, comments and string literals; newlines kept for line numbers."""

    def blank(match: re.Match) -> str:
        return re.sub(r"[^\n]", " ", match.group(0))

    for pattern in (JINJA, SQL_COMMENT, STRING):
        source = pattern.sub(blank, source)
    return source


def findings(paths: list[Path]) -> list[str]:
    out = []
    for path in paths:
        text = sql_text(path.read_text())
        for number, line in enumerate(text.splitlines(), start=1):
            for rule, pattern in RULES:
                if pattern.search(line):
                    out.append(f"{path.relative_to(ROOT)}:{number}: {rule}")
    return out


def main(argv: list[str]) -> int:
    folders = [ROOT / f for f in (argv or FOLDERS)]
    paths = sorted(p for folder in folders for p in folder.rglob("*.sql"))
    problems = findings(paths)
    if problems:
        print("Non-portable SQL (docs/style.md, 'Portable SQL'; it must also run on Spark):")
        print("\n".join(f"  {p}" for p in problems))
        return 1
    print(f"portable SQL: {len(paths)} files checked, no DuckDB-only constructs")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
