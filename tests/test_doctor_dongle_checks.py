"""Doctor's dongle and meter checks: the link flows ``run`` uses, against the real in-process
simulator (DongleSim behind SimTransport on a VirtualClock: real scan/join timings, no waiting),
plus the flow fed by hand."""

from __future__ import annotations

import random

import pytest

from logger.clock import VirtualClock
from logger.diagnose import FAIL, OK, SKIP, WARN, Check
from logger.dongle_checks import DongleChecks, drive
from logger.link.flow import Send, Wait
from logger.link.settings import LinkSettings
from logger.secrets import Secret
from logger.simulate.dongle import DEMO_PASSWORD, DEMO_RBID, DongleConfig, DongleSim
from logger.simulate.meter import MeterConfig, MeterSim
from logger.skstack.events import EInfo, Ever, Ok
from logger.transport import SimTransport

T0 = 1_780_000_000.0


def settings(**kw) -> LinkSettings:
    base = {"rbid": Secret(DEMO_RBID), "password": Secret(DEMO_PASSWORD), "scan_duration_min": 4,
            "scan_duration_max": 8, "command_timeout_s": 2.0}
    base.update(kw)
    return LinkSettings(**base)


def run_sim(dialect: str, link: LinkSettings, scan: bool = True, join: bool = False, credentials_ok: bool = True,
            **config) -> tuple[dict[str, Check], DongleChecks, VirtualClock, DongleSim]:
    clock = VirtualClock(T0)
    dongle = DongleSim(dialect, MeterSim(MeterConfig(notify="none"), T0), DongleConfig(**config), random.Random(1))
    checks = DongleChecks(link, port="sim", scan=scan, join=join, credentials_ok=credentials_ok)
    transport = RecordingTransport(dongle, clock)
    result = drive(checks, transport, clock, lambda _t: None)
    dongle.written = transport.written  # type: ignore[attr-defined]
    return {c.name: c for c in result}, checks, clock, dongle


