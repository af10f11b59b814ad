"""Per-dialect command bytes and the registry."""

import pytest

from logger.skstack.commands import CommandError
from logger.skstack.dialects import DIALECTS, get_dialect
from logger.skstack.dialects.base import (
    ERXUDP_DS,
    ERXUDP_DS_RSSI,
    ERXUDP_SS,
    EVENT_DS,
    EVENT_SS,
)

METER = "FE80:0000:0000:0000:021C:6400:03DD:6393"
FRAME = bytes.fromhex("1081000105FF010288016201E700")
# raw bytes that look like line ends and text must go out untouched
TRICKY = b"\x10\x81\r\nOK\r\n\x00 "


def test_registry_has_the_four_families_and_the_alias():
    assert set(DIALECTS) == {"bp35a1", "rl7023-ips", "rl7023-dss", "bp35c0"}
    assert get_dialect("bp35c2") is get_dialect("bp35c0")
    assert get_dialect("RL7023_IPS") is DIALECTS["rl7023-ips"]
    for name, d in DIALECTS.items():
        assert d.name == name


def test_unknown_dialect_names_the_choices():
    with pytest.raises(ValueError, match="unknown dongle 'bp35a2'.*bp35a1.*bp35c2"):
        get_dialect("bp35a2")


@pytest.mark.parametrize(
    ("name", "dual", "rohm", "binary", "layouts", "events"),
    [
        ("bp35a1", False, True, True, (ERXUDP_SS,), EVENT_SS),
        ("rl7023-ips", False, False, False, (ERXUDP_SS,), EVENT_SS),
        ("rl7023-dss", True, False, False, (ERXUDP_DS, ERXUDP_DS_RSSI), EVENT_DS),
        ("bp35c0", True, True, False, (ERXUDP_DS, ERXUDP_DS_RSSI), EVENT_DS),
    ],
)
def test_dialect_traits(name, dual, rohm, binary, layouts, events):
    """Every trait comes from the one family table (bp35c0's factory ERXUDP is hex, per the RS-WSUHA-P
    capture; RL7023/DSS prints the LQI token with SA2=1 like the BP35C2)."""
    d = get_dialect(name)
    assert (d.dual_stack, d.rohm, d.default_binary, d.binary_possible) == (dual, rohm, binary, rohm)
    assert d.erxudp_layouts == layouts
    assert d.event_fields == events


@pytest.mark.parametrize(
    ("name", "scan", "sendto_head"),
    [
        ("bp35a1", b"SKSCAN 2 FFFFFFFF 6\r\n", b"SKSENDTO 1 " + METER.encode() + b" 0E1A 1 000E "),
        ("rl7023-ips", b"SKSCAN 2 FFFFFFFF 6\r\n", b"SKSENDTO 1 " + METER.encode() + b" 0E1A 1 000E "),
        ("rl7023-dss", b"SKSCAN 2 FFFFFFFF 6 0\r\n", b"SKSENDTO 1 " + METER.encode() + b" 0E1A 1 0 000E "),
        ("bp35c0", b"SKSCAN 2 FFFFFFFF 6 0\r\n", b"SKSENDTO 1 " + METER.encode() + b" 0E1A 1 0 000E "),
    ],
)
def test_scan_and_sendto_bytes(name, scan, sendto_head):
    d = get_dialect(name)
    assert d.scan(6) == scan
    assert d.sendto(METER, FRAME) == sendto_head + FRAME


def test_sendto_writes_raw_data_without_hex_or_crlf():
    d = get_dialect("bp35c0")
    out = d.sendto(METER.lower(), TRICKY, handle=2, port=0x02CC, sec=2, side=1)
    assert out == b"SKSENDTO 2 " + METER.encode() + b" 02CC 2 1 000A " + TRICKY


def test_scan_arguments():
    assert get_dialect("bp35a1").scan(0xE, mask=0x3FFFC00, mode=3) == b"SKSCAN 3 03FFFC00 E\r\n"
    assert get_dialect("bp35c0").scan(4, side=1) == b"SKSCAN 2 FFFFFFFF 4 1\r\n"


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda d: d.scan(15), "scan duration"),
        (lambda d: d.scan(6, mode=1), "scan mode"),
        (lambda d: d.scan(6, mask=0), "channel mask"),
        (lambda d: d.sendto(METER, b""), "1 to 1280 bytes"),
        (lambda d: d.sendto(METER, bytes(1281)), "1 to 1280 bytes"),
        (lambda d: d.sendto(METER, "text"), "must be bytes"),
        (lambda d: d.sendto("FE80::1", FRAME), "8 groups"),
        (lambda d: d.sendto(METER, FRAME, handle=7), "UDP handle"),
        (lambda d: d.sendto(METER, FRAME, sec=3), "SEC"),
        (lambda d: d.sendto(METER, FRAME, port=0x10000), "UDP port"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(CommandError, match=match):
        call(get_dialect("bp35a1"))


def test_single_stack_refuses_a_side():
    with pytest.raises(CommandError, match="single-stack"):
        get_dialect("rl7023-ips").sendto(METER, FRAME, side=1)
    with pytest.raises(CommandError, match="single-stack"):
        get_dialect("bp35a1").scan(6, side=1)
    with pytest.raises(CommandError, match="SIDE"):
        get_dialect("rl7023-dss").scan(6, side=2)


def test_the_family_table_is_the_only_source_of_names_and_facts():
    from logger.skstack.families import DONGLE_CHOICES, FAMILIES

    assert set(DIALECTS) == {f.name for f in FAMILIES}
    assert DONGLE_CHOICES[0] == "auto" and set(DONGLE_CHOICES[1:]) >= set(DIALECTS) | {"bp35c2"}
    for f in FAMILIES:
        d = get_dialect(f.name)
        assert (d.dual_stack, d.rohm, d.default_binary, d.title) == (f.dual_stack, f.rohm, f.factory_binary, f.title)
        for alias in f.aliases:
            assert get_dialect(alias) is d


def test_rl7023_dss_with_sa2_erxudp_parses():
    """The line the simulator's RL7023/DSS prints with SA2=1 (LQI before SECURED) is an RxUdp, not Unknown."""
    from logger.skstack.events import RxUdp
    from logger.skstack.parser import SkParser

    line = (b"ERXUDP FE80:0000:0000:0000:021C:6400:03DD:8257 FE80:0000:0000:0000:1207:23FF:FEA0:7A52 0E1A 0E1A "
            b"001C640003DD8257 C4 1 0 0012 1081000102880105FF017201E704000001F4\r\n")
    (ev,) = SkParser(get_dialect("rl7023-dss")).feed(line)
    assert isinstance(ev, RxUdp) and ev.lqi == 0xC4 and ev.data == bytes.fromhex("1081000102880105FF017201E704000001F4")
