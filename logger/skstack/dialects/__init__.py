"""Dongle dialects: one :class:`Dialect` per row of the family table.

Adding a dongle family = one row in :data:`logger.skstack.families.FAMILIES`.
"""

from __future__ import annotations

from logger.skstack.dialects.base import Dialect
from logger.skstack.families import DONGLE_CHOICES, FAMILIES, family

#: Canonical name -> dialect.
DIALECTS: dict[str, Dialect] = {f.name: Dialect(f) for f in FAMILIES}


def dialect_names() -> list[str]:
    """Every accepted name, canonical names first (without ``auto``)."""
    return list(DONGLE_CHOICES[1:])


def get_dialect(name: str) -> Dialect:
    """The dialect called ``name`` (case-insensitive; ``_`` and ``-`` are the same).

    ``ValueError`` for a J11 family: it has no SKSTACK dialect (its link is ``logger/link/j11_*``)."""
    found = family(name)
    if found.name not in DIALECTS:
        raise ValueError(f"{found.name} is not an SKSTACK-IP dongle (it speaks the J11 binary command set)")
    return DIALECTS[found.name]


__all__ = ["DIALECTS", "Dialect", "dialect_names", "get_dialect"]
