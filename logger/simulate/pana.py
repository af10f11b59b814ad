"""PANA in the simulated dongle: ``SKJOIN``, ``SKREJOIN``, ``SKTERM`` and the session lifetime.

* ``SKJOIN``: succeeds when S2/S3 are the meter's channel and PAN, the address is the
  meter's link-local address and SKSETPWD/SKSETRBID match the meter's credentials:
  ``OK``, ``EVENT 21 .. 02`` (neighbour solicitation), ``EVENT 02``, ``EVENT 21 .. 00``,
  three unsolicited PANA ERXUDP (port 02CC, SECURED 0, the last with the Session-Lifetime
  AVP), ``EVENT 25`` after ``join_time`` and the meter's D5 instance-list INF to FF02::1.
  Wrong credentials: the PANA start, then ``EVENT 24`` after ``pana_fail_time``. A
  neighbour's meter (its address, with S2/S3 set to its channel and PAN) answers the same
  way as the household's meter with wrong credentials: it does not know these credentials.
  Unreachable meter (wrong channel/PAN/address, or silent): ``EVENT 24`` after
  ``pana_fail_time``.
* Session: lasts ``session_lifetime`` (the meter's Session-Lifetime); then ``EVENT 29``
  and, with S17=1 (default), a re-authentication ending in ``EVENT 25`` ``reauth_time``
  later. S16 is stored but, as PaC, the meter's lifetime wins.
* ``ER10``: SKREJOIN/SKTERM without a session, SKJOIN during a join or session.
* PANA traffic of a join or re-authentication is counted against the duty budget but never
  refused.
"""

from __future__ import annotations

import hmac
import random
from dataclasses import dataclass

from logger.simulate.arguments import CommandFailed, expect_args
from logger.simulate.core import DongleCore, SessionState
from logger.simulate.registers import R_AUTO_REAUTH, R_CHANNEL, R_PAN
from logger.simulate.wire import IPV6, PANA_PORT

# -- PANA payloads (what a meter sends on port 716 during a join) ------------------------------
PANA_R, PANA_S, PANA_C = 0x8000, 0x4000, 0x2000


def _avp(code: int, value: bytes) -> bytes:
    pad = b"\x00" * (-len(value) % 4)
    return code.to_bytes(2, "big") + b"\x00\x00" + len(value).to_bytes(2, "big") + b"\x00\x00" + value + pad


def _pana(flags: int, rng: random.Random, avps: list[bytes]) -> bytes:
    body = b"".join(avps)
    header_rest = flags.to_bytes(2, "big") + (2).to_bytes(2, "big") + rng.randbytes(4) + rng.randbytes(4)
    length = 4 + len(header_rest) + len(body)
    return b"\x00\x00" + length.to_bytes(2, "big") + header_rest + body


def pana_start(rng: random.Random) -> bytes:
    """PANA-Auth-Request with the S flag (PRF and integrity algorithm AVPs)."""
    return _pana(PANA_R | PANA_S, rng, [_avp(6, (5).to_bytes(4, "big")), _avp(3, (12).to_bytes(4, "big"))])


def pana_eap(rng: random.Random) -> bytes:
    """PANA-Auth-Request carrying an EAP-PSK request."""
    return _pana(PANA_R, rng, [_avp(2, bytes([0x01, rng.randrange(256), 0x00, 0x18, 0x2F]) + rng.randbytes(19))])


def pana_complete(rng: random.Random, lifetime: float) -> bytes:
    """Final PANA-Auth-Request (R|C): Result-Code, EAP Success, Key-Id, Session-Lifetime, AUTH."""
    seconds = min(int(lifetime), 0xFFFFFFFF)
    return _pana(
        PANA_R | PANA_C,
        rng,
        [
            _avp(7, b"\x00\x00\x00\x00"),
            _avp(2, bytes([0x03, rng.randrange(256), 0x00, 0x04])),
            _avp(4, b"\x00\x00" + rng.randbytes(2)),
            _avp(8, seconds.to_bytes(4, "big")),
            _avp(1, rng.randbytes(16)),
        ],
    )


@dataclass(frozen=True)
class Peer:
    """A meter that answers a join: the household's or a neighbour's."""

    address: str
    mac: str
    lqi: int
    #: Only the household's meter knows the household's B-route credentials.
    own: bool


