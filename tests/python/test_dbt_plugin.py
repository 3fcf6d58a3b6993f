"""The project's dbt-duckdb plugin imports scikit-learn when dbt connects, in dbt's main
thread, so two Python models never race on its first import (docs/toolchain.md, 15)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from retention.dbt_plugin import SKLEARN_MODULES

PACKAGE = Path(__file__).resolve().parents[2] / "python" / "retention"


def test_connecting_imports_scikit_learn_first():
    code = (
        "import sys\n"
        "from types import SimpleNamespace\n"
        "from retention.dbt_plugin import Plugin\n"
        "assert 'sklearn' not in sys.modules\n"
        "Plugin('retention', {}).update_connection_config(SimpleNamespace(path=':memory:'), {})\n"
        "from retention.dbt_plugin import SKLEARN_MODULES\n"
        "print(all(m in sys.modules for m in SKLEARN_MODULES))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_the_preload_covers_every_scikit_learn_module_the_package_imports():
    """A new `from sklearn.x import ...` in the package must join the preload, or two Python
    models could race on importing it."""
    imported = set()
    for path in PACKAGE.rglob("*.py"):
        imported |= set(
            re.findall(r"^\s*(?:from|import) (sklearn\.[a-z_]+)", path.read_text(), re.M)
        )
    assert imported, "the package imports scikit-learn modules"
    assert imported <= set(SKLEARN_MODULES), sorted(imported - set(SKLEARN_MODULES))


def test_memory_limit_is_half_the_machine_unless_the_env_sets_it():
    from retention.dbt_plugin import memory_limit

    assert memory_limit({}, total_bytes=24 * 2**30) == "12288MiB"
    assert memory_limit({"RETENTION_DUCKDB_MEMORY_LIMIT": "16GB"}, total_bytes=24 * 2**30) == "16GB"
    assert memory_limit({"RETENTION_DUCKDB_MEMORY_LIMIT": ""}, total_bytes=8 * 2**30) == "4096MiB"


def test_the_connection_gets_the_memory_limit(monkeypatch, tmp_path):
    import duckdb

    from retention.dbt_plugin import Plugin

    monkeypatch.setenv("RETENTION_DUCKDB_MEMORY_LIMIT", "3GB")
    config: dict = {}
    Plugin("retention", {}).update_connection_config(
        type("Creds", (), {"path": str(tmp_path / "w.duckdb")})(), config
    )
    with duckdb.connect(str(tmp_path / "w.duckdb"), config=config) as con:
        [(value,)] = con.sql("select current_setting('memory_limit')").fetchall()
    assert value.startswith("2.7") and value.endswith("GiB"), value  # 3 GB = 2.79 GiB
