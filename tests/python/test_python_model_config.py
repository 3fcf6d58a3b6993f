"""Vars reach the dbt Python models.

dbt passes a Python model only the config keys its static parser sees in
``dbt.config.get("<key>")`` calls, and it does not look inside every expression
(a call nested in ``f(dbt.config.get("k") or {})`` is missed). A missed key
silently gives the model ``config_dict = {}``: every churn, CLV and segment var
is ignored and the package defaults run. This compiles the Python models with
non-default vars and checks the values are in the code dbt would execute.
(ml_churn_monitoring and ml_churn_backtest_predictions read no config: what they need is
computed in SQL.)
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from dbt_runner import REPO_ROOT, run_dbt

pytestmark = pytest.mark.integration  # compiles the project with dbt

# model -> the config key it reads
PYTHON_MODELS = {
    "ml_churn_training": "churn",
    "ml_churn_scores": "churn",
    "ml_customer_value": "churn",
    "ml_customer_segments": "segments",
    "ml_recommendation_evaluation": "recommend",
    "ml_product_recommendations": "recommend",
    "publish_marts": "publish",
}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> dict[str, dict]:
    work = tmp_path_factory.mktemp("python_model_config")
    run_dbt(
        ["compile", "--quiet", "--select", *PYTHON_MODELS],
        db_path=work / "config.duckdb",
        work_dir=work,
        dbt_vars={
            "churn_candidates": ["logistic_regression"],
            "churn_horizon_days": 60,
            "clv_horizon_days": 123,
            "segment_k_max": 5,
            "recommend_owned_products": "never",
            "recommendation_horizon_days": 21,
            "publish_path": str(work / "published"),
        },
    )
    configs = {}
    for path in (work / "target" / "compiled").rglob("*.py"):
        match = re.search(r"^config_dict = (.*)$", path.read_text(), flags=re.MULTILINE)
        assert match, f"{path.name}: no config_dict in the compiled model"
        configs[path.stem] = ast.literal_eval(match.group(1))
    return configs


def test_every_python_model_reads_its_config(compiled):
    assert set(compiled) == set(PYTHON_MODELS)
    for model, key in PYTHON_MODELS.items():
        assert compiled[model].get(key), f"{model} gets no '{key}' config: {compiled[model]}"


def test_var_overrides_reach_the_models(compiled):
    for model in ("ml_churn_training", "ml_churn_scores", "ml_customer_value"):
        churn = compiled[model]["churn"]
        assert churn["candidates"] == "logistic_regression", model
        assert int(churn["clv_horizon_days"]) == 123, model
    assert int(compiled["ml_customer_segments"]["segments"]["k_max"]) == 5
    # The purchase horizon of the BTYD expectations; the label horizon is not config: the
    # models read it from int_cutoffs_generated (test_monitoring_build checks it lands).
    assert int(compiled["ml_customer_value"]["churn"]["churn_horizon_days"]) == 60
    assert "horizon_days" not in compiled["ml_churn_training"]["churn"]
    for model in ("ml_recommendation_evaluation", "ml_product_recommendations"):
        recommend = compiled[model]["recommend"]
        assert recommend["owned_products"] == "never", model
        assert int(recommend["horizon_days"]) == 21, model
    assert Path(compiled["publish_marts"]["publish"]["root"]).name == "published"
    assert not Path(compiled["publish_marts"]["publish"]["root"]).is_relative_to(REPO_ROOT)
