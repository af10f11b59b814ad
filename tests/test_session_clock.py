"""The session and the meter's clock, fed by hand (scripted dongle, no simulator, no runner).

What the session asks for and when: 0x97/0x98 after the join before any property is polled,
hourly, again right after the host clock jumps, every few seconds while the minute rollover
is looked for, never again from a meter that does not tell its time; and the stamps it gives.
"""

from __future__ import annotations

import math
from datetime import datetime

from scripted_dongle import ME, OWN_MAC, ScriptedDongle, neighbours
from test_session_scripted import METER_IP, T0, TZ, session

from logger.echonet.frame import ESV, METER, Frame, Property, decode_frame
from logger.session import Record, Send, Session
from logger.session.timekeeper import Source


class Meter:
    """Answers Gets: E7 = 1000 W, 0x97/0x98 from its clock (true time + ``offset``), else nothing."""

    def __init__(self, offset: float = 0.0, tells: bool = True) -> None:
        self.offset = offset
        self.tells = tells
        self.t = T0  # the true time, set by the driver
        self.gets: list[tuple[float, tuple[int, ...]]] = []  # (true time, EPCs) of every Get

    def edt(self, epc: int) -> bytes:
        local = datetime.fromtimestamp(self.t + self.offset, TZ)
        if epc == 0xE7:
            return (1000).to_bytes(4, "big")
        if epc == 0x97 and self.tells:
            return bytes((local.hour, local.minute))
        if epc == 0x98 and self.tells:
            return local.year.to_bytes(2, "big") + bytes((local.month, local.day))
        return b""

    def answer(self, data: bytes) -> bytes:
        if not data.startswith(b"SKSENDTO"):
            return b""
        payload = data.partition(b" 0E1A 1 ")[2].split(b" ", 1)[1]
        req = decode_frame(payload)
        self.gets.append((self.t, tuple(p.epc for p in req.props)))
        props = tuple(Property(p.epc, self.edt(p.epc)) for p in req.props)
        esv = ESV.GET_RES if all(p.edt for p in props) else ESV.GET_SNA
        frame = Frame(req.tid, METER, req.seoj, esv, props).encode()
        return (b"EVENT 21 %s 00\r\nOK\r\n" % ME.encode() +
                b"ERXUDP %s %s 0E1A 0E1A %s 1 %04X %s\r\n" % (METER_IP.encode(), ME.encode(), OWN_MAC.encode(),
                                                             len(frame), frame.hex().upper().encode()))

    def clock_reads(self) -> list[float]:
        return [t for t, epcs in self.gets if 0x97 in epcs]


def drive(s: Session, meter: Meter, seconds: float, host_offset: float = 0.0,
          jumps: tuple[tuple[float, float], ...] = ()) -> list:
    """Run ``s`` for ``seconds`` of true time as the runner would: a sample of the host clock
    (true time + offset + jumps) and the monotonic clock (the true time) before every call."""
    script = ScriptedDongle(neighbours(0), answer=meter.answer)
    actions: list = []

    def now() -> float:
        host = meter.t + host_offset + sum(j for at, j in jumps if at <= meter.t)
        return s.clock_now(host, meter.t)

    end = meter.t + seconds
    if meter.t == T0:
        s.start(now())
    while meter.t < end:
        batch = s.drain()
        if batch:
            actions.extend(batch)
            for action in batch:
                if isinstance(action, Send) and (reply := script.reply(action.data)):
                    s.receive_data(reply, now())
            continue
        nd = s.next_deadline()
        current = now()
        meter.t += 1.0 if nd is None else min(max(nd - current, 0.0), 60.0)
        s.tick(now())
    return actions


def stamps(actions: list, epc: str = "E7") -> list[float]:
    return [r.timestamp.timestamp() for a in actions if isinstance(a, Record) for r in a.readings if r.epc == epc]


def test_the_meters_clock_is_read_after_the_join_before_any_property():
    meter = Meter()
    s = session()
    actions = drive(s, meter, 120)
    first = meter.gets[0][1]
    assert first == (0x97, 0x98)
    assert not any(0xE7 in epcs for _t, epcs in meter.gets[:1])
    assert stamps(actions) and s.timekeeper.source is Source.HOST
    # the host agrees: one read, no rollover search
    assert len(meter.clock_reads()) == 1


def test_read_hourly_and_right_after_a_jump_of_the_host_clock():
    meter = Meter()
    s = session()
    jump_at = T0 + 5400 + 7.0
    drive(s, meter, 3 * 3600 + 120, jumps=((jump_at, -30.0),))
    reads = meter.clock_reads()
    first = reads[0]
    assert any(abs(t - (first + 3600)) < 15 for t in reads)  # hourly
    after_jump = [t for t in reads if t >= jump_at]
    assert after_jump and after_jump[0] - jump_at < 12  # at the next look at the clock after the jump
    assert s.timekeeper.source is Source.HOST  # thirty seconds back: the host still agrees


def test_a_host_three_days_behind_gets_the_meters_time_before_the_first_reading():
    meter = Meter()
    s = session()
    actions = drive(s, meter, 600, host_offset=-3 * 86400)
    reads = meter.clock_reads()
    assert 2 <= len(reads) <= 1 + math.ceil(61 / 3) + 1  # a read, then one every 3 s until the minute rolls
    e7 = [t for t, epcs in meter.gets if 0xE7 in epcs]
    assert min(e7) > max(reads[:-1])  # polling waits for the rollover
    assert s.timekeeper.source is Source.METER
    # every E7 stamp within the search step of the true time it was asked at
    for ts, asked in zip(stamps(actions), e7, strict=True):
        assert abs(ts - asked) <= 2.0


def test_a_meter_that_does_not_tell_its_time_is_asked_once():
    meter = Meter(tells=False)
    s = session()
    actions = drive(s, meter, 2 * 3600 + 60, host_offset=-3600.0)
    assert len(meter.clock_reads()) == 1
    assert s.timekeeper.meter_tells is False and s.timekeeper.source is Source.HOST
    e7 = [t for t, epcs in meter.gets if 0xE7 in epcs]
    for ts, asked in zip(stamps(actions), e7, strict=True):
        assert ts == asked - 3600.0  # the host's clock, as it is
