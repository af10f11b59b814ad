"""The link flows fed by hand, as h11's tests do: bytes and times in, commands and outcomes out.

A :class:`Dongle` script answers each command the flow sends with the bytes a dongle would
print (through the real parser); silence lets the flow's deadline pass. No simulator, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from logger.link import backoff
from logger.link.errors import JoinFailed, LinkFatal, NoMeter, NoSession
from logger.link.flow import Driver, Note, Send
from logger.link.join import credentials, find_and_join, join_candidates
from logger.link.link import Link, Notice
from logger.link.scan import scan
from logger.link.send import Sent, send_udp
from logger.link.settings import LinkSettings
from logger.secrets import Secret
from logger.skstack.dialects import get_dialect
from scripted_dongle import ME, OWN_CH, OWN_MAC, RBID, neighbours
from scripted_dongle import ScriptedDongle as Dongle


def run(flow_of: Callable[[Link], object], script: Dongle, **settings) -> tuple[object, Link, list]:
    """Drive a flow to its end; returns (result or raised exception, link, notes)."""
    base = {"dongle": "bp35a1", "rbid": Secret(RBID), "password": Secret("SIMPASSWORD1"), "scan_duration_min": 4,
            "scan_duration_max": 6}
    base.update(settings)
    link = Link(LinkSettings(**base))
    driver, notes = Driver(), []
    try:
        driver.start(flow_of(link))
        for _ in range(100_000):
            for item in driver.drain():
                if isinstance(item, Note):
                    notes.append(item.text)
                elif isinstance(item, Send):
                    for ev in link.receive_data(script.reply(item.data), link.now):
                        link.notice(ev)
                        driver.resume(ev)
            if not driver.busy and not driver.outbox:
                return driver.result, link, notes
            if driver.busy and not driver.outbox:
                link.now = driver.deadline
                driver.tick(link.now)
    except Exception as exc:  # noqa: BLE001 - the outcome under test
        return exc, link, notes
    raise AssertionError("flow did not end")


def joins(dongle: Dongle) -> list[bytes]:
    return [s for s in dongle.sent if s.startswith(b"SKJOIN")]


def test_the_own_meter_is_chosen_by_pair_id_past_louder_neighbours():
    d = Dongle(neighbours(3))
    report, _, notes = run(scan, d)
    assert [c.addr for c in report.candidates] == [OWN_MAC] and report.candidates[0].matched
    assert len(report.heard) == 4  # the neighbours were heard, logged, and passed by
    assert notes and "duration 4" in notes[0]


def test_find_and_join_never_sends_skjoin_to_a_neighbour():
    d = Dongle(neighbours(3))
    joined, _, _ = run(find_and_join, d)
    assert joined.target.addr == OWN_MAC
    assert joins(d) == [b"SKJOIN FE80:0000:0000:0000:021C:6400:03DD:8257\r\n"]
    assert b"SKSREG S2 3B\r\n" in d.sent


def test_without_pair_ids_the_next_candidate_is_tried_before_blaming_the_credentials():
    beacons = {0x21: [(0x1000, "00AA000000000001", 0xF0, None)], 0x22: [(0x8257, OWN_MAC, 0x80, None)]}
    d = Dongle(beacons, refuse={"00AA000000000001"})
    joined, _, _ = run(find_and_join, d)
    assert joined.target.addr == OWN_MAC
    assert len(joins(d)) == 2  # the louder one refused (EVENT 24), then the own meter


def test_every_candidate_refusing_suspects_the_credentials():
    beacons = {0x21: [(0x1000, "00AA000000000001", 0xF0, None)], 0x22: [(0x8257, OWN_MAC, 0x80, None)]}
    d = Dongle(beacons, refuse={"00AA000000000001", OWN_MAC})
    exc, _, _ = run(find_and_join, d)
    assert isinstance(exc, JoinFailed) and exc.credentials_suspect and exc.tried == 2


def test_the_pair_id_matched_meter_refusing_blames_the_credentials_at_once():
    d = Dongle(neighbours(1), refuse={OWN_MAC})
    exc, _, _ = run(find_and_join, d)
    assert isinstance(exc, JoinFailed) and exc.credentials_suspect
    assert len(joins(d)) == 1


def test_only_neighbours_heard_is_no_meter_with_what_was_heard():
    beacons = neighbours(2)
    del beacons[OWN_CH]
    d = Dongle(beacons)
    exc, _, _ = run(find_and_join, d)
    assert isinstance(exc, NoMeter) and len(exc.heard) == 2
    assert joins(d) == []
    # the whole ladder 4, 6 was swept in 2-channel chunks
    scans = [s for s in d.sent if s.startswith(b"SKSCAN")]
    assert len(scans) == 2 * 14 and scans[0] == b"SKSCAN 2 00000003 4\r\n" and scans[-1].endswith(b" 6\r\n")


def test_a_join_candidate_list_from_doctor_joins_the_first_that_accepts():
    d = Dongle(neighbours(0))
    report, link, _ = run(scan, d)
    joined, _, _ = run(lambda lk: join_candidates(lk, report, set()), d)
    assert joined.target.addr == OWN_MAC


def test_a_skscan_refused_for_its_argument_count_is_fatal():
    d = Dongle({}, answer=lambda data: b"FAIL ER05\r\n" if data.startswith(b"SKSCAN") else b"")
    exc, _, _ = run(scan, d)
    assert isinstance(exc, LinkFatal) and "serial.dongle" in exc.fix


def test_credentials_the_dongle_would_refuse_are_fatal_not_retried():
    d = Dongle({})
    exc, _, _ = run(credentials, d, password=Secret("ABCD-EFGH!JK"))
    assert isinstance(exc, LinkFatal)
    assert not any(s.startswith(b"SKSETPWD") for s in d.sent)
    assert "ABCD-EFGH!JK" not in str(exc)


def test_send_waits_behind_the_duty_limit_and_reauthentication():
    d = Dongle({}, answer=lambda data: b"EVENT 21 %s 00\r\nOK\r\n" % ME.encode() if data.startswith(b"SKSENDTO") else b"")
    link = Link(LinkSettings(dongle="bp35a1"))
    link.now = 100.0
    assert link.notice(_event(b"EVENT 32 %s\r\n" % ME.encode(), link)) is Notice.DUTY_LIMITED
    driver = Driver()
    driver.start(send_udp(link, "FE80:0000:0000:0000:021C:6400:03DD:8257", b"\x10\x81"))
    assert driver.busy and not driver.outbox  # nothing sent while the limit holds
    ev = _event(b"EVENT 33 %s\r\n" % ME.encode(), link)
    link.notice(ev)
    driver.resume(ev)
    (sent,) = driver.drain()
    assert sent.data.startswith(b"SKSENDTO 1 FE80")
    for ev in link.receive_data(d.reply(sent.data), 101.0):
        driver.resume(ev)
    assert driver.result is Sent.OK


def _event(line: bytes, link: Link):
    (ev,) = link.receive_data(line, link.now)
    return ev


def test_a_refused_send_is_reported_as_such():
    d = Dongle({}, answer=lambda data: b"EVENT 21 %s 01\r\nOK\r\n" % ME.encode() if data.startswith(b"SKSENDTO") else b"")
    result, _, _ = run(lambda lk: send_udp(lk, "FE80:0000:0000:0000:021C:6400:03DD:8257", b"\x10\x81"), d)
    assert result is Sent.REFUSED
    assert NoSession  # the session turns two refusals in a row into a rejoin (tested in test_session_*)


@pytest.mark.parametrize("name", ["bp35c0", "rl7023-dss"])
def test_dual_stack_scans_carry_the_side_argument(name):
    d = Dongle(neighbours(0))
    run(scan, d, dongle=name)
    assert d.sent[0].endswith(b" 4 0\r\n") and get_dialect(name).dual_stack


def test_backoff_rules():
    assert [backoff.wrong_credentials_delay(n) for n in (1, 2, 3, 9)] == [900, 1800, 3600, 3600]
    assert [backoff.join_retry_delay(n) for n in (1, 2, 5, 9)] == [30, 60, 300, 300]
    assert [backoff.no_beacon_delay(n) for n in (0, 1, 5, 9)] == [30, 60, 600, 600]
    assert [backoff.recovery_delay(n) for n in (1, 2, 3, 9)] == [0, 30, 60, 300]
    assert [backoff.reopen_delay(n) for n in (0, 1, 5, 50)] == [1, 2, 60, 60]