class RecordingTransport(SimTransport):
    """The simulator's transport, remembering every command written to the dongle."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(bytes(data))
        super().write(data)


@pytest.mark.parametrize(
    "dialect, binary",
    [("bp35a1", "binary (ROPT 00)"), ("bp35c0", "hex ASCII (ROPT 01)"), ("rl7023-ips", "Tessera"),
     ("rl7023-dss", "Tessera")],
)
def test_every_dialect_is_detected_scanned_and_joined(dialect: str, binary: str) -> None:
    checks, _, clock, dongle = run_sim(dialect, settings(), join=True)
    assert all(c.status == OK for c in checks.values()), [c.line() for c in checks.values()]
    assert checks["dialect"].found.startswith(f"{dialect}:")
    assert binary in checks["erxudp mode"].found
    assert "not joined" in checks["session"].found
    # the simulator hears the meter from duration 5: the ladder 4, 6 finds it at 6
    assert "found at scan duration 6: channel 59 (0x3B), PAN 8257" in checks["meter"].found
    assert "PairID matches" in checks["meter"].found
    assert "EVENT 25" in checks["join"].found and "EVENT 27" in checks["join"].found
    assert clock.time() - T0 > 28 * 0.0096 * (2**4 + 1)  # a full duration-4 sweep really happened


def test_wrong_password_fails_with_event_24_and_blames_the_credentials() -> None:
    checks, _, _, _ = run_sim("bp35a1", settings(password=Secret("WRONGPASSWD1")), join=True)
    assert checks["meter"].status == OK
    assert checks["join"].status == FAIL
    assert "EVENT 24" in checks["join"].found
    assert "BROUTE_ID" in checks["join"].fix and "BROUTE_PASSWORD" in checks["join"].fix


def test_meter_out_of_reach_fails_with_the_usual_causes() -> None:
    checks, _, _, _ = run_sim("rl7023-dss", settings(scan_duration_min=3, scan_duration_max=4), min_scan_duration=6)
    assert checks["meter"].status == FAIL
    assert "3..4" in checks["meter"].found
    for cause in ("too far", "not enabled yet", "higher duration"):
        assert cause in checks["meter"].fix


def test_no_scan_skips_the_meter() -> None:
    checks, _, clock, _ = run_sim("bp35c0", settings(), scan=False, join=True)
    assert checks["meter"].status == SKIP
    assert "join" not in checks
    assert clock.time() - T0 < 5


def test_join_skipped_without_credentials() -> None:
    checks, _, _, _ = run_sim("bp35a1", settings(rbid=None, password=None), join=True, credentials_ok=False)
    assert checks["meter"].status == OK and "PairID not checked" in checks["meter"].found
    assert checks["join"].status == SKIP


def test_configured_dialect_mismatch_warns() -> None:
    checks, _, _, _ = run_sim("rl7023-ips", settings(dongle="bp35a1"), scan=False)
    assert checks["dialect"].status == WARN
    assert "set serial.dongle: rl7023-ips" in checks["dialect"].fix


def test_weak_signal_warns() -> None:
    checks, _, _, _ = run_sim("bp35a1", settings(), lqi=0x20)
    assert checks["meter"].status == WARN and "weak" in checks["meter"].found


def test_a_meter_whose_pair_id_differs_is_not_ours() -> None:
    """A wrong B-route ID (or only a neighbour in range): the PAN heard is never offered as the meter."""
    checks, _, _, dongle = run_sim("bp35a1", settings(rbid=Secret("Z" * 32)), join=True)
    assert checks["meter"].status == FAIL
    assert "BROUTE_ID" in checks["meter"].fix
    assert checks["join"].status == SKIP
    assert any(line.startswith(b"SKSCAN") for line in dongle.written)
    assert not any(line.startswith(b"SKJOIN") for line in dongle.written)


# ------------------------------------------------------------------ the flow fed by hand


def feed(checks: DongleChecks, answers: dict[bytes, list]) -> list[bytes]:
    """Run the checks' flow, answering each command from ``answers`` (missing = silence)."""
    sent: list[bytes] = []
    flow = checks.flow()
    queue: list = []
    item = flow.send(None)
    while True:
        try:
            if isinstance(item, Send):
                sent.append(item.data)
                queue = list(answers.get(item.data, []))
                item = flow.send(None)
            elif isinstance(item, Wait):
                checks.link.now = item.deadline if not queue else checks.link.now
                item = flow.send(queue.pop(0) if queue else None)
            else:
                item = flow.send(None)
        except StopIteration:
            return sent


@pytest.mark.parametrize("received, expected", [(0, "no answer at all"), (57, "bytes came back")])
def test_flow_silence_then_garbage_classification(received: int, expected: str) -> None:
    checks = DongleChecks(settings(probe_attempts=2), port="/dev/x")
    checks.link.received = received
    sent = feed(checks, {})
    assert sent == [b"SKSREG SFE 0\r\n", b"\r\n", b"SKSREG SFE 0\r\n", b"\r\n"]
    assert checks.checks[0].status == FAIL and expected in checks.checks[0].found
    assert "baud" in checks.checks[0].fix
    assert checks.checks[1].status == SKIP


def test_flow_reads_joined_state_from_einfo() -> None:
    checks = DongleChecks(settings(), scan=False)
    sent = feed(checks, {
        b"SKSREG SFE 0\r\n": [Ok()],
        b"SKVER\r\n": [Ever("1.2.10"), Ok()],
        b"SKAPPVER\r\n": [Ok()],
        b"SKINFO\r\n": [EInfo("FE80:0000:0000:0000:1234:5678:9ABC:DEF0", "1234567890ABCDEF", 0x3B, 0x8257, "FFFE"),
                        Ok()],
        b"ROPT\r": [Ok("01")],
    })
    assert sent[:4] == [b"SKSREG SFE 0\r\n", b"SKVER\r\n", b"SKAPPVER\r\n", b"SKINFO\r\n"]
    by = {c.name: c for c in checks.checks}
    assert by["dialect"].found.startswith("bp35a1")
    assert "channel 59, PAN 8257" in by["session"].found
    assert "hex ASCII (ROPT 01)" in by["erxudp mode"].found
