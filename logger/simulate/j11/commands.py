"""The J11 commands a B-route client uses, as the simulated adapter answers them.

Request codes and data layouts (broute-j11 0.1.0 ``commands.py``, which cites the ROHM
"BP35C0-J11 UART IF specification" §3.2/§3.4, Tables 20, 21, 34; the same codes and layouts
in regreh/m5stickc_bp35c0-j11, ak1211's Go client and an RS-WSUHA-J11 Python client):

======  ============================  ===============================================  =======================
code    command                       request data                                     response data
======  ============================  ===============================================  =======================
0x006B  get firmware version          -                                                result, id (2), major,
                                                                                       minor, revision (4)
0x00D9  reset                         -                                                none; 0x6019 follows
0x005F  initial settings              mode, HAN sleep, channel (4..17), TX power       result
0x0107  get initial settings          -                                                result + the 4 bytes
0x0054  set B-route ID + password     ID (32 ASCII) + password (ASCII)                 result
0x0051  active scan                   duration (1..14), channel mask (4), pairing-ID   result, sent when the
                                      flag (1), pairing ID (8)                         sweep ends
0x0053  start B-route                 -                                                result, channel, PAN
                                                                                       ID (2), MAC (8), RSSI
0x0058  end B-route                   -                                                result
0x0005  open UDP port                 port (2)                                         result
0x0006  close UDP port                port (2)                                         result
0x0056  start PANA                    -                                                result; 0x6028 follows
0x0057  end PANA                      -                                                result
0x0008  send data                     dest IPv6 (16), src port, dst port, length (2    result, queue<<4 |
                                      each), payload                                   transmission result
======  ============================  ===============================================  =======================

Behaviour and the choices made where the sources are silent (*uncertain*):

* Reset answers no response frame, only 0x6019 after :data:`~.core.BOOT_S` (broute-j11 and
  the M5Stack client wait for 0x6019 alone). It forgets settings, credentials, open ports and
  the B-route/PANA state: broute-j11 opens port 0E1A after every reset and treats 0x0A
  (already open) as an error, so real firmware must start with it closed.
* Initial settings: the mode must be 01/02/03/05 (Table 20), the channel 4..17 (Table 21),
  sleep 0/1, power 0..2, else 0x04; wrong data length 0x11. B-route needs mode 05 (dual),
  else start B-route answers 0x14. While B-route runs, new settings answer 0x34.
* Credentials: 32 ASCII characters of ID, then the password (1..32 here; the documents and
  clients use 12); any other length 0x11. A second set without a reset answers 0x58
  (broute-j11 treats 0x58 as "already stored").
* Active scan: mask bits outside 4..17 or duration outside 1..14 answer 0x04; a scan during
  a scan 0x52 (*uncertain*). Each channel in the mask, in ascending order, is dwelt on
  ``9.64 ms * 2**duration`` (broute-j11, citing §3.2.3.4; times ``scan_time_scale``); then one
  0x4051 per channel: ``00, channel, count, (MAC 8, PAN ID 2, RSSI 1) x count`` when beacons
  were heard, ``01, channel`` when none (*uncertain* whether silent channels are reported;
  an RS-WSUHA-J11 client logs them). With the pairing-ID flag 01, only meters whose pairing
  ID (the last 8 characters of their B-route ID) equals the one given answer: a B-route
  meter answers only a beacon request carrying its own pairing ID, so neighbours' meters are
  filtered out. With flag 00 every meter in range answers. The 0x2051 response comes after
  the last notification (broute-j11: "the adapter answers ACTIVE_SCAN only once it has dwelled
  on every channel"; the M5Stack client ends its scan loop on 0x2051).
* Start B-route: needs initial settings (0x10 otherwise) and credentials (0x51). It associates
  with the meter on the configured channel, choosing the household's meter when it beacons
  there, else a neighbour's; the response comes ``join_time / 3`` later. Nothing there (or the
  household's meter silent) answers 0x0E after ``pana_fail_time / 4`` (broute-j11 retries
  0x0E from a reset; *uncertain* timing).
* Start PANA: needs B-route started (0x10); during a PANA exchange or session 0x52. Answers
  result 01 at once, then 0x6028: 01 after ``join_time`` when the household's meter accepts
  the credentials (then the meter's D5 instance-list INF arrives as a multicast 0x6018),
  02 after ``join_time`` when it refuses them, 03 after ``pana_fail_time`` when nobody answers
  PANA (a neighbour's meter that never sees these credentials, or a silent meter).
* Send data: data shorter than 22 bytes, a length field that disagrees with the payload, or
  a payload outside 1..1232 answer 0x11; a source port not opened 0x0B (*uncertain*); no
  B-route 0x10. Otherwise ``01, 00`` (sent, not queued). A frame to the household meter's
  address and port 0E1A with a PANA session up reaches ``MeterSim.handle`` ``latency`` later;
  its answers come back as 0x6018 (when port 0E1A is open). Without a PANA session the frame
  goes out unencrypted and the meter ignores it. ``--loss`` drops requests silently and
  answers with a 0x6038 instead of the 0x6018.
"""

