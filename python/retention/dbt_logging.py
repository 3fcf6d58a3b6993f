"""Forward the package's log records to dbt's logger inside a dbt Python model.

dbt Python models run in dbt's own process; records sent to Python's logging
would not reach dbt's console or logs/dbt.log. Inside `forward_to_dbt(name)`,
the named logger's INFO and WARNING records go through dbt's AdapterLogger, so
stages and timings of training, scoring and segmentation show in the build
output.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading


class DbtForwarder(logging.Handler):
    """Hands log records to dbt's logger, so they reach dbt's console and log file."""

    def __init__(self, name: str):
        super().__init__(logging.INFO)
        from dbt.adapters.events.logging import AdapterLogger

        self.dbt_logger = AdapterLogger(name)

    def emit(self, record: logging.LogRecord) -> None:
        message = self.format(record)
        if record.levelno >= logging.WARNING:
            self.dbt_logger.warning(message)
        else:
            self.dbt_logger.info(message)


_lock = threading.Lock()
_active: dict[str, tuple[DbtForwarder, int, tuple[int, bool]]] = {}


@contextlib.contextmanager
def forward_to_dbt(name: str):
    """Inside a dbt process, forward logger `name` (and its children) to dbt.

    dbt runs Python models in parallel threads, and two of them may forward the same
    logger at once (training and customer value both log as retention.churn): one
    handler is shared and counted, so every record reaches dbt exactly once.
    """
    if "dbt.adapters" not in sys.modules:
        yield
        return
    logger = logging.getLogger(name)
    with _lock:
        if name in _active:
            handler, users, previous = _active[name]
            _active[name] = (handler, users + 1, previous)
        else:
            try:
                handler = DbtForwarder(name)
            except ImportError:
                handler = None
            if handler is not None:
                previous = logger.level, logger.propagate
                logger.addHandler(handler)
                logger.setLevel(logging.INFO)
                logger.propagate = False  # dbt prints it; a root handler would print it twice
                _active[name] = (handler, 1, previous)
    try:
        yield
    finally:
        with _lock:
            if name in _active:
                handler, users, previous = _active[name]
                if users > 1:
                    _active[name] = (handler, users - 1, previous)
                else:
                    del _active[name]
                    logger.removeHandler(handler)
                    logger.setLevel(previous[0])
                    logger.propagate = previous[1]
