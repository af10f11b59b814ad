"""Dongle dialects: one module per firmware family, each stating only its differences.

Adding a dongle = one module defining ``DIALECT`` plus one line in ``_MODULES``.
"""

from __future__ import annotations

from logger.skstack.dialects import bp35a1, bp35c0, rl7023_dss, rl7023_ips
from logger.skstack.dialects.base import Dialect

_MODULES = (bp35a1, rl7023_ips, rl7023_dss, bp35c0)

#: Canonical name -> dialect.
DIALECTS: dict[str, Dialect] = {m.DIALECT.name: m.DIALECT for m in _MODULES}
_ALIASES: dict[str, Dialect] = {alias: d for d in DIALECTS.values() for alias in d.aliases}


def dialect_names() -> list[str]:
    """Every accepted name, canonical names first."""
    return sorted(DIALECTS) + sorted(_ALIASES)


def get_dialect(name: str) -> Dialect:
    """The dialect called ``name`` (case-insensitive; ``_`` and ``-`` are the same)."""
    key = str(name).strip().lower().replace("_", "-")
    found = DIALECTS.get(key) or _ALIASES.get(key)
    if found is None:
        raise ValueError(
            f"unknown dongle dialect {name!r}: use one of {', '.join(dialect_names())} "
            "(or let the logger detect it)"
        )
    return found


__all__ = ["DIALECTS", "Dialect", "dialect_names", "get_dialect"]
