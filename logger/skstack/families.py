"""The one table of SKSTACK-IP dongle family facts.

Pure data, no behaviour: the host dialects (:mod:`logger.skstack.dialects`), the
simulator's profiles (:mod:`logger.simulate.profiles`), the ``serial.dongle`` choices in
config, ``replay --dongle`` and doctor's descriptions are all derived from :data:`FAMILIES`,
so they cannot disagree. The simulator keeps its own wire-format code (it is an independent
implementation); only these facts are shared.

Sources: the protocol fact sheet (sections 1.3 and 2.3) and public manuals:

* single stack (SS) vs dual stack (DS): DS firmware takes a SIDE argument in SKSCAN and
  SKSENDTO, prints SIDE in EVENT and ERXUDP lines and ``Side:`` in EPANDESC, and reads ``0``
  in SKINFO's 5th field where SS reads ``FFFE``;
* ROHM firmware has the product commands WOPT/ROPT/WUART/RUART (and so a binary ERXUDP
  mode); Tessera answers them ``FAIL ER04`` and always prints hex;
* ERXUDP format out of the factory: BP35A1 binary (``ROPT`` → ``OK 00``); the only BP35C0
  capture (RS-WSUHA-P) reads ``OK 01`` (hex);
* ``SKSREG SA2 1`` (DS only) adds an RSSI/LQI token before SECURED in ERXUDP (BP35C2 per
  momonga; RL7023 Stick-D/DSS has the same register). SS firmware accepts the write but its
  ERXUDP layout does not change.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Family:
    """Facts about one SKSTACK-IP firmware family."""

    name: str
    title: str
    aliases: tuple[str, ...]
    dual_stack: bool
    rohm: bool
    #: ERXUDP data as raw bytes out of the factory (ROHM WOPT 00); False = hex ASCII
    factory_binary: bool
    #: ``SKSREG SA2 1`` adds an LQI token to ERXUDP
    sa2_lqi: bool
    #: the command set: ``skstack`` (SKSTACK-IP text) or ``j11`` (ROHM's binary J11 frames, :mod:`logger.j11`);
    #: SKSTACK code (dialects, detection, the simulator's profiles) reads only the ``skstack`` rows
    command_set: str = "skstack"


ROWS: tuple[Family, ...] = (
    Family("bp35a1", "ROHM BP35A1 family (single stack)", ("wsr35a1",), dual_stack=False, rohm=True,
           factory_binary=True, sa2_lqi=False),
    Family("rl7023-ips", "Tessera RL7023 Stick-D/IPS (single stack)", (), dual_stack=False, rohm=False,
           factory_binary=False, sa2_lqi=False),
    Family("rl7023-dss", "Tessera RL7023 Stick-D/DSS (dual stack)", (), dual_stack=True, rohm=False,
           factory_binary=False, sa2_lqi=True),
    Family("bp35c0", "ROHM BP35C0/BP35C2 family (dual stack)", ("bp35c2", "rs-wsuha-p"), dual_stack=True,
           rohm=True, factory_binary=False, sa2_lqi=True),
    # not SKSTACK-IP: the binary J11 command set (its link is logger/link/j11_*.py); the SKSTACK fields
    # below are placeholders no SKSTACK code reads (it sees FAMILIES only)
    Family("j11", "ROHM J11 binary command set (RATOC RS-WSUHA-J11, ROHM BP35C1-J11-T01)",
           ("bp35c1-j11", "rs-wsuha-j11"), dual_stack=False, rohm=True, factory_binary=True, sa2_lqi=False,
           command_set="j11"),
)

#: The SKSTACK-IP families (dialects, detection, the simulator's profiles).
FAMILIES: tuple[Family, ...] = tuple(f for f in ROWS if f.command_set == "skstack")

BY_NAME: dict[str, Family] = {f.name: f for f in FAMILIES}
ALIASES: dict[str, str] = {alias: f.name for f in FAMILIES for alias in f.aliases}
#: Every family, J11 included (what ``serial.dongle``, ``run --dongle`` and doctor accept).
ALL_BY_NAME: dict[str, Family] = {f.name: f for f in ROWS}
ALL_ALIASES: dict[str, str] = {alias: f.name for f in ROWS for alias in f.aliases}

#: Every name a user may write for ``serial.dongle`` (``auto`` detects), canonical names first.
DONGLE_CHOICES: tuple[str, ...] = ("auto", *ALL_BY_NAME, *sorted(ALL_ALIASES))


def normalise(name: str) -> str:
    """Lower-case, ``_`` as ``-``: how a user-written family name is compared."""
    return str(name).strip().lower().replace("_", "-")


def family(name: str) -> Family:
    """The family called ``name`` or one of its aliases; ``ValueError`` naming the choices."""
    key = normalise(name)
    found = ALL_BY_NAME.get(ALL_ALIASES.get(key, key))
    if found is None:
        raise ValueError(f"unknown dongle {name!r}: use one of {', '.join(DONGLE_CHOICES[1:])} "
                         "(or auto to detect it)")
    return found


def is_j11(name: str | None) -> bool:
    """``name`` (a family or alias; ``auto``/None are not) uses the J11 binary command set."""
    if name is None or normalise(name) == "auto":
        return False
    try:
        return family(name).command_set == "j11"
    except ValueError:
        return False
