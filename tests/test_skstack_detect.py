"""Dialect auto-detection from SKVER / SKINFO / ROPT."""

import pytest

from logger.link.errors import DongleSilent, LinkFatal
from logger.link.flow import Driver, Send
from logger.link.link import Link
from logger.link.probe import probe
from logger.link.settings import LinkSettings
from logger.skstack.detect import DetectionError, detect_dialect, erxudp_binary
from logger.skstack.dialects import DIALECTS
from logger.skstack.events import EInfo, Fail, Ok

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


def run_probe(transcript: dict[bytes, bytes], dongle: str = "auto"):
    """The link's probe flow against a transcript, through the real parser; (result, commands sent)."""
    link = Link(LinkSettings(dongle=dongle))
    driver, sent = Driver(), []
    driver.start(probe(link))
    while driver.busy or driver.outbox:
        for item in driver.drain():
            if isinstance(item, Send):
                sent.append(item.data)
                for ev in link.receive_data(transcript.get(item.data, b""), link.now):
                    driver.resume(ev)
        if driver.busy and not driver.outbox:
            link.now = driver.deadline
            driver.tick(link.now)
    return driver.result, sent, link


BP35C0 = {
    b"SKSREG SFE 0\r\n": b"SKSREG SFE 0\r\nOK\r\n",
    b"SKVER\r\n": b"EVER 1.5.2\r\nOK\r\n",
    b"SKAPPVER\r\n": b"EAPPVER rev1.2.4\r\nOK\r\n",
    b"SKINFO\r\n": b"EINFO FE80:0000:0000:0000:021D:1291:0004:FFFF 001D12910004FFFF 39 9E08 0\r\nOK\r\n",
    b"ROPT\r": b"OK 01\r",
}


def test_probe_detects_a_bp35c0_from_its_transcript():
    result, sent, link = run_probe(BP35C0)
    assert sent == [b"SKSREG SFE 0\r\n", b"SKVER\r\n", b"SKAPPVER\r\n", b"SKINFO\r\n", b"ROPT\r"]
    assert (result.dialect, result.detected, result.ever, result.binary) == ("bp35c0", "bp35c0", "1.5.2", False)
    assert link.dialect.name == "bp35c0" and link.parser.dialect is link.dialect


def test_probe_on_tessera_single_stack_never_writes_wopt():
    transcript = dict(BP35C0)
    transcript[b"SKINFO\r\n"] = b"EINFO FE80:0000:0000:0000:021D:1290:0004:263D 001D12900004263D 21 FFFF FFFE \r\nOK\r\n"
    transcript[b"ROPT\r"] = b"FAIL ER04\r\n"
    result, sent, _ = run_probe(transcript)
    assert result.dialect == "rl7023-ips" and result.binary is None
    assert not any(s.startswith(b"WOPT") for s in sent)


def test_a_configured_tessera_is_not_asked_ropt_and_a_mismatch_is_told():
    result, sent, _ = run_probe(BP35C0, dongle="rl7023-ips")
    assert b"ROPT\r" not in sent
    assert result.dialect == "rl7023-ips" and result.detect_error is not None  # SKINFO says dual stack
    result, _, _ = run_probe(BP35C0, dongle="bp35a1")
    assert result.mismatch and result.detected == "bp35c0" and result.dialect == "bp35a1"


def test_probe_without_an_answer_is_silence_and_undetectable_answers_are_fatal():
    with pytest.raises(DongleSilent):
        run_probe({})
    odd = dict(BP35C0)
    odd[b"ROPT\r"] = b"FAIL ER05\r\n"
    with pytest.raises(LinkFatal, match="serial.dongle"):
        run_probe(odd)
