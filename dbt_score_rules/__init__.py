"""The project's own dbt-score rules (pyproject.toml, [tool.dbt-score]): what a public
mart must have (STYLE.md, "Tests and docs"; ARCHITECTURE.md, "Public marts")."""
