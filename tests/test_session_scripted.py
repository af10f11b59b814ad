"""The session fed by hand, as h11's tests do: bytes and times in, actions out.

A bare :class:`Session` is driven with a scripted dongle (no simulator, no runner, no I/O):
what it sends, in which order, and which actions (Record, SaveState, Reopen, Stop) come out.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from scripted_dongle import ME, OWN_CH, OWN_MAC, OWN_PAIR, RBID, ScriptedDongle, neighbours

from logger.echonet.frame import ESV, METER, Frame, Property, decode_frame
from logger.link.settings import LinkSettings
from logger.schedule import Schedule, ScheduleEntry
from logger.secrets import Secret
from logger.session import Phase, Record, Reopen, SaveState, Send, Session, SessionConfig, Stop

T0 = 1_780_000_000.0
TZ = ZoneInfo("Asia/Tokyo")
METER_IP = "FE80:0000:0000:0000:021C:6400:03DD:8257"


def answer_gets(data: bytes) -> bytes:
    """EVENT 21 + OK for SKSENDTO, then the meter's answer: E7 = 1000 W, nothing else (Get_SNA)."""
    if not data.startswith(b"SKSENDTO"):
        return b""
    head, _, payload = data.partition(b" 0E1A 1 ")
    payload = payload.split(b" ", 1)[1]
    req = decode_frame(payload)
    props = tuple(Property(p.epc, (1000).to_bytes(4, "big") if p.epc == 0xE7 else b"") for p in req.props)
    esv = ESV.GET_RES if all(p.edt for p in props) else ESV.GET_SNA
    frame = Frame(req.tid, METER, req.seoj, esv, props).encode()
    return (b"EVENT 21 %s 00\r\nOK\r\n" % ME.encode() +
            b"ERXUDP %s %s 0E1A 0E1A %s 1 %04X %s\r\n" % (METER_IP.encode(), ME.encode(), OWN_MAC.encode(),
                                                         len(frame), frame.hex().upper().encode()))


def session(dongle: str = "bp35a1", **link) -> Session:
    cfg = SessionConfig(LinkSettings(dongle=dongle, rbid=Secret(RBID), password=Secret("SIMPASSWORD1"), **link),
                        max_epcs_per_get=6, request_timeout_s=10.0, retries=3, backfill=False,
                        terminate_on_stop=True, silence_rejoin_s=900.0, clock_tolerance_s=90.0, unitid="smartmeter", tz=TZ)
    return Session(cfg, Schedule((ScheduleEntry((0xE7,), 10),), TZ))


def drive(s: Session, script: ScriptedDongle, until: float, start: bool = True) -> list:
    """Run ``s`` against ``script`` up to ``until`` (or a Reopen/Stop); every action, in order."""
    actions: list = []
    now = T0 if start else s.now
    if start:
        s.start(now)
    while True:
        batch = s.drain()
        if batch:
            actions.extend(batch)
            for action in batch:
                if isinstance(action, Send) and (reply := script.reply(action.data)):
                    s.receive_data(reply, now)
            if any(isinstance(a, (Reopen, Stop)) for a in batch):
                return actions + s.drain()
            continue
        nd = s.next_deadline()
        if nd is None or nd > until:
            return actions
        now = max(now, nd)
        s.tick(now)


def sent(actions: list) -> list[bytes]:
    return [a.data for a in actions if isinstance(a, Send)]


def test_a_fresh_start_probes_scans_by_pair_id_joins_saves_and_records():
    script = ScriptedDongle(neighbours(3), answer=answer_gets)
    s = session(dongle="auto")
    actions = drive(s, script, T0 + 120)
    out = sent(actions)
    assert out[:5] == [b"SKSREG SFE 0\r\n", b"SKVER\r\n", b"SKAPPVER\r\n", b"SKINFO\r\n", b"ROPT\r"]
    assert out[5].startswith(b"SKSETPWD C ") and out[6].startswith(b"SKSETRBID ")
    joins = [c for c in out if c.startswith(b"SKJOIN")]
    assert joins == [b"SKJOIN " + METER_IP.encode() + b"\r\n"]  # never a neighbour
    saves = [a.state for a in actions if isinstance(a, SaveState)]
    assert saves and saves[0].scan.addr == OWN_MAC and saves[0].scan.channel == OWN_CH
    rows = [r for a in actions if isinstance(a, Record) for r in a.readings if r.epc == "E7"]
    assert rows and rows[0].value == 1000
    assert s.phase is Phase.RUN
    assert not [a for a in actions if isinstance(a, (Reopen, Stop))]


def test_a_silent_dongle_asks_for_the_port_to_be_reopened():
    s = session()
    actions = drive(s, ScriptedDongle({}, answer=lambda _d: b"\x00"), T0 + 60)
    assert isinstance(actions[-1], Reopen) and s.phase is Phase.CLOSED
    assert sent(actions) == [b"SKSREG SFE 0\r\n", b"\r\n"] * 3


def test_an_error_retrying_cannot_fix_is_a_stop_not_a_reopen():
    script = ScriptedDongle(neighbours(0), answer=lambda d: b"FAIL ER05\r\n" if d.startswith(b"SKSCAN") else b"")
    s = session()
    actions = drive(s, script, T0 + 60)
    assert isinstance(actions[-1], Stop) and "serial.dongle" in actions[-1].reason
    assert s.phase is Phase.FAILED
    assert not any(isinstance(a, Reopen) for a in actions)


def test_the_peer_ending_the_session_starts_a_rejoin():
    script = ScriptedDongle(neighbours(0), answer=answer_gets)
    s = session()
    drive(s, script, T0 + 60)
    assert s.phase is Phase.RUN
    s.receive_data(b"EVENT 26 %s\r\n" % METER_IP.encode(), s.now + 1)
    actions = drive(s, script, s.now + 60, start=False)
    out = sent(actions)
    assert out[0] == b"SKSREG SFE 0\r\n" and b"SKTERM\r\n" in out
    assert out.count(b"SKJOIN " + METER_IP.encode() + b"\r\n") == 1  # the cached meter, no rescan
    assert not any(c.startswith(b"SKSCAN") for c in out)
    assert s.phase is Phase.RUN


def test_stop_ends_the_pana_session_and_waits_for_event_27():
    script = ScriptedDongle(neighbours(0), answer=answer_gets)
    s = session()
    drive(s, script, T0 + 60)
    s.stop(s.now)
    (term,) = [a for a in s.drain() if isinstance(a, Send)]
    assert term.data == b"SKTERM\r\n" and s.stopping
    s.receive_data(b"OK\r\nEVENT 27 %s\r\n" % METER_IP.encode(), s.now)
    assert not s.stopping and s.phase is Phase.STOPPED
    assert s.state.session_held is False


def test_pair_id_of_the_scripted_meter_is_the_end_of_the_id():
    assert OWN_PAIR == RBID[-8:]
