"""Command arguments as the simulated firmware checks them, and the FAIL code each check gives.

``ER05`` wrong number of arguments, ``ER06`` a value of the wrong shape or out of range,
``ER04`` an unknown command, ``ER10`` a command that cannot run in the current state
(facts sheet 2.4).
"""

from __future__ import annotations

from logger.simulate.wire import HEX


class CommandFailed(Exception):
    """A command answered with ``FAIL <code>``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def expect_args(args: list[str], *counts: int) -> None:
    """``ER05`` unless ``len(args)`` is one of ``counts``."""
    if len(args) not in counts:
        raise CommandFailed("ER05")


def hex_arg(token: str, max_digits: int, lo: int = 0, hi: int | None = None) -> int:
    """A hex token of 1..``max_digits`` digits within ``lo..hi``; ``ER06`` otherwise."""
    if not (1 <= len(token) <= max_digits and HEX.match(token)):
        raise CommandFailed("ER06")
    value = int(token, 16)
    if value < lo or (hi is not None and value > hi):
        raise CommandFailed("ER06")
    return value
