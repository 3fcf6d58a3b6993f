"""CPU seconds per thread of this process, from /proc: who kept the cores busy.

A build's Python models run in dbt's process, their work split over threads: dbt's
workers, churn training's fit workers, TensorFlow's and DuckDB's own threads. The process's
CPU says how busy the cores were; this says which threads made it so (benchmarks/ml_scale.py
reports it for training and for scoring). Python threads are named as `threading` names them,
native ones by their kernel name: `tf_Compute` for TensorFlow's, the process's own name for
threads that set none (DuckDB's, OpenMP's). Linux only (/proc/self/task).
"""

from __future__ import annotations

import os
import re
import threading
from collections import defaultdict
from pathlib import Path

TASKS = Path("/proc/self/task")


def stat_fields(text: str) -> tuple[str, list[str]]:
    """(name, fields) of a /proc `stat` line, the fields from the state on (fields[0] is
    stat's third field). The name is in parentheses and may hold spaces or parentheses
    itself, so the fields are read after its last ')'."""
    return text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()


def parse_task_stat(text: str) -> tuple[str, float]:
    """(kernel name, CPU seconds) from a /proc task `stat` line."""
    name, fields = stat_fields(text)
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return name, ticks / os.sysconf("SC_CLK_TCK")


def thread_group(name: str) -> str:
    """A thread's group: pool threads without their number (`churn-fit_0` -> `churn-fit`,
    `ThreadPoolExecutor-0_1` -> `ThreadPoolExecutor`), so runs compare by role."""
    return re.sub(r"(-\d+)?_\d+$", "", name)


class ThreadCpu:
    """Samples every thread's CPU every `interval` seconds while running (a context manager).

    A thread's CPU is its last sample, so a thread that ends between two samples loses at
    most `interval` seconds of it; `total()` is exact (the process's own counter)."""

    def __init__(self, interval: float = 0.5):
        self.interval = interval
        self.seconds: dict[int, float] = {}  # native thread id -> CPU seconds at last sample
        self.names: dict[int, str] = {}
        self._start: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="thread-cpu", daemon=True)

    def __enter__(self) -> ThreadCpu:
        self._process_start = os.times()
        self._start = dict(self._sample())
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._record()
        end = os.times()
        self._total = (end.user - self._process_start.user) + (
            end.system - self._process_start.system
        )

    def _sample(self):
        python_names = {t.native_id: t.name for t in threading.enumerate()}
        for task in TASKS.iterdir():
            try:
                kernel_name, cpu = parse_task_stat((task / "stat").read_text())
            except (OSError, ValueError):
                continue  # the thread ended while being read
            tid = int(task.name)
            self.names.setdefault(tid, python_names.get(tid) or kernel_name)
            yield tid, cpu

    def _record(self) -> None:
        for tid, cpu in self._sample():
            self.seconds[tid] = cpu

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._record()

    def by_group(self) -> dict[str, float]:
        """CPU seconds used while sampling, per thread group, largest first."""
        groups: dict[str, float] = defaultdict(float)
        for tid, cpu in self.seconds.items():
            used = cpu - self._start.get(tid, 0.0)
            if used > 0 and self.names.get(tid) != "thread-cpu":
                groups[thread_group(self.names[tid])] += used
        return dict(sorted(((g, round(s, 1)) for g, s in groups.items()), key=lambda x: -x[1]))

    def total(self) -> float:
        """The process's CPU seconds (user + system) between enter and exit."""
        return self._total
