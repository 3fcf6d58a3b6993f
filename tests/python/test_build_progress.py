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
    "BTYD baseline": (
        rf"retention\.churn adapter: bg_nbd fitted at \d{{4}}-\d\d-\d\d on \d+ customers in "
        rf"{SECONDS}"
    ),
    "each candidate": (
        rf"retention\.churn adapter: fitted logistic_regression at \d{{4}}-\d\d-\d\d on \d+ "
        rf"rows \(\d+ cutoffs\) in {SECONDS}"
    ),
    "selection": r"retention\.churn adapter: chose \S+ out of \d+ recipes",
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


@pytest.mark.integration
@pytest.mark.parametrize("stage", sorted(EXPECTED))
def test_stage_and_timing_reach_the_dbt_log(dbt_log, stage):
    assert re.search(EXPECTED[stage], dbt_log), f"{stage}: no line matching {EXPECTED[stage]!r}"


def test_two_models_forwarding_one_logger_send_each_record_once(monkeypatch):
    """dbt runs training and customer value in parallel threads, both logging as
    retention.churn: one shared forwarder, so each line reaches dbt's log once."""
    import logging
    import threading

    import dbt.adapters.events.logging  # noqa: F401  (forward_to_dbt forwards only inside dbt)

    from retention import dbt_logging

    sent = []
    monkeypatch.setattr(dbt_logging.DbtForwarder, "emit", lambda self, record: sent.append(record))
    logger = logging.getLogger("retention.test_forwarding")
    before = logger.level, logger.propagate
    inside, leave = threading.Barrier(3), threading.Event()  # two models + this test

    def model() -> None:
        with dbt_logging.forward_to_dbt("retention.test_forwarding"):
            inside.wait(timeout=10)
            leave.wait(timeout=10)

    threads = [threading.Thread(target=model) for _ in range(2)]
    for thread in threads:
        thread.start()
    inside.wait(timeout=10)  # both models are inside the forwarder now
    forwarders = [h for h in logger.handlers if isinstance(h, dbt_logging.DbtForwarder)]
    logger.info("stage done in 1.0s")
    leave.set()
    for thread in threads:
        thread.join(timeout=10)
    assert len(forwarders) == 1 and len(sent) == 1
    assert not [h for h in logger.handlers if isinstance(h, dbt_logging.DbtForwarder)]
    assert (logger.level, logger.propagate) == before


@pytest.mark.integration
def test_no_line_reaches_the_dbt_log_twice(dbt_log):
    lines = re.findall(r"\]: (retention\.\w+ adapter: .*)", dbt_log)
    assert lines, "no forwarded line at all"
    repeated = {line for line in lines if lines.count(line) > 1}
    assert not repeated, f"forwarded twice: {sorted(repeated)[:3]}"
