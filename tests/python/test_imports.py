"""Scoring and the registry load a shipped ChurnModel (retention.churn.model) without the
training code (issue 15: they imported training.py for ChurnModel)."""

from __future__ import annotations

import subprocess
import sys


def test_scoring_and_registry_do_not_import_training():
    code = (
        "import sys, retention.churn.scoring, retention.churn.registry; "
        "print('retention.churn.training' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
