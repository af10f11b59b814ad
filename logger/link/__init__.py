"""The dongle link: one sans-I/O dialogue (probe, scan, join, send) for ``run`` and ``doctor``.

Layers (each imports only those to its left): skstack ← link ← session ← runner. Doctor
imports link, never session. Nothing here reads a clock, sleeps or touches a port: the owner
feeds bytes and time into :class:`~logger.link.link.Link` and drives flows with
:class:`~logger.link.flow.Driver`.

* :mod:`.flow`     flow primitives (Send, Wait, Note; command, wait_for, sleep) and the Driver
* :mod:`.link`     parser, dialect, time and send gates of one open port
* :mod:`.settings` LinkSettings and their defaults
* :mod:`.probe`    dongle answers? which family? ERXUDP mode
* :mod:`.scan`     ladder, chunked sweep, PairID choice
* :mod:`.join`     credentials, join, candidates, terminate
* :mod:`.send`     SKSENDTO behind the duty-limit and re-authentication gates
* :mod:`.detect`   ``auto``: SKSTACK or J11 (the J11 modules imported only when asked)
* :mod:`.backoff`  recovery timing as pure functions
* :mod:`.errors`   what a flow raises to its owner
* :mod:`.j11_events`, :mod:`.j11_flows`, :mod:`.j11_join`  the same flows for a J11 adapter
  (ROHM's binary command set), its frames translated into the same events

:func:`flows_for` picks the flows for a link's command set (``link.flows``): owners call
``link.flows.probe(link)`` etc. and never need to know which command set the dongle speaks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from logger.typehints import Any


@dataclass(frozen=True, slots=True)
class Flows:
    """One command set's flows, with the signatures and results of the SKSTACK ones."""

    probe: Callable[..., Any]
    credentials: Callable[..., Any]
    scan: Callable[..., Any]
    join: Callable[..., Any]
    join_candidates: Callable[..., Any]
    find_and_join: Callable[..., Any]
    terminate: Callable[..., Any]
    send_udp: Callable[..., Any]
    #: the cheap "are you there, echo off" step a recovery starts with
    rearm: Callable[..., Any]


def flows_for(family: str | None) -> Flows:
    """``skstack``, ``j11``, or None (``auto`` before the probe: the probe tells the two apart)."""
    from logger.link import join, scan, send

    if family == "j11":
        from logger.link import j11_flows, j11_join

        return Flows(j11_flows.probe, j11_flows.credentials, j11_join.scan, j11_join.join, j11_join.join_candidates,
                     j11_join.find_and_join, j11_join.terminate, send.send_udp, j11_flows.rearm)
    from logger.link import detect

    probe = detect.detect if family is None else detect.skstack_probe
    return Flows(probe, join.credentials, scan.scan, join.join, join.join_candidates, join.find_and_join,
                 join.terminate, send.send_udp, detect.skstack_rearm)
