"""The one rule for B-route credentials, used by config, ``doctor`` and the command builder.

* B-route ID (認証ID): exactly 32 letters/digits.
* B-route password: exactly 12 letters/digits.

That is what the utilities issue (their letter prints the ID as 32 characters and the
password as 12, letters and digits only) and what :func:`logger.skstack.commands.sksetpwd` /
:func:`~logger.skstack.commands.sksetrbid` send. SKSETPWD itself would take any 1-32 ASCII
characters, but anything outside this rule is a copying mistake (a space, a quote, a dash, a
look-alike character), so settings are refused when loaded (exit 2) instead of failing the
join at run time.

A problem is a :class:`CredentialError` that names what is wrong and the fix, never the value:
only its length or the position of a bad character (secrets never appear in a message).
"""

from __future__ import annotations

import re

RBID_LEN = 32
PASSWORD_LEN = 12

_ALNUM = re.compile(r"[0-9A-Za-z]")


class CredentialError(ValueError):
    """``what`` (e.g. ``B-route password``) ``problem``; ``fix``. ``position``: 1-based, for a bad character."""

    def __init__(self, what: str, problem: str, fix: str, position: int | None = None) -> None:
        super().__init__(what, problem, fix, position)
        self.what = what
        self.problem = problem
        self.fix = fix
        self.position = position

    def __str__(self) -> str:
        return f"{self.what} {self.problem}; {self.fix}"


def _check(value: object, what: str, length: int) -> str:
    fix = "copy it again from the utility's B-route letter"
    if not isinstance(value, str):
        raise CredentialError(what, "must be text", fix)
    if len(value) != length:
        raise CredentialError(what, f"must be exactly {length} characters (got {len(value)})", fix)
    for pos, ch in enumerate(value, 1):
        if not _ALNUM.fullmatch(ch):
            raise CredentialError(what, f"must contain only letters and digits (position {pos} is not one)",
                                  fix + " (look for spaces, quotes, dashes or look-alike characters)", pos)
    return value


def check_rbid(value: object) -> str:
    """``value`` if it is a well-formed B-route ID, else :class:`CredentialError`."""
    return _check(value, "B-route ID", RBID_LEN)


def check_password(value: object) -> str:
    """``value`` if it is a well-formed B-route password, else :class:`CredentialError`."""
    return _check(value, "B-route password", PASSWORD_LEN)
