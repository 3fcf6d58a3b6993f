"""retention.thread_cpu: CPU seconds per thread, read from /proc (Linux)."""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest

from retention.thread_cpu import ThreadCpu, parse_task_stat, thread_group

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_task_stat_is_read_after_the_name_even_when_the_name_has_spaces_and_parentheses():
    ticks = os.sysconf("SC_CLK_TCK")
    # pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
    line = f"4242 (tf (Compute) 2) R 1 1 1 0 -1 4194560 10 0 0 0 {3 * ticks} {ticks} 0 0 20 0"
    assert parse_task_stat(line) == ("tf (Compute) 2", 4.0)


@pytest.mark.parametrize(
    ("name", "group"),
    [
        ("churn-fit_0", "churn-fit"),
        ("churn-fit_1", "churn-fit"),
        ("ThreadPoolExecutor-0_1", "ThreadPoolExecutor"),
        ("MainThread", "MainThread"),
        ("tf_Compute", "tf_Compute"),
    ],
)
def test_pool_threads_group_by_role(name, group):
    assert thread_group(name) == group


def test_a_busy_thread_gets_its_cpu_and_a_sleeping_one_none():
    done, release = threading.Event(), threading.Event()
    burnt = {}

    def spin():
        x = 0
        while time.thread_time() < 0.3:  # CPU, not wall time: the same under load
            x += 1
        burnt["seconds"] = time.thread_time()
        done.set()
        release.wait()  # alive until the sampler's last read

    def sleep():
        done.wait()
        release.wait()

    with ThreadCpu(interval=0.05) as cpu:
        threads = [
            threading.Thread(target=spin, name="spinner_0"),
            threading.Thread(target=sleep, name="sleeper_0"),
        ]
        for t in threads:
            t.start()
        done.wait()
    release.set()
    for t in threads:
        t.join()
    groups = cpu.by_group()
    assert groups["spinner"] == pytest.approx(burnt["seconds"], abs=0.05)
    assert groups.get("sleeper", 0.0) < 0.05
    assert cpu.total() >= groups["spinner"] - 0.05
