"""``SKSENDTO`` in the simulated dongle: the transmission, its duty cost, delivery to the meter.

* ``EVENT 21 .. 00`` then ``OK``, printed once the frame's airtime has passed. A secured
  (SEC 1/2) send without a PANA session prints ``EVENT 21 .. 01`` then ``OK``.
* A frame to the meter's address on port 0E1A with SEC 1/2 reaches ``MeterSim.handle``
  ``latency`` seconds later (uniform, seeded); its answers come back as ERXUDP at that
  moment. SEC 0 frames are sent but the meter ignores unsecured ECHONET traffic. Frames to
  any other address (a neighbour's meter included) go out and nothing comes back.
* ARIB duty budget (:mod:`logger.simulate.duty`): a send that does not fit the hour engages
  the limit, ``EVENT 32`` (once) and the send is refused (``EVENT 21 .. 01`` then ``OK``)
  until the release, when ``EVENT 33`` prints.
* Errors: ``ER05`` a SKSENDTO line that ends before DATALEN, ``ER06`` a bad handle,
  address, port, SEC, SIDE or a payload outside 1..1232 bytes.
"""

from __future__ import annotations

from logger.echonet.frame import FrameError, decode_frame
from logger.simulate.arguments import CommandFailed, hex_arg
from logger.simulate.core import DongleCore, SessionState
from logger.simulate.duty import airtime_s
from logger.simulate.registers import R_FRAME_COUNTER
from logger.simulate.wire import CRLF, ECHONET_PORT, IPV6

#: Largest UDP payload SKSENDTO accepts.
MAX_PAYLOAD = 1232


class UdpCommands(DongleCore):
    def _cmd_sksendto_short(self, args: list[str], now: float) -> None:
        """A SKSENDTO line that ended before its DATALEN field: too few arguments."""
        raise CommandFailed("ER05")

    def _sendto(self, header: bytes, payload: bytes, now: float) -> None:
        if self.echo:
            self._reply(now, header + CRLF)
        try:
            self._do_sendto(header.decode("ascii", errors="replace").split()[1:], payload, now)
        except CommandFailed as fail:
            self._reply(now, f"FAIL {fail.code}".encode() + CRLF)

    def _do_sendto(self, args: list[str], payload: bytes, now: float) -> None:
        if len(args) != (6 if self.profile.dual_stack else 5):
            raise CommandFailed("ER05")  # wrong number of arguments, as the firmware answers
        if self.profile.dual_stack:
            handle, ip, port_t, sec_t, side_t, _length = args
            side = hex_arg(side_t, 1, 0, 1)
        else:
            handle, ip, port_t, sec_t, _length = args
            side = 0
        hex_arg(handle, 1, 1, 6)
        if not IPV6.match(ip):
            raise CommandFailed("ER06")
        port = hex_arg(port_t, 4)
        sec = hex_arg(sec_t, 1, 0, 2)
        if not 1 <= len(payload) <= MAX_PAYLOAD:
            raise CommandFailed("ER06")
        dest = ip.upper()
        to_meter = dest == self.meter_address and side == 0
        up = self.session == SessionState.UP
        t = max(now, self._busy_until)
        ev = self.profile.event

        def refuse() -> None:
            self._reply(t, ev(0x21, dest, 0x01, side=side))
            self._ok(t)

        if sec in (1, 2) and to_meter and not up:
            refuse()
            return
        if sec == 1 and not up:
            refuse()
            return
        cost = airtime_s(len(payload))
        if self.duty.limited or not self._duty_allows(t, cost):
            refuse()
            return
        self._account(t, len(payload))
        if sec:
            self.registers[R_FRAME_COUNTER] = (int(self.registers[R_FRAME_COUNTER]) + 1) & 0xFFFFFFFF
        done = t + cost
        self._reply(done, ev(0x21, dest, 0x00, side=side))
        self._ok(done)
        if not (to_meter and port == ECHONET_PORT and sec in (1, 2)):
            return
        if self._lost():
            self.counters.requests_dropped += 1
            return
        try:
            frame = decode_frame(payload)
        except FrameError:
            return  # the meter drops what it cannot parse
        lo, hi = self.config.latency
        gen = self._session_gen
        self._at(done + self.rng.uniform(lo, hi), lambda t2: self._deliver(t2, frame, gen))

    def _deliver(self, t: float, frame, gen: int) -> None:
        if gen != self._session_gen or self.session != SessionState.UP:
            return
        self._meter_frames(t, self.meter.handle(frame, t), multicast=False)

    def _duty_allows(self, t: float, cost: float) -> bool:
        """False (and the limit engaged, EVENT 32, release scheduled) if ``cost`` does not fit."""
        release = self.duty.refusal(t, cost)
        if release is None:
            return True
        self._reply(t, self.profile.event(0x32, self.address))
        self._at(release, self._duty_release, gen=None)
        return False

    def _duty_release(self, t: float) -> None:
        if self.duty.limited:
            self.duty.limited = False
            self._print(self.profile.event(0x33, self.address))
