"""The J11 link, scripted: bytes in, frames out (no simulator). Probe and ``auto`` detection,
the Pairing-ID scan, join (success, rejected, no answer, 0x0E retry), send results, and the
translation of J11 notifications into the events the session understands."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from logger.j11.frame import RESPONSE_CODE, encode_frame
from logger.link.errors import DongleSilent, JoinFailed
from logger.link.flow import Driver, Send
from logger.link.j11_events import link_local
from logger.link.link import Link, Notice
from logger.link.send import Sent
from logger.link.settings import LinkSettings
from logger.secrets import Secret
from logger.skstack.events import EV_SESSION_TERMINATED, Event, RxUdp

RBID = "0123456789ABCDEF0123456789ABCDEF"
PAIR = RBID[-8:]
OWN_MAC, OWN_PAN, OWN_CH = "001C640003DD8257", 0x8257, 17
NEIGHBOUR_MAC = "00AA000000000001"
VERSION = bytes([0x01, 0x01, 0x00, 0x01, 0x02, 0, 0, 0, 7])


def frame(code: int, data: bytes = b"") -> bytes:
    return encode_frame(code, data, RESPONSE_CODE)


def code_of(data: bytes) -> int:
    return int.from_bytes(data[4:6], "big")


def pan(mac: str, pan_id: int, rssi: int = -60, pair: str | None = None) -> bytes:
    return bytes.fromhex(mac) + pan_id.to_bytes(2, "big") + bytes([rssi & 0xFF]) + (pair.encode() if pair else b"")


class Adapter:
    """A scripted J11 adapter: a reply per request code (``overrides`` first)."""

    def __init__(self, pana: int = 0x01, start: list[int] | None = None,
                 scan: list[bytes] | None = None, overrides: dict[int, Callable[[bytes], bytes]] | None = None):
        self.pana, self.start = pana, list(start or [])
        self.scan = scan if scan is not None else [frame(0x4051, bytes([0x00, OWN_CH, 1]) + pan(OWN_MAC, OWN_PAN))]
        self.overrides = overrides or {}
        self.codes: list[int] = []

    def reply(self, data: bytes) -> bytes:
        if not data.startswith(bytes.fromhex("D0EA83FC")):
            return b""
        code = code_of(data)
        self.codes.append(code)
        if code in self.overrides:
            return self.overrides[code](data)
        if code == 0x006B:
            return frame(0x206B, VERSION)
        if code == 0x00D9:
            return frame(0x6019)
        if code == 0x0051:
            return b"".join(self.scan) + frame(0x2051, b"\x01")
        if code == 0x0053:
            if self.start:
                return frame(0x2053, bytes([self.start.pop(0)]))
            return frame(0x2053, bytes([0x01, OWN_CH]) + OWN_PAN.to_bytes(2, "big") + bytes.fromhex(OWN_MAC) + b"\xc4")
        if code == 0x0056:
            out = frame(0x2056, b"\x01")
            return out + (frame(0x6028, bytes([self.pana]) + bytes.fromhex(OWN_MAC)) if self.pana else b"")
        if code == 0x0008:
            return frame(0x2008, b"\x01\x00")
        return frame(code | 0x2000, b"\x01")


def settings(dongle: str = "j11") -> LinkSettings:
    return LinkSettings(dongle=dongle, rbid=Secret(RBID), password=Secret("SIMPASSWORD1"), probe_timeout_s=1.0)


def drive(link: Link, flow, reply: Callable[[bytes], bytes], limit: float = 600.0):
    """Run ``flow`` to its end against ``reply``; returns (result, every Send's data)."""
    d, sent = Driver(), []
    d.start(flow)
    while True:
        for item in d.drain():
            if isinstance(item, Send):
                sent.append(item.data)
                if answer := reply(item.data):
                    for ev in link.receive_data(answer, link.now):
                        link.notice(ev)
                        d.resume(ev)
        if not d.busy:
            return d.result, sent
        if not d.outbox:
            assert d.deadline is not None and d.deadline < limit, "flow waits forever"
            link.now = d.deadline
            d.tick(link.now)


def test_probe_asks_the_firmware_version():
    link = Link(settings())
    adapter = Adapter()
    found, sent = drive(link, link.flows.probe(link), adapter.reply)
    assert adapter.codes == [0x006B] and len(sent) == 1
    assert (found.dialect, found.detected, found.ever, found.mismatch) == ("j11", "j11", "1.2.7", False)


def test_auto_tries_skstack_first_then_one_j11_frame():
    link = Link(settings("auto"))
    adapter = Adapter()
    found, sent = drive(link, link.flows.probe(link), adapter.reply)
    assert sent[0] == b"SKSREG SFE 0\r\n" and code_of(sent[1]) == 0x006B and len(sent) == 2
    assert found.dialect == "j11" and link.family == "j11" and link.flows.probe.__module__.endswith("j11_flows")


def test_auto_on_an_skstack_dongle_flushes_the_j11_frame_and_probes_on():
    from tests.scripted_dongle import ScriptedDongle

    script, first = ScriptedDongle({}), [True]

    def reply(data: bytes) -> bytes:
        if data == b"SKSREG SFE 0\r\n" and first.pop() if first else False:
            return b""  # the first try is lost: the J11 frame goes out
        if data.startswith(bytes.fromhex("D0EA83FC")):
            return b""  # an SKSTACK dongle keeps the binary as a half-typed line
        if data == b"\r\n":
            return b"FAIL ER04\r\n"  # ... that the line end flushes
        return script.reply(data)

    link = Link(settings("auto"))
    found, sent = drive(link, link.flows.probe(link), reply)
    assert found.dialect == "bp35a1" and link.family == "skstack"
    assert code_of(sent[1]) == 0x006B and sent[2] == b"\r\n"
    assert not [d for d in sent[3:] if d.startswith(bytes.fromhex("D0EA83FC"))]


def test_a_silent_adapter_is_dongle_silent():
    link = Link(settings())
    with pytest.raises(DongleSilent):
        drive(link, link.flows.probe(link), lambda _d: b"")


def test_credentials_reset_then_set_and_tolerate_already_set():
    link = Link(settings())
    adapter = Adapter(overrides={0x0054: lambda _d: frame(0x2054, b"\x58")})
    drive(link, link.flows.credentials(link), adapter.reply)
    assert adapter.codes == [0x00D9, 0x005F, 0x0054]


def test_scan_sends_the_pairing_id_and_drops_a_neighbour_that_prints_another():
    scan = [frame(0x4051, bytes([0x01, 4])),
            frame(0x4051, bytes([0x00, OWN_CH, 2]) + pan(OWN_MAC, OWN_PAN, -50, PAIR) + pan(NEIGHBOUR_MAC, 1, -30, "AAAAAAAA"))]
    link = Link(settings())
    adapter = Adapter(scan=scan)
    sent: list[bytes] = []
    report, sent = drive(link, link.flows.scan(link), adapter.reply)
    data = sent[0][12:]
    assert data[5] == 0x01 and data[6:14] == PAIR.encode()  # the adapter filters by Pairing ID
    assert [c.addr for c in report.candidates] == [OWN_MAC]
    cand = report.candidates[0]
    assert cand.matched and cand.channel == OWN_CH and cand.ipaddr == link_local(OWN_MAC)
    assert cand.ipaddr == "FE80:0000:0000:0000:021C:6400:03DD:8257"
    assert {h.addr for h in report.heard} == {OWN_MAC, NEIGHBOUR_MAC}


def test_find_and_join_success():
    link = Link(settings())
    adapter = Adapter()
    joined, _ = drive(link, link.flows.find_and_join(link), adapter.reply)
    assert joined.target.addr == OWN_MAC
    assert adapter.codes == [0x0051, 0x005F, 0x0053, 0x0005, 0x0056]


def test_join_rejected_suspects_the_credentials_and_no_answer_does_not():
    link = Link(settings())
    with pytest.raises(JoinFailed) as exc:
        drive(link, link.flows.find_and_join(link), Adapter(pana=0x02).reply)
    assert exc.value.credentials_suspect
    link = Link(settings())
    with pytest.raises(JoinFailed) as exc:
        drive(link, link.flows.find_and_join(link), Adapter(pana=0x03).reply)
    assert not exc.value.credentials_suspect
    link = Link(settings())
    with pytest.raises(JoinFailed) as exc:  # no 0x6028 at all
        drive(link, link.flows.find_and_join(link), Adapter(pana=0).reply)
    assert not exc.value.credentials_suspect and "0x6028" in exc.value.reason


def test_start_b_route_retries_on_0e_and_a_running_b_route_is_reset_first():
    link = Link(settings())
    adapter = Adapter(start=[0x0E], overrides={0x005F: lambda _d: frame(0x205F, b"\x34")})
    adapter.overrides[0x00D9] = lambda _d: (adapter.overrides.pop(0x005F), frame(0x6019))[1]
    drive(link, link.flows.find_and_join(link), adapter.reply)
    assert adapter.codes == [0x0051, 0x005F, 0x00D9, 0x005F, 0x0054, 0x005F, 0x0053, 0x0053, 0x0005, 0x0056]


def test_send_results():
    for answer, expected in ((b"\x01\x00", Sent.OK), (b"\x01\x05", Sent.REFUSED), (b"\x10", Sent.FAILED)):
        link = Link(settings())
        result, sent = drive(link, link.flows.send_udp(link, link_local(OWN_MAC), b"\x10\x81\x00\x01"),
                             lambda _d, a=answer: frame(0x2008, a))
        assert result is expected
        assert code_of(sent[0]) == 0x0008 and sent[0][12:28] == bytes.fromhex("FE80000000000000021C640003DD8257")


def test_notifications_become_session_events():
    link = Link(settings())
    ll = bytes.fromhex("FE80000000000000021C640003DD8257")
    echonet = bytes.fromhex("1081000102880105FF017201E70400000100")
    data = ll + bytes.fromhex("0E1A0E1A8257 00 02 C4".replace(" ", "")) + len(echonet).to_bytes(2, "big") + echonet
    events = link.receive_data(frame(0x6028, b"\x01" + bytes.fromhex(OWN_MAC)) + frame(0x6018, data)
                               + frame(0x6038, bytes(21)) + frame(0x601A, b"\x04" + bytes.fromhex(OWN_MAC) + b"\xc4"), 0)
    _pana, rx, end = events
    assert isinstance(rx, RxUdp) and rx.sender_lla == OWN_MAC and rx.lport == rx.rport == 0x0E1A and rx.data == echonet
    assert link.j11.rx_failures == 1
    assert isinstance(end, Event) and end.num == EV_SESSION_TERMINATED
    assert link.notice(end) is Notice.SESSION_ENDED
    # an adapter that restarts under a session ends it too
    link.receive_data(frame(0x6028, b"\x01" + bytes.fromhex(OWN_MAC)), 1)
    restarted = link.receive_data(frame(0x6019), 2)
    assert isinstance(restarted[0], Event) and restarted[0].num == EV_SESSION_TERMINATED
