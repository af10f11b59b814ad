"""The doctor's dongle dialogue (sans-I/O flow + its driver) against the real in-process
simulator (DongleSim behind SimTransport on a VirtualClock: real scan/join timings, no waiting),
plus the flow fed by hand and the pure check functions."""

from __future__ import annotations

import errno
import random
from pathlib import Path

import pytest

from logger.clock import VirtualClock
from logger.diagnose import (
    FAIL,
    OK,
    SKIP,
    WARN,
    Check,
    DialogueOptions,
    DongleDialogue,
    Send,
    Timeout,
    Wait,
    check_credentials,
    check_directory,
    drive,
    exit_code,
    explain_port_error,
    port_precheck,
)
from logger.secrets import Secret
from logger.simulate.dongle import DEMO_PASSWORD, DEMO_RBID, DongleConfig, DongleSim
from logger.simulate.meter import MeterConfig, MeterSim
from logger.skstack.events import EInfo, Ever, Ok
from logger.transport import SimTransport

T0 = 1_780_000_000.0


def run_sim(dialect: str, opts: DialogueOptions, **config) -> tuple[dict[str, Check], DongleDialogue, VirtualClock]:
    clock = VirtualClock(T0)
    dongle = DongleSim(dialect, MeterSim(MeterConfig(notify="none"), T0), DongleConfig(**config), random.Random(1))
    dialogue = DongleDialogue(opts)
    notes: list[str] = []
    checks = drive(dialogue, SimTransport(dongle, clock), clock, notes.append)
    return {c.name: c for c in checks}, dialogue, clock


def opts(**kw) -> DialogueOptions:
    base = {"port": "sim", "rbid": Secret(DEMO_RBID), "password": Secret(DEMO_PASSWORD), "credentials_ok": True,
            "scan_duration_min": 4, "scan_duration_max": 8}
    base.update(kw)
    return DialogueOptions(**base)


@pytest.mark.parametrize(
    "dialect, binary",
    [("bp35a1", "binary (ROPT 00)"), ("bp35c0", "hex ASCII (ROPT 01)"), ("rl7023-ips", "Tessera"),
     ("rl7023-dss", "Tessera")],
)
def test_every_dialect_is_detected_scanned_and_joined(dialect: str, binary: str) -> None:
    checks, dialogue, clock = run_sim(dialect, opts(join=True))
    assert all(c.status == OK for c in checks.values()), [c.line() for c in checks.values()]
    assert checks["dialect"].found.startswith(f"{dialect}:")
    assert binary in checks["erxudp mode"].found
    assert "not joined" in checks["session"].found
    # the simulator hears the meter from duration 5: the doctor steps 4 -> 5 at real (virtual) timing
    assert "found at scan duration 5: channel 59 (0x3B), PAN 8257" in checks["meter"].found
    assert "RSSI -50.4 dBm" in checks["meter"].found
    assert "EVENT 25" in checks["join"].found and "EVENT 27" in checks["join"].found
    assert not dialogue.joined
    assert clock.time() - T0 > 28 * 0.0096 * (2**4 + 1)  # a full duration-4 sweep really happened


def test_wrong_password_fails_with_event_24() -> None:
    checks, dialogue, _ = run_sim("bp35a1", opts(join=True, password=Secret("WRONGPASSWD1")))
    assert checks["meter"].status == OK
    assert checks["join"].status == FAIL
    assert "EVENT 24" in checks["join"].found
    assert "check BROUTE_ID and BROUTE_PASSWORD" in checks["join"].fix
    assert not dialogue.joined


def test_meter_out_of_reach_fails_with_the_usual_causes() -> None:
    checks, _, _ = run_sim("rl7023-dss", opts(scan_duration_min=3, scan_duration_max=4), min_scan_duration=6)
    assert checks["meter"].status == FAIL
    assert "no smart meter beacon at scan durations 3..4" in checks["meter"].found
    for cause in ("too far", "not enabled yet", "higher duration"):
        assert cause in checks["meter"].fix


def test_no_scan_skips_the_meter() -> None:
    checks, _, clock = run_sim("bp35c0", opts(scan=False, join=True))
    assert checks["meter"].status == SKIP and "--no-scan" in checks["meter"].found
    assert "join" not in checks
    assert clock.time() - T0 < 5


def test_join_skipped_without_credentials() -> None:
    checks, _, _ = run_sim("bp35a1", opts(join=True, credentials_ok=False, rbid=None, password=None))
    assert checks["meter"].status == OK
    assert checks["join"].status == SKIP


def test_configured_dialect_mismatch_warns() -> None:
    checks, _, _ = run_sim("rl7023-ips", opts(scan=False, configured_dialect="bp35a1"))
    assert checks["dialect"].status == WARN
    assert "set serial.dongle: rl7023-ips" in checks["dialect"].fix


