"""The project's own dbt-score rules (pyproject.toml, [tool.dbt-score]): what a public
mart must have (docs/style.md, "Tests and docs"; docs/architecture.md, "Public marts")."""
