"""Recovery timing as pure functions: how long to wait before the next attempt.

Every back-off of ``run`` is here, so the rules can be read (and tested) in one place.
"""

from __future__ import annotations

#: Between attempts to (re)open the serial port, by consecutive failure.
REOPEN_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


def reopen_delay(failures: int) -> float:
    """Wait before opening the port again after ``failures`` (0-based) failed opens or reopen requests."""
    return REOPEN_BACKOFF[min(max(failures, 0), len(REOPEN_BACKOFF) - 1)]


def wrong_credentials_delay(failures: int) -> float:
    """After the own meter refused the credentials ``failures`` (>= 1) times in a row: 15 min,
    30 min, then hourly — a wrong password must not hammer the meter."""
    return min(3600.0, 900.0 * 2 ** (failures - 1))


def join_retry_delay(failures: int) -> float:
    """After a join failed ``failures`` (>= 1) times although these credentials worked before
    (the meter is out of reach): 30 s doubling to 5 min."""
    return min(300.0, 30.0 * 2 ** (failures - 1))


def no_beacon_delay(rounds: int) -> float:
    """After ``rounds`` (0-based) full scans found no beacon of the meter: 30 s doubling to 10 min."""
    return min(600.0, 30.0 * 2 ** rounds)


def recovery_delay(round_: int) -> float:
    """Before the ``round_``-th (1-based) recovery since the meter last answered: none for the
    first, then 30 s doubling to 5 min."""
    return 0.0 if round_ <= 1 else min(300.0, 30.0 * 2 ** (round_ - 2))


def scan_ladder(lo: int, hi: int, known: int | None = None) -> list[int]:
    """Scan durations to try, in order.

    A longer duration listens longer on every channel and finds every beacon a shorter one
    finds, so a failed sweep is pure cost: a sweep of the 28 channels takes 4.6 s at 4, 8.9 s
    at 5, 17.5 s at 6 and 34.7 s at 7. The ladder starts low (a near meter is found in a few
    seconds), then jumps straight to 6, where most meters answer, and steps up from there:
    4, 6, 7, 8. A duration that found this meter before (``known``, from the scan cache) is
    tried first.
    """
    ladder = [lo] + [d for d in range(max(lo + 1, 6), hi + 1)]
    if known is not None and lo <= known <= hi:
        ladder = [known] + [d for d in ladder if d > known]
    return ladder
