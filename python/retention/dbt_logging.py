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


@contextlib.contextmanager
def forward_to_dbt(name: str):
    """Inside a dbt process, forward logger `name` (and its children) to dbt."""
    logger = logging.getLogger(name)
    handler = None
    if "dbt.adapters" in sys.modules:
        with contextlib.suppress(ImportError):
            handler = DbtForwarder(name)
    previous = logger.level, logger.propagate
    if handler is not None:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False  # dbt prints it; a root handler would print it twice
    try:
        yield
    finally:
        if handler is not None:
            logger.removeHandler(handler)
            logger.setLevel(previous[0])
            logger.propagate = previous[1]
