"""The project's dbt-duckdb plugin imports scikit-learn when dbt connects, in dbt's main
thread, so two Python models never race on its first import (docs/toolchain.md, 15)."""

from __future__ import annotations

import subprocess
import sys


def test_connecting_imports_scikit_learn_first():
    code = (
        "import sys\n"
        "from types import SimpleNamespace\n"
        "from retention.dbt_plugin import Plugin\n"
        "assert 'sklearn' not in sys.modules\n"
        "Plugin('retention', {}).update_connection_config(SimpleNamespace(path=':memory:'), {})\n"
        "print('sklearn.base' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
