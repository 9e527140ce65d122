"""Errors that carry a message the user can act on."""

from __future__ import annotations


class UserError(Exception):
    """An error whose message says what went wrong and what to do; ``ioc`` exits with 2."""