from __future__ import annotations

from logger.echonet.frame import FrameError, decode_frame
from logger.simulate.j11 import frames as fr
from logger.simulate.j11.core import (
    ALL_NODES,
    ECHONET_PORT,
    N_PANA,
    N_SCAN,
    J11Core,
    Pana,
    j11_channel,
    link_local,
    rssi_byte,
)

FIRMWARE = (0x0100, 1, 2, 0x00000007)  # id, major, minor, revision (*uncertain*: any value works)
MODES = (0x01, 0x02, 0x03, 0x05)
DUAL = 0x05
MIN_CHANNEL, MAX_CHANNEL = 4, 17
VALID_MASK = sum(1 << c for c in range(MIN_CHANNEL, MAX_CHANNEL + 1))
DWELL_UNIT_S = 0.00964
MAX_PAYLOAD = 1232
MAX_PORTS = 6  # *uncertain*: Table 34 has 0x12 "maximum number of opened ports exceeded"


class Meter:
    """A meter the adapter's radio can hear (household's or a neighbour's)."""

    def __init__(self, channel: int, pan_id: int, mac: str, lqi: int, pair_id: str, min_duration: int, own: bool):
        self.channel, self.pan_id, self.mac, self.lqi = j11_channel(channel), pan_id, mac, lqi
        self.pair_id, self.min_duration, self.own = pair_id.upper(), min_duration, own

    def descriptor(self) -> bytes:
        return bytes.fromhex(self.mac) + self.pan_id.to_bytes(2, "big") + bytes([rssi_byte(self.lqi)])


