"""Secrets (B-route ID and password, InfluxDB token) that must never be printed.

:class:`Secret` is deliberately *not* a ``str``: concatenating or formatting it
cannot leak the value by accident; ``str()``, ``repr()`` and f-strings all give
``********``. Code that really needs the value calls :meth:`Secret.reveal`.

:class:`RedactingFilter` is a logging filter that replaces known secret values
in every record's final message, as a second line of defence (for example a
library that logs an HTTP header).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

MASK = "********"


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("a Secret wraps a str")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __len__(self) -> int:
        return len(self._value)

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __format__(self, spec: str) -> str:
        return format(MASK, spec)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> object:
        raise TypeError("a Secret cannot be pickled")


class RedactingFilter(logging.Filter):
    """Masks the given secret values wherever they appear in a log message.

    Attach it to handlers (``handler.addFilter(RedactingFilter(settings.secret_values()))``).
    """

    def __init__(self, values: Iterable[str]) -> None:
        super().__init__()
        # Longest first so a secret containing another is masked whole; ignore trivially short values.
        self._values = sorted({v for v in values if v and len(v) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._values:
            return True
        message = record.getMessage()
        masked = message
        for value in self._values:
            masked = masked.replace(value, MASK)
        if masked != message:
            record.msg = masked
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            text = record.exc_text
            for value in self._values:
                text = text.replace(value, MASK)
            record.exc_text = text
        return True
