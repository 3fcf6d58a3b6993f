"""Failures a user can fix. Their message says what happened and what to do; the CLI
prints it on one line, without a traceback."""

from __future__ import annotations


class UserError(RuntimeError):
    """A failure caused by input or environment the user controls (a missing or locked
    file, a bad option), not by a bug."""
