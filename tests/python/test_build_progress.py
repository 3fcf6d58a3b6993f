"""Long Python steps of a build report their stages and timings in dbt's log file.

dbt runs the Python models in its own process; without the forwarder
(retention.dbt_logging) their log lines would reach neither the console nor
logs/dbt.log, and a 2-minute BG/NBD fit would look like a hang. Reuses the
session's small build.
"""

from __future__ import annotations

import re

import pytest

SECONDS = r"\d+\.\ds"
EXPECTED = {
    "training start": r"retention\.churn adapter: training on \d+ snapshot rows",
    "BTYD baseline": rf"retention\.churn adapter: baseline bg_nbd fitted in {SECONDS}",
    "each candidate": (
        rf"retention\.churn adapter: candidate logistic_regression: validation log loss "
        rf"[\d.]+ \(fit in {SECONDS}\)"
    ),
    "training end": rf"retention\.churn adapter: trained churn-\w+ in {SECONDS}",
    "scoring": rf"retention\.churn adapter: scored \d+ customers with churn-\w+ in {SECONDS}",
    "customer value": (
        rf"retention\.churn adapter: customer value: Gamma-Gamma CLV \(\d+ days\) in "
        rf"{SECONDS}; \d+ customers in {SECONDS}"
    ),
    "segments": rf"retention\.segments adapter: segments seg-\w+: k=\d+ .* in {SECONDS}",
}


@pytest.fixture(scope="module")
def dbt_log(small_build) -> str:
    assert small_build.log.is_file(), f"no dbt log at {small_build.log}"
    return re.sub(r"\x1b\[[0-9;]*m", "", small_build.log.read_text())


@pytest.mark.parametrize("stage", sorted(EXPECTED))
def test_stage_and_timing_reach_the_dbt_log(dbt_log, stage):
    assert re.search(EXPECTED[stage], dbt_log), f"{stage}: no line matching {EXPECTED[stage]!r}"
