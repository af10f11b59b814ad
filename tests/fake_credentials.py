"""Credentials for the secrets tests, made at run time from a seed: distinctive enough that a
secrets grep cannot match them by chance, and never stored in the repository as literals that look
like a real B-route password or InfluxDB token (secrets belong in .env, which git ignores)."""

from __future__ import annotations

import random
from typing import NamedTuple

HEX = "0123456789ABCDEF"
#: letters and digits without the look-alikes (0/O, 1/l/I), both cases: never mistaken for the hex
#: the dongle dialogue prints
MIXED = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class FakeCredentials(NamedTuple):
    rbid: str  #: 32 hex digits, like a PairID-bearing B-route ID
    password: str  #: 12 letters/digits
    token: str  #: an InfluxDB token stand-in


def fake_credentials(seed: int) -> FakeCredentials:
    rng = random.Random(seed)
    pick = lambda alphabet, n: "".join(rng.choice(alphabet) for _ in range(n))  # noqa: E731
    return FakeCredentials(pick(HEX, 32), pick(MIXED, 12), "tok-" + pick(MIXED, 40))


def windows(secret: str, size: int) -> list[str]:
    """Every ``size``-character part of ``secret``: what a test checks is not printed even partly."""
    return [secret[i : i + size] for i in range(len(secret) - size + 1)]
