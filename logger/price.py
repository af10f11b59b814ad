"""The unit price (JPY per kWh) that ``summary`` and the live page turn kWh into cost with.

A light module of its own: ``run --web`` reads the price at start without importing the
``summary`` command (argparse and the rest).
"""

from __future__ import annotations

import os
from decimal import Decimal, InvalidOperation
from pathlib import Path

PRICE_ENV = "UNIT_PRICE_JPY_PER_KWH"


def parse_price(text: str, where: str) -> Decimal:
    try:
        price = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{where}: {text!r} is not a number (JPY per kWh, e.g. 31 or 30.5)") from None
    if not price.is_finite() or price < 0:
        raise ValueError(f"{where}: {text!r} must be a number >= 0 (JPY per kWh)")
    return price


def env_price(dotenv: str | os.PathLike[str] = ".env") -> tuple[str, str] | None:
    """(text, where) of the unit price from the environment, else from ``dotenv``; None if unset.
    Also the price of ``run --web``."""
    if os.environ.get(PRICE_ENV, "").strip():
        return os.environ[PRICE_ENV], PRICE_ENV
    if Path(dotenv).is_file():
        from dotenv import dotenv_values

        value = dotenv_values(dotenv).get(PRICE_ENV)
        if value and value.strip():
            return value, f"{PRICE_ENV} in {dotenv}"
    return None
