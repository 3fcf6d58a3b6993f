"""The MetricFlow semantic layer parses and validates (docs/semantic_layer.md).

`mf validate-configs --skip-dw` checks the semantic models, measures, metrics and the
time spine against the dbt project without a warehouse; `make dbt-test` also runs the
data-warehouse validations against the built test database.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from dbt_runner import REPO_ROOT, dbt_env

pytestmark = pytest.mark.integration  # MetricFlow parses the project

MF = Path(sys.executable).with_name("mf")


def test_mf_validate_configs_passes(tmp_path):
    result = subprocess.run(
        [str(MF), "validate-configs", "--skip-dw"],
        cwd=REPO_ROOT,
        env=dbt_env(tmp_path / "semantic.duckdb", tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "Successfully validated the semantics of built manifest" in output, output[-3000:]
    assert not re.search(r"ERRORS: [1-9]", output), output[-3000:]
