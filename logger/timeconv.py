"""POSIX seconds <-> aware datetimes, safe past 2038 on a 32-bit ``time_t``.

The ONE place the logger turns a POSIX time into a date and time. Debian's armhf Python
(Raspberry Pi OS 32-bit, the armv7 image) has a 32-bit ``time_t``: ``datetime.fromtimestamp``,
``time.gmtime`` and ``time.localtime`` raise ``OverflowError`` ("timestamp out of range for
platform time_t") for any time after 2038-01-19 03:14:07 UTC, and ``os.utime`` does too.
Everything here is plain date arithmetic instead (``EPOCH_UTC + timedelta``, then the zone's
own rules through ``astimezone``), which gives the same results on every platform, for any
year from 1 to 9999. ``tests/test_timeconv.py`` forbids the C-library calls elsewhere in
``logger/``; scripts/test-arm.sh runs it inside the armv7 image, where they would overflow.

Aware datetimes go back to POSIX seconds with ``dt.timestamp()``: for an aware datetime that
is date arithmetic too (a naive one would go through ``mktime``: :func:`to_posix` refuses it).

:data:`SANE_MIN` / :data:`SANE_MAX` bound the times the logger accepts from its own state
files (:mod:`logger.state`): a meter logged by this program lives between 2000 and 2100.
"""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime, timedelta, tzinfo

EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)

#: 2000-01-01T00:00:00Z and 2100-01-01T00:00:00Z: stored times outside make no sense.
SANE_MIN = 946_684_800.0
SANE_MAX = 4_102_444_800.0


def from_posix(t: float, tz: tzinfo) -> datetime:
    """``datetime.fromtimestamp(t, tz)`` without the platform's ``time_t`` (same microsecond rounding)."""
    return (EPOCH_UTC + timedelta(seconds=t)).astimezone(tz)


def utc_offset(t: float, tz: tzinfo) -> float:
    """Seconds ``tz`` is ahead of UTC at POSIX time ``t`` (32400.0 for Asia/Tokyo)."""
    off = from_posix(t, tz).utcoffset()
    return off.total_seconds() if off is not None else 0.0


def to_posix(dt: datetime) -> float:
    """POSIX seconds of an aware datetime (a naive one raises ``ValueError``: its zone is unknown)."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt.isoformat()}: give it a time zone")
    return dt.timestamp()


def is_sane(t: object) -> bool:
    """True for a number (not a bool) of POSIX seconds within [SANE_MIN, SANE_MAX)."""
    if isinstance(t, bool) or not isinstance(t, int | float):
        return False
    return math.isfinite(t) and SANE_MIN <= t < SANE_MAX


def describe(t: object) -> str:
    """``t`` for a log line: the UTC date and time when it is a usable number, else its repr."""
    if isinstance(t, int | float) and not isinstance(t, bool) and math.isfinite(t) and abs(t) < 2.5e11:
        return f"{t:.0f} ({from_posix(t, UTC).strftime('%Y-%m-%dT%H:%M:%SZ')})"
    return repr(t)


def set_mtime(path: str | os.PathLike[str], t: float) -> bool:
    """Set ``path``'s access and modification time to ``t``; False (file untouched) where the
    platform's ``time_t`` cannot hold ``t`` (32-bit, after 2038) or the file system refuses."""
    try:
        os.utime(path, (t, t))
    except (OverflowError, OSError, ValueError):
        return False
    return True