class J11Commands(J11Core):
    def _meters(self) -> list[Meter]:
        c = self.config
        found = [Meter(c.channel, c.pan_id, c.meter_mac, c.lqi, c.rbid[-8:], c.min_scan_duration, own=True)]
        found += [Meter(n.channel, n.pan_id, n.mac, n.lqi, n.pair_id, n.min_scan_duration, own=False)
                  for n in c.neighbours]
        return found

    def _ok(self, now: float, code: int, extra: bytes = b"") -> None:
        self._answer(now, code, bytes([fr.OK]) + extra)

    def _fail(self, now: float, code: int, result: int) -> None:
        self._answer(now, code, bytes([result]))

    # -- local commands ---------------------------------------------------------------------
    def _cmd_version(self, data: bytes, now: float) -> None:
        fid, major, minor, rev = FIRMWARE
        self._ok(now, 0x006B, fid.to_bytes(2, "big") + bytes([major, minor]) + rev.to_bytes(4, "big"))

    def _cmd_reset(self, data: bytes, now: float) -> None:
        self.counters.resets += 0  # a commanded reset is not a fault
        self._power_on(max(now, self.timeline.busy_until))

    def _cmd_initial(self, data: bytes, now: float) -> None:
        if len(data) != 4:
            return self._fail(now, 0x005F, fr.BAD_LENGTH)
        mode, sleep, channel, power = data
        if mode not in MODES or sleep > 1 or not MIN_CHANNEL <= channel <= MAX_CHANNEL or power > 2:
            return self._fail(now, 0x005F, fr.BAD_PARAMETER)
        if self.peer is not None:
            return self._fail(now, 0x005F, fr.ROUTE_B_RUNNING)
        self.initial = (mode, sleep, channel, power)
        self._ok(now, 0x005F)

    def _cmd_get_initial(self, data: bytes, now: float) -> None:
        self._ok(now, 0x0107, bytes(self.initial or (0x05, 0x00, 0xFF, 0x00)))

    def _cmd_credentials(self, data: bytes, now: float) -> None:
        if not 33 <= len(data) <= 64:
            return self._fail(now, 0x0054, fr.BAD_LENGTH)
        if self.credentials is not None:
            return self._fail(now, 0x0054, fr.CREDENTIALS_SET)
        text = data.decode("ascii", errors="replace")
        self.credentials = (text[:32], text[32:])
        self._ok(now, 0x0054)

    def _cmd_open_port(self, data: bytes, now: float) -> None:
        if len(data) != 2:
            return self._fail(now, 0x0005, fr.BAD_LENGTH)
        port = int.from_bytes(data, "big")
        if port == 0:
            return self._fail(now, 0x0005, fr.BAD_PARAMETER)
        if port in self.ports:
            return self._fail(now, 0x0005, fr.PORT_ALREADY_OPEN)
        if len(self.ports) >= MAX_PORTS:
            return self._fail(now, 0x0005, fr.TOO_MANY_PORTS)
        self.ports.add(port)
        self._ok(now, 0x0005)

    def _cmd_close_port(self, data: bytes, now: float) -> None:
        if len(data) != 2:
            return self._fail(now, 0x0006, fr.BAD_LENGTH)
        port = int.from_bytes(data, "big")
        if port not in self.ports:
            return self._fail(now, 0x0006, fr.PORT_NOT_OPEN)
        self.ports.discard(port)
        self._ok(now, 0x0006)

    # -- active scan ------------------------------------------------------------------------
    def _cmd_scan(self, data: bytes, now: float) -> None:
        if len(data) != 14:
            return self._fail(now, 0x0051, fr.BAD_LENGTH)
        duration, mask, flag, pair = data[0], int.from_bytes(data[1:5], "big"), data[5], data[6:14]
        if not 1 <= duration <= 14 or not mask or mask & ~VALID_MASK or flag > 1:
            return self._fail(now, 0x0051, fr.BAD_PARAMETER)
        if self.initial is None:
            return self._fail(now, 0x0051, fr.NOT_STARTED)
        if self.scanning:
            return self._fail(now, 0x0051, fr.PANA_BUSY)
        self.scanning = True
        wanted = pair.decode("ascii", errors="replace").upper() if flag else None
        start = max(now, self.timeline.busy_until)
        dwell = DWELL_UNIT_S * 2**duration * self.config.scan_time_scale
        channels = [c for c in range(MIN_CHANNEL, MAX_CHANNEL + 1) if mask >> c & 1]
        meters = self._meters()
        for index, channel in enumerate(channels):
            heard_at = start + (index + 1) * dwell
            self._at(heard_at, lambda t, ch=channel: self._scan_channel(t, ch, duration, wanted, meters))
        end = start + len(channels) * dwell
        self._at(end, self._scan_done)
        self.timeline.busy_until = end  # the response is the scan's last word

    def _scan_channel(self, t: float, channel: int, duration: int, wanted: str | None, meters: list[Meter]) -> None:
        heard = [
            m for m in meters
            if m.channel == channel and duration >= m.min_duration and (wanted is None or m.pair_id == wanted)
            and not (m.own and self._meter_silent(t))
        ]
        if heard:
            body = bytes([0x00, channel, len(heard)]) + b"".join(m.descriptor() for m in heard)
        else:
            body = bytes([0x01, channel])
        self.timeline.print_now(fr.encode(N_SCAN, body))

    def _scan_done(self, t: float) -> None:
        self.scanning = False
        self.timeline.print_now(fr.encode(0x2051, bytes([fr.OK])))

    # -- B-route and PANA -------------------------------------------------------------------
    def _cmd_start_route_b(self, data: bytes, now: float) -> None:
        if self.initial is None:
            return self._fail(now, 0x0053, fr.NOT_STARTED)
        if self.initial[0] != DUAL:
            return self._fail(now, 0x0053, fr.BAD_MODE)
        if self.credentials is None:
            return self._fail(now, 0x0053, fr.PANA_NOT_READY)
        if self.peer is not None:
            return self._fail(now, 0x0053, fr.ROUTE_B_RUNNING)
        t = max(now, self.timeline.busy_until)
        on_channel = [m for m in self._meters() if m.channel == self.initial[2]]
        on_channel = [m for m in on_channel if not (m.own and self._meter_silent(t))]
        on_channel.sort(key=lambda m: not m.own)
        if not on_channel:
            self.timeline.reply(t + self.config.pana_fail_time / 4, fr.encode(0x2053, bytes([fr.MAC_CONNECT_FAILED])))
            return
        peer = on_channel[0]
        self.peer = peer
        body = bytes([fr.OK, peer.channel]) + peer.pan_id.to_bytes(2, "big") + bytes.fromhex(peer.mac)
        self.timeline.reply(t + self.config.join_time / 3, fr.encode(0x2053, body + bytes([rssi_byte(peer.lqi)])))

    def _cmd_end_route_b(self, data: bytes, now: float) -> None:
        if self.peer is None:
            return self._fail(now, 0x0058, fr.NOT_STARTED)
        self.peer, self.pana = None, Pana.NONE
        self._gen += 1
        self._ok(now, 0x0058)

    def _cmd_start_pana(self, data: bytes, now: float) -> None:
        if self.peer is None:
            return self._fail(now, 0x0056, fr.NOT_STARTED)
        if self.pana != Pana.NONE:
            return self._fail(now, 0x0056, fr.PANA_BUSY)
        self._ok(now, 0x0056)
        self.pana = Pana.JOINING
        self._gen += 1
        gen, peer, c = self._gen, self.peer, self.config
        t = max(now, self.timeline.busy_until)
        if not peer.own or self._meter_silent(t):
            self._at(t + c.pana_fail_time, lambda t2: self._pana_result(t2, gen, 0x03, peer))
        elif self.credentials == (c.rbid, c.password):
            self._at(t + c.join_time, lambda t2: self._pana_result(t2, gen, 0x01, peer))
        else:
            self._at(t + c.join_time, lambda t2: self._pana_result(t2, gen, 0x02, peer))

    def _pana_result(self, t: float, gen: int, result: int, peer: Meter) -> None:
        if gen != self._gen:
            return
        self.pana = Pana.UP if result == 0x01 else Pana.NONE
        self.timeline.print_now(fr.encode(N_PANA, bytes([result]) + bytes.fromhex(peer.mac)))
        if result == 0x01:
            self._at(t + 0.1, self._announce)

    def _announce(self, t: float) -> None:
        self._meter_frames(t, [self.meter.instance_list_frame(self.rng.randrange(0x10000))], multicast=True)

    def _cmd_end_pana(self, data: bytes, now: float) -> None:
        if self.peer is None:
            return self._fail(now, 0x0057, fr.NOT_STARTED)
        self.pana = Pana.NONE
        self._gen += 1
        self._ok(now, 0x0057)

    # -- data -------------------------------------------------------------------------------
    def _cmd_send(self, data: bytes, now: float) -> None:
        if len(data) < 22:
            return self._fail(now, 0x0008, fr.BAD_LENGTH)
        dest, src_port = data[:16], int.from_bytes(data[16:18], "big")
        dst_port, length, payload = int.from_bytes(data[18:20], "big"), int.from_bytes(data[20:22], "big"), data[22:]
        if length != len(payload) or not 1 <= length <= MAX_PAYLOAD:
            return self._fail(now, 0x0008, fr.BAD_LENGTH)
        if self.peer is None:
            return self._fail(now, 0x0008, fr.NOT_STARTED)
        if src_port not in self.ports:
            return self._fail(now, 0x0008, fr.PORT_NOT_OPEN)
        self._ok(now, 0x0008, b"\x00")
        to_meter = self.peer.own and dest == link_local(self.peer.mac) and dst_port == ECHONET_PORT
        if not (to_meter and self.session_up) or dest == ALL_NODES:
            return
        if self._lost():
            self.counters.requests_dropped += 1
            return
        try:
            frame = decode_frame(payload)
        except FrameError:
            return
        lo, hi = self.config.latency
        gen = self._gen
        self._at(max(now, self.timeline.busy_until) + self.rng.uniform(lo, hi), lambda t: self._deliver(t, frame, gen))

    def _deliver(self, t: float, frame, gen: int) -> None:
        if gen != self._gen or not self.session_up:
            return
        self._meter_frames(t, self.meter.handle(frame, t))


J11Core.HANDLERS = {
    0x006B: J11Commands._cmd_version,
    0x00D9: J11Commands._cmd_reset,
    0x005F: J11Commands._cmd_initial,
    0x0107: J11Commands._cmd_get_initial,
    0x0054: J11Commands._cmd_credentials,
    0x0005: J11Commands._cmd_open_port,
    0x0006: J11Commands._cmd_close_port,
    0x0051: J11Commands._cmd_scan,
    0x0053: J11Commands._cmd_start_route_b,
    0x0058: J11Commands._cmd_end_route_b,
    0x0056: J11Commands._cmd_start_pana,
    0x0057: J11Commands._cmd_end_pana,
    0x0008: J11Commands._cmd_send,
}