def test_weak_signal_and_foreign_pairid_warn() -> None:
    checks, _, _ = run_sim("bp35a1", opts(rbid=Secret("Z" * 32)), lqi=0x20)
    assert checks["meter"].status == WARN
    assert "PairID does not match" in checks["meter"].found


# ------------------------------------------------------------------ the flow fed by hand


def test_flow_silence_then_garbage_classification() -> None:
    for received, expected in ((0, "no answer at all"), (57, "does not look like an SKSTACK-IP dongle")):
        d = DongleDialogue(DialogueOptions(port="/dev/x", probe_attempts=2))
        flow = d.flow()
        item = flow.send(None)
        sent = []
        with pytest.raises(StopIteration):
            while True:
                if isinstance(item, Send):
                    sent.append(item.data)
                    item = flow.send(None)
                else:
                    assert isinstance(item, Wait)
                    item = flow.send(Timeout(received))
        assert sent == [b"SKSREG SFE 0\r\n", b"\r\n", b"SKSREG SFE 0\r\n", b"\r\n"]
        assert d.checks[0].status == FAIL and expected in d.checks[0].found
        assert "baud" in d.checks[0].fix
        assert d.checks[1].status == SKIP


def test_flow_reads_joined_state_from_einfo() -> None:
    d = DongleDialogue(DialogueOptions(scan=False))
    answers = {
        b"SKSREG SFE 0\r\n": [Ok()],
        b"SKVER\r\n": [Ever("1.2.10"), Ok()],
        b"SKAPPVER\r\n": [Ok()],
        b"SKINFO\r\n": [EInfo("FE80:0000:0000:0000:1234:5678:9ABC:DEF0", "1234567890ABCDEF", 0x3B, 0x8257, "FFFE"),
                        Ok()],
        b"ROPT\r": [Ok("01")],
    }
    flow = d.flow()
    queue: list = []
    item = flow.send(None)
    while True:
        try:
            if isinstance(item, Send):
                queue = list(answers[item.data])
                item = flow.send(None)
            elif isinstance(item, Wait):
                item = flow.send(queue.pop(0) if queue else Timeout(0))
            else:
                item = flow.send(None)
        except StopIteration:
            break
    by = {c.name: c for c in d.checks}
    assert by["dialect"].found.startswith("bp35a1")
    assert "channel 59, PAN 8257" in by["session"].found
    assert "hex ASCII (ROPT 01)" in by["erxudp mode"].found


# ------------------------------------------------------------------ pure checks


def test_credentials_report_lengths_only() -> None:
    rbid, pwd = "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6", "Pw-12345678x"
    ok = check_credentials(Secret(rbid), Secret(pwd))
    assert ok.status == OK and "32 characters" in ok.found and "12 characters" in ok.found
    bad = check_credentials(Secret(rbid[:30]), None)
    assert bad.status == FAIL and bad.config_error
    assert "30 characters" in bad.found and "BROUTE_PASSWORD is not set" in bad.found
    for c in (ok, bad):
        assert rbid[:8] not in c.line() and rbid[-8:] not in c.line() and pwd[:6] not in c.line()


def test_permission_message_names_dialout_and_docker() -> None:
    # The real chmod-000 case is in test_doctor_cli.py (skipped as root: root ignores permissions).
    found, fix = explain_port_error("/dev/ttyUSB0", PermissionError(errno.EACCES, "Permission denied"))
    assert "permission denied" in found
    assert "sudo usermod -aG dialout $USER, then log in again" in fix
    assert "group_add" in fix and "devices" in fix


def test_missing_and_busy_port_messages() -> None:
    check = port_precheck("/dev/does-not-exist-doctor")
    assert check is not None and check.status == FAIL and "plugged in?" in check.fix
    found, fix = explain_port_error("/dev/ttyUSB0", OSError(errno.EAGAIN, "Could not exclusively lock port"))
    assert "held by another program" in found and "fuser" in fix
    unset = port_precheck(None)
    assert unset is not None and unset.config_error and "SERIAL_PORT" in unset.fix
    assert port_precheck("socket://127.0.0.1:1") is None


def test_directory_checks(tmp_path: Path) -> None:
    assert check_directory("csv directory", "CSV_DIR", tmp_path).status == OK
    assert "will be created" in check_directory("csv directory", "CSV_DIR", tmp_path / "a" / "b").found
    blocker = tmp_path / "file"
    blocker.write_text("x")
    c = check_directory("csv directory", "CSV_DIR", blocker / "data")
    assert c.status == FAIL and "not a directory" in c.found and "CSV_DIR" in c.fix
    assert list(tmp_path.iterdir()) == [blocker]  # the probe file was removed, nothing created


def test_exit_codes() -> None:
    assert exit_code([Check("a", OK, ""), Check("b", WARN, "")]) == 0
    assert exit_code([Check("a", FAIL, "")]) == 1
    assert exit_code([Check("a", FAIL, ""), Check("b", FAIL, "", config_error=True)]) == 2