class PanaCommands(DongleCore):
    def _credentials_ok(self) -> bool:
        return (
            self._pwd is not None
            and self._rbid is not None
            and hmac.compare_digest(self._pwd.encode(), self.config.password.encode())
            and hmac.compare_digest(self._rbid.encode(), self.config.rbid.encode())
        )

    def _own_peer(self) -> Peer:
        return Peer(self.meter_address, self.config.meter_mac, self.config.lqi, own=True)

    def _join_peer(self, address: str, t: float) -> Peer | None:
        """The meter that hears a join to ``address`` on the current S2/S3, if any."""
        channel, pan = self.registers[R_CHANNEL], self.registers[R_PAN]
        if address == self.meter_address:
            c = self.config
            if channel == c.channel and pan == c.pan_id and not self._meter_silent(t):
                return self._own_peer()
            return None
        for n in self.config.neighbours:
            if address == n.address and channel == n.channel and pan == n.pan_id:
                return Peer(n.address, n.mac, n.lqi, own=False)
        return None

    def _cmd_skjoin(self, args: list[str], now: float) -> None:
        expect_args(args, 1)
        if not IPV6.match(args[0]):
            raise CommandFailed("ER06")
        if self.session != SessionState.NONE:
            raise CommandFailed("ER10")
        self._ok(now)
        t0 = max(now, self._busy_until)
        self.session = SessionState.JOINING
        self._session_gen += 1
        gen = self._session_gen
        target = args[0].upper()
        peer = self._join_peer(target, t0)
        ev = self.profile.event
        self._emit(t0 + 0.05, ev(0x21, target, 0x02))
        if peer is None:
            self._at(t0 + self.config.pana_fail_time, lambda t: self._join_failed(t, gen))
            return
        self._emit(t0 + 0.10, ev(0x02, peer.address))
        self._emit(t0 + 0.15, ev(0x21, peer.address, 0x00))
        self._account(t0 + 0.15, 40)
        j = self.config.join_time
        self._emit(t0 + 0.3 * j, self._pana_rx(pana_start(self.rng), peer))
        if not (peer.own and self._credentials_ok()):
            self._at(t0 + self.config.pana_fail_time, lambda t: self._join_failed(t, gen, peer.address))
            return
        meter = peer.address
        self._emit(t0 + 0.35 * j, ev(0x21, meter, 0x00))
        self._account(t0 + 0.35 * j, 100)
        self._emit(t0 + 0.6 * j, self._pana_rx(pana_eap(self.rng), peer))
        self._emit(t0 + 0.65 * j, ev(0x21, meter, 0x00))
        self._account(t0 + 0.65 * j, 100)
        self._emit(t0 + 0.9 * j, self._pana_rx(pana_complete(self.rng, self.config.session_lifetime), peer))
        self._emit(t0 + 0.95 * j, ev(0x21, meter, 0x00))
        self._account(t0 + 0.95 * j, 60)
        self._at(t0 + j, lambda t: self._session_up(t, gen, announce=True))

    def _pana_rx(self, payload: bytes, peer: Peer) -> bytes:
        return self._rx(
            sender=peer.address,
            sender_mac=peer.mac,
            dest=self.address,
            port=PANA_PORT,
            secured=0,
            data=payload,
            lqi=peer.lqi,
        )

    def _join_failed(self, t: float, gen: int, peer_address: str | None = None) -> None:
        if gen != self._session_gen:
            return
        self.session = SessionState.NONE
        self._print(self.profile.event(0x24, peer_address or self.meter_address))

    def _session_up(self, t: float, gen: int, announce: bool) -> None:
        if gen != self._session_gen:
            return
        self.session = SessionState.UP
        self._print(self.profile.event(0x25, self.meter_address))
        self._at(t + self.config.session_lifetime, lambda t2: self._session_expired(t2, gen))
        if announce:
            self._at(t + 0.1, self._announce)

    def _announce(self, t: float) -> None:
        frame = self.meter.instance_list_frame(self.rng.randrange(0x10000))
        self._meter_frames(t, [frame], multicast=True)

    def _session_expired(self, t: float, gen: int) -> None:
        if gen != self._session_gen or self.session != SessionState.UP:
            return
        self._print(self.profile.event(0x29, self.meter_address))
        if self.registers[R_AUTO_REAUTH] != 1:
            self.session = SessionState.NONE
            return
        self.session = SessionState.REAUTH
        self._reauthenticate(t, gen)

    def _reauthenticate(self, t: float, gen: int) -> None:
        r = self.config.reauth_time
        own = self._own_peer()
        self._emit(t + 0.5 * r, self._pana_rx(pana_complete(self.rng, self.config.session_lifetime), own))
        self._emit(t + 0.55 * r, self.profile.event(0x21, self.meter_address, 0x00))
        self._account(t + 0.55 * r, 60)
        if self._credentials_ok():
            self._at(t + r, lambda t2: self._session_up(t2, gen, announce=False))
        else:
            self._at(t + r, lambda t2: self._join_failed(t2, gen))

    def _cmd_skrejoin(self, args: list[str], now: float) -> None:
        expect_args(args, 0)
        if self.session != SessionState.UP:
            raise CommandFailed("ER10")
        self._ok(now)
        self._session_gen += 1
        self._reauthenticate(max(now, self._busy_until), self._session_gen)

    def _cmd_skterm(self, args: list[str], now: float) -> None:
        expect_args(args, 0)
        if self.session not in (SessionState.UP, SessionState.REAUTH):
            raise CommandFailed("ER10")
        self._ok(now)
        self.session = SessionState.NONE
        self._session_gen += 1
        t = max(now, self._busy_until)
        self._account(t, 40)
        silent = self._meter_silent(t)
        self._emit(t + self.config.term_time, self.profile.event(0x28 if silent else 0x27, self.meter_address))
