"""Dialect auto-detection from SKVER / SKINFO / ROPT."""

import pytest

from logger.skstack.detect import (
    PROBE_COMMANDS,
    DetectionError,
    Probe,
    detect_dialect,
    erxudp_binary,
)
from logger.skstack.dialects import DIALECTS
from logger.skstack.events import EInfo, Fail, Ok
from logger.skstack.parser import SkParser

SS = EInfo("FE80:0000:0000:0000:021D:1290:0004:263D", "001D12900004263D", 0x21, 0xFFFF, "FFFE")
DS = EInfo("FE80:0000:0000:0000:021D:1291:0004:FFFF", "001D12910004FFFF", 0x39, 0x9E08, "0")


@pytest.mark.parametrize(
    ("einfo", "ropt", "expected"),
    [
        (SS, Ok("00"), "bp35a1"),
        (SS, Ok("01"), "bp35a1"),
        (SS, Fail("ER04"), "rl7023-ips"),
        (DS, Ok("01"), "bp35c0"),
        (DS, Fail("ER04"), "rl7023-dss"),
    ],
)
def test_detection_table(einfo, ropt, expected):
    assert detect_dialect("1.2.10", einfo, ropt) == expected
    assert expected in DIALECTS


def test_missing_or_odd_answers_raise_with_the_fix():
    with pytest.raises(DetectionError, match="no EINFO.*EVER 1.5.2.*settings.yml"):
        detect_dialect("1.5.2", None, Ok("01"))
    with pytest.raises(DetectionError, match="ROPT gave no answer"):
        detect_dialect(None, SS, None)
    with pytest.raises(DetectionError, match="ROPT gave FAIL ER05"):
        detect_dialect(None, DS, Fail("ER05"))


@pytest.mark.parametrize(
    ("ropt", "binary"),
    [(Ok("00"), True), (Ok("01"), False), (Ok(None), None), (Ok("02"), None), (Fail("ER04"), None), (None, None)],
)
def test_erxudp_mode_from_ropt(ropt, binary):
    assert erxudp_binary(ropt) is binary


def test_probe_sequence_against_a_bp35c0_transcript():
    assert [name for name, _ in PROBE_COMMANDS] == ["SKVER", "SKINFO", "ROPT"]
    transcript = {
        b"SKVER\r\n": b"SKVER\r\nEVER 1.5.2\r\nOK\r\n",
        b"SKINFO\r\n": b"SKINFO\r\nEINFO FE80:0000:0000:0000:021D:1291:0004:FFFF 001D12910004FFFF 39 9E08 0\r\nOK\r\n",
        b"ROPT\r": b"ROPT\rOK 01\r",
    }
    probe, parser, sent = Probe(), SkParser(), []
    while (cmd := probe.command()) is not None:
        sent.append(cmd)
        finished = [probe.feed(e) for e in parser.feed(transcript[cmd])]
        assert finished.count(True) == 1
    assert sent == [b"SKVER\r\n", b"SKINFO\r\n", b"ROPT\r"]
    result = probe.result()
    assert (result.dialect, result.version, result.binary) == ("bp35c0", "1.5.2", False)
    assert probe.feed(Ok()) is False  # nothing left to finish


def test_probe_on_tessera_single_stack():
    probe = Probe()
    for event in (Ok(), SS, Ok(), Fail("ER04")):
        probe.feed(event)
    assert probe.done
    result = probe.result()
    assert (result.dialect, result.version, result.binary) == ("rl7023-ips", None, None)
