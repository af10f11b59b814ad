"""SkParser: every line type, ERXUDP layouts in hex and binary, blocks, quirks, robustness."""

import pytest

from logger.skstack.dialects import get_dialect
from logger.skstack.events import (
    EAppVer,
    Echo,
    EInfo,
    EPort,
    ESReg,
    Event,
    Ever,
    Fail,
    Ll64,
    Ok,
    PanDesc,
    RxUdp,
    Unknown,
)
from logger.skstack.parser import MAX_LINE, SkParser

METER = "FE80:0000:0000:0000:021C:6400:03DD:6393"
LOCAL = "FE80:0000:0000:0000:021D:1291:0000:0574"
LLA = "001C640003DD6393"
# A Get_Res whose raw bytes contain CR LF, a space and text that looks like a reply.
NASTY = bytes.fromhex("1081000102880105FF017201E704") + b"\r\nOK"
FRAME = bytes.fromhex("1081000102880105FF017201E704000001F8")


def parse(data: bytes, dialect: str | None = None) -> list:
    p = SkParser(get_dialect(dialect) if dialect else None)
    return p.feed(data) + p.flush()


def parse_bytewise(data: bytes, dialect: str | None = None) -> list:
    p = SkParser(get_dialect(dialect) if dialect else None)
    out = []
    for i in range(len(data)):
        out += p.feed(data[i : i + 1])
    return out + p.flush()


def erxudp(payload: bytes, *, mid: str = "1", side: str | None = None, lqi: str | None = None, binary=False) -> bytes:
    head = f"ERXUDP {METER} {LOCAL} 0E1A 0E1A {LLA}"
    if lqi is not None:
        head += f" {lqi}"
    head += f" {mid}"
    if side is not None:
        head += f" {side}"
    head += f" {len(payload):04X} "
    return head.encode() + (payload if binary else payload.hex().upper().encode()) + b"\r\n"


# ------------------------------------------------------------------ simple lines


@pytest.mark.parametrize(
    ("line", "event"),
    [
        (b"OK\r\n", Ok()),
        (b"OK 01\r\n", Ok("01")),
        (b"FAIL ER04\r\n", Fail("ER04")),
        (b"FAIL ER10\r\n", Fail("ER10")),
        (b"EVER 1.2.10\r\n", Ever("1.2.10")),
        (b"EAPPVER rev26e\r\n", EAppVer("rev26e")),
        (b"ESREG 00000004\r\n", ESReg("00000004")),
        (b"FE80:0000:0000:0000:021C:6400:03DD:6393\r\n", Ll64(METER)),
        (
            b"EINFO FE80:0000:0000:0000:1234:5678:1234:5678 1234567812345678 21 FFFF FFFE \r\n",
            EInfo("FE80:0000:0000:0000:1234:5678:1234:5678", "1234567812345678", 0x21, 0xFFFF, "FFFE"),
        ),
    ],
)
def test_simple_lines(line, event):
    assert parse(line) == [event]


def test_fail_meaning():
    (fail,) = parse(b"FAIL ER04\r\n")
    assert fail.meaning == "command not supported"


@pytest.mark.parametrize("ending", [b"\r\n", b"\n", b"\r"])
def test_any_line_ending(ending):
    assert parse(b"OK 01" + ending + b"FAIL ER05" + ending) == [Ok("01"), Fail("ER05")]


def test_rohm_cr_only_answers_come_out_without_waiting_for_lf():
    p = SkParser(get_dialect("bp35a1"))
    assert p.feed(b"ROPT\rOK 00\r") == [Echo("ROPT", "ROPT"), Ok("00")]
    assert p.feed(b"WOPT 01\r") == [Echo("WOPT", "WOPT 01")]
    assert p.feed(b"OK\r") == [Ok()]
    # a LF arriving after a CR-terminated line is not a blank line of its own
    assert p.feed(b"\nRUART\rOK 80\r") == [Echo("RUART", "RUART"), Ok("80")]


# ------------------------------------------------------------------ echoes


def test_echo_lines():
    events = parse(b"SKVER\r\nSKSREG SFE 0\r\nSKSCAN 2 FFFFFFFF 6 0 \r\nSKLL64 001C640003DD6393\r\n")
    assert events == [
        Echo("SKVER", "SKVER"),
        Echo("SKSREG", "SKSREG SFE 0"),
        Echo("SKSCAN", "SKSCAN 2 FFFFFFFF 6 0"),
        Echo("SKLL64", "SKLL64 001C640003DD6393"),
    ]


def test_secret_echoes_are_masked_in_text_and_repr():
    events = parse(b"SKSETPWD C 0123456789AB\r\nSKSETRBID 0123456789ABCDEF0123456789ABCDEF\r\n")
    assert events == [Echo("SKSETPWD", "SKSETPWD C ********"), Echo("SKSETRBID", "SKSETRBID ********")]
    for e in events:
        assert "0123456789AB" not in repr(e) and "0123456789AB" not in e.text


def test_secrets_in_garbled_lines_are_masked_too():
    events = parse(b"\x00garbage SKSETPWD C 0123456789AB\r\nxxSKSETRBID 0123456789ABCDEF0123456789ABCDEF\r\n")
    assert [type(e) for e in events] == [Unknown, Unknown]
    for e in events:
        assert "0123456789AB" not in e.line and "0123456789AB" not in repr(e)


@pytest.mark.parametrize(
    ("line", "text"),
    [
        (b"SKSENDTO 1 " + METER.encode() + b" 0E1A 1 0 0012 \r\n", f"SKSENDTO 1 {METER} 0E1A 1 0 0012"),
        (b"SKSENDTO 1 " + METER.encode() + b" 0E1A 1 0012 extra data\r\n", f"SKSENDTO 1 {METER} 0E1A 1 0012"),
        (b"SKSENDTO 1 " + METER.encode() + b" 0E1A 1 0 0012 payload\r\n", f"SKSENDTO 1 {METER} 0E1A 1 0 0012"),
        (b"SKSENDTO 1 " + METER.encode() + b" 0E1A 1 junk junk\r\n", f"SKSENDTO 1 {METER} 0E1A 1"),
    ],
)
def test_sendto_echo_carries_the_header_only(line, text):
    assert parse(line) == [Echo("SKSENDTO", text)]


# ------------------------------------------------------------------ events


EVENT_CASES = [
    # (line, dialect, expected)
    (f"EVENT 21 {METER} 00", "rl7023-ips", Event(0x21, METER, None, 0)),
    (f"EVENT 21 {METER} 01", "bp35a1", Event(0x21, METER, None, 1)),
    (f"EVENT 21 {METER} 02", "bp35a1", Event(0x21, METER, None, 2)),
    (f"EVENT 21 {METER} 0 00", "bp35c0", Event(0x21, METER, 0, 0)),
    (f"EVENT 21 {METER} 0 01", "rl7023-dss", Event(0x21, METER, 0, 1)),
    (f"EVENT 21 {METER} 0 02", "rl7023-dss", Event(0x21, METER, 0, 2)),
    ("EVENT C0", "bp35a1", Event(0xC0)),
    ("EVENT C0", "bp35c0", Event(0xC0)),
]
for num in (0x01, 0x02, 0x05, 0x1F, 0x20, 0x22, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x32, 0x33):
    EVENT_CASES.append((f"EVENT {num:02X} {METER}", "rl7023-ips", Event(num, METER)))
    EVENT_CASES.append((f"EVENT {num:02X} {METER} 0", "rl7023-dss", Event(num, METER, 0)))
    EVENT_CASES.append((f"EVENT {num:02X} {METER} 1", "bp35c0", Event(num, METER, 1)))


@pytest.mark.parametrize(("line", "dialect", "expected"), EVENT_CASES)
def test_every_event_with_and_without_side(line, dialect, expected):
    assert parse(line.encode() + b"\r\n", dialect) == [expected]
    assert parse(line.encode() + b"\r\n") == [expected]  # no dialect: told apart by token width
    assert expected.meaning != "unknown event"


def test_event_side_on_a_single_stack_dialect_is_unknown():
    (e,) = parse(f"EVENT 25 {METER} 0\r\n".encode(), "bp35a1")
    assert isinstance(e, Unknown) and "SENDER PARAM" in e.reason


@pytest.mark.parametrize("line", ["EVENT", "EVENT 2", "EVENT ZZ", f"EVENT 21 {METER} 0 00 7", f"EVENT 21 {METER} 000"])
def test_malformed_events(line):
    (e,) = parse(line.encode() + b"\r\n")
    assert isinstance(e, Unknown) and e.line == line


# ------------------------------------------------------------------ EPANDESC

SS_BLOCK = (
    "EVENT 20 FE80:0000:0000:0000:1207:23FF:FEA0:77E3\r\nEPANDESC\r\n  Channel:33\r\n  Channel Page:09\r\n"
    "  Pan ID:6393\r\n  Addr:001C640003DD6393\r\n  LQI:4D\r\n"
)
DS_BLOCK = (
    "EVENT 20 FE80:0000:0000:0000:021D:1291:0002:2B4F 0\r\nEPANDESC\r\n  Channel:3B\r\n  Channel Page:09\r\n"
    "  Pan ID:0257\r\n  Addr:38E08E00001C8257\r\n  LQI:C4\r\n  Side:0\r\n"
)
SS_PAN = PanDesc(0x33, 9, 0x6393, "001C640003DD6393", 0x4D, None, None)
DS_PAN = PanDesc(0x3B, 9, 0x0257, "38E08E00001C8257", 0xC4, 0, None)


def test_epandesc_ends_on_pairid_without_waiting():
    p = SkParser()
    events = p.feed((SS_BLOCK + "  PairID:00F6D114\r\n").encode())
    assert events[1] == PanDesc(0x33, 9, 0x6393, "001C640003DD6393", 0x4D, None, "00F6D114")
    assert events[1].rssi_dbm == -83.095
    assert "00F6D114" not in repr(events[1])  # PairID is part of the B-route ID


def test_epandesc_ds_with_pairid():
    events = parse((DS_BLOCK + "  PairID:00177824\r\nEVENT 22 FE80:0000:0000:0000:021D:1291:0002:2B4F 0\r\n").encode())
    assert events[1] == PanDesc(0x3B, 9, 0x0257, "38E08E00001C8257", 0xC4, 0, "00177824")
    assert events[2] == Event(0x22, "FE80:0000:0000:0000:021D:1291:0002:2B4F", 0)


@pytest.mark.parametrize(("block", "pan", "side"), [(SS_BLOCK, SS_PAN, ""), (DS_BLOCK, DS_PAN, " 0")])
def test_epandesc_without_pairid_ends_on_the_next_line(block, pan, side):
    p = SkParser()
    assert p.feed(block.encode())[1:] == []  # still open
    events = p.feed(f"EVENT 22 {LOCAL}{side}\r\n".encode())
    assert events == [pan, Event(0x22, LOCAL, 0 if side else None)]


def test_epandesc_one_space_indent_and_blank_lines():
    text = "EPANDESC\r\n Channel:21\r\n\r\n Channel Page:09\r\n Pan ID:FFFF\r\n Addr:0011223344556677\r\n LQI:00\r\nOK\r\n"
    assert parse(text.encode()) == [PanDesc(0x21, 9, 0xFFFF, "0011223344556677", 0, None, None), Ok()]


def test_truncated_or_bad_epandesc_is_unknown():
    events = parse(b"EPANDESC\r\n  Channel:39\r\n  Channel Page:09\r\n  Pan ID:8CF5\r\nOK\r\n")
    assert isinstance(events[0], Unknown) and "missing Addr, LQI" in events[0].reason
    assert events[1] == Ok()
    events = parse(SS_BLOCK.replace("LQI:4D", "LQI:XYZ").encode() + b"  PairID:00F6D1ZZ\r\n")
    assert isinstance(events[1], Unknown) and "LQI 'XYZ'" in events[1].reason
    assert "00F6D1ZZ" not in events[1].line
    events = parse(b"EPANDESC\r\n  garbage\r\n")
    assert isinstance(events[0], Unknown) and "Key:Value" in events[0].reason


# ------------------------------------------------------------------ SKLL64 / SKTABLE


def test_skll64_answer_has_no_ok():
    events = parse(b"SKLL64 001C640003DD6393\r\nFE80:0000:0000:0000:021C:6400:03DD:6393\r\n")
    assert events == [Echo("SKLL64", "SKLL64 001C640003DD6393"), Ll64(METER)]


def test_sktable_e_with_bp35a1_quirk():
    data = b"SKTABLE E\r\nEPORT\r\n3610\r\n716\r\n0\r\n0\r\n0\r\n0\r\n\r\n3610\r\n0\r\n0\r\n0\r\nOK\r\n"
    assert parse(data) == [Echo("SKTABLE", "SKTABLE E"), EPort((3610, 716, 0, 0, 0, 0)), Ok()]
    assert parse_bytewise(data) == parse(data)


def test_sktable_e_plain_and_interrupted():
    assert parse(b"EPORT\r\n3610\r\n716\r\nOK\r\n") == [EPort((3610, 716)), Ok()]
    events = parse(b"EPORT\r\n3610\r\nEVENT 29 " + METER.encode() + b"\r\n")
    assert events == [EPort((3610,)), Event(0x29, METER)]


# ------------------------------------------------------------------ ERXUDP


@pytest.mark.parametrize("payload", [FRAME, NASTY, b"\x00", b"ERXUDP \r\n" * 3])
@pytest.mark.parametrize(
    ("dialect", "kw", "side", "lqi"),
    [
        ("bp35a1", {}, None, None),
        ("rl7023-ips", {}, None, None),
        ("rl7023-dss", {"side": "0"}, 0, None),
        ("bp35c0", {"side": "0"}, 0, None),
        ("bp35c0", {"side": "1", "lqi": "C4"}, 1, 0xC4),
    ],
)
def test_erxudp_every_layout_hex_and_binary(payload, dialect, kw, side, lqi):
    modes = [False, True] if get_dialect(dialect).rohm else [False]
    for binary in modes:
        line = erxudp(payload, binary=binary, **kw)
        expected = RxUdp(METER, LOCAL, 0x0E1A, 0x0E1A, LLA, 1, payload, side=side, lqi=lqi, binary=binary)
        for d in (dialect, None):
            assert parse(line, d) == [expected]
            assert parse_bytewise(line + b"OK\r\n", d) == [expected, Ok()]


def test_binary_data_is_read_by_count_even_when_it_looks_like_lines():
    payload = b"OK\r\nEVENT 21 " + METER.encode() + b" 00\r\n"
    data = erxudp(payload, side="0", binary=True) + b"OK\r\n"
    events = parse(data, "bp35c0")
    assert events[0].data == payload and events[0].binary
    assert events[1:] == [Ok()]


def test_erxudp_with_lone_lf_or_cr_after_data():
    for end in (b"\n", b"\r"):
        line = erxudp(FRAME, binary=True)[:-2] + end + b"OK" + end
        assert [type(e) for e in parse(line)] == [RxUdp, Ok]
        assert parse_bytewise(line) == parse(line)


def test_zero_length_erxudp_uses_the_dialect_default():
    line = f"ERXUDP {METER} {LOCAL} 0E1A 0E1A {LLA} 1 0000 \r\n".encode()
    assert parse(line, "bp35a1")[0].binary is True
    assert parse(line, "rl7023-ips")[0].binary is False
    assert parse(line)[0].data == b""


def test_tessera_never_reads_binary():
    events = parse(erxudp(FRAME, binary=True) + b"OK\r\n", "rl7023-ips")
    assert isinstance(events[0], Unknown) and "36 hex digits" in events[0].reason
    assert events[1:] == [Ok()]


def test_erxudp_missing_secured_is_unknown_not_a_wrong_rxudp():
    line = f"ERXUDP {METER} {LOCAL} 0E1A 0E1A {LLA} 0012 {FRAME.hex().upper()}\r\nOK\r\n".encode()
    events = parse(line)
    assert isinstance(events[0], Unknown) and events[0].reason.startswith("malformed ERXUDP")
    assert events[1:] == [Ok()]


@pytest.mark.parametrize(
    "line",
    [
        f"ERXUDP {METER} {LOCAL} 0E1A 0E1A {LLA} 1 0012 1081000102\r\n",  # hex data cut short
        f"ERXUDP {METER} {LOCAL} 0E1A 0E1A {LLA} 1 0012 1081000102880105FF017201E704000001F80000\r\n",  # too long
        f"ERXUDP {METER} {LOCAL} 0E1A 0E1A\r\n",  # header cut short
        f"ERXUDP {METER} {LOCAL} 0E1A 0E1A {LLA} 1 FFFF AB\r\n",  # absurd DATALEN
        f"ERXUDP {METER}  {LOCAL} 0E1A 0E1A {LLA} 1 0001 AB\r\n",  # two spaces
        f"ERXUDP {METER} {LOCAL} 0E1A 0E1A {LLA} 1 0000 AB\r\n",  # data with DATALEN 0
        "ERXUDP " + "F" * 80 + "\r\n",  # over-long token
    ],
)
def test_malformed_erxudp_is_one_unknown_and_parsing_resumes(line):
    data = line.encode() + b"OK\r\n"
    for d in (None, "bp35a1", "rl7023-ips"):
        events = parse(data, d)
        assert [type(e) for e in events] == [Unknown, Ok], (d, events)
        assert parse_bytewise(data, d) == events


def test_glued_replies():
    rx = erxudp(FRAME, side="0")
    events = parse(b"SKSENDTO" + rx + b"SKSENDTOEVENT 21 " + METER.encode() + b" 0 00\r\nOK\r\n")
    assert isinstance(events[0], Unknown) and events[0].line == "SKSENDTO"
    assert isinstance(events[1], RxUdp) and events[1].data == FRAME
    assert isinstance(events[2], Unknown) and events[2].line == "SKSENDTO"
    assert events[3:] == [Event(0x21, METER, 0, 0), Ok()]


def test_glued_binary_erxudp_after_stray_echo():
    data = b"SKSENDTO 1 " + METER.encode() + b" 0E1A 1 0 0012 " + erxudp(FRAME, side="0", binary=True)
    events = parse(data, "bp35c0")
    assert isinstance(events[0], Unknown) and isinstance(events[1], RxUdp) and events[1].data == FRAME


# ------------------------------------------------------------------ robustness


def test_garbage_and_non_ascii_lines_become_unknown_and_are_counted():
    p = SkParser()
    events = p.feed(b"\xff\xfe\x00junk\r\n\xe3\x81\x93\xe3\x82\x93\r\n   \r\nOK\r\n")
    assert [type(e) for e in events] == [Unknown, Unknown, Ok]
    assert all(e.reason for e in events[:2])
    assert p.dropped == 2


def test_very_long_lines_are_bounded():
    p = SkParser()
    events = p.feed(b"X" * (MAX_LINE * 3))
    assert [type(e) for e in events] == [Unknown] and "longer than" in events[0].reason
    assert len(p._buf) == 0  # nothing kept while discarding
    assert p.feed(b"Y" * 100 + b"\r\nOK\r\n") == [Ok()]
    long_line = b"Z" * (MAX_LINE + 1) + b"\r\nOK\r\n"
    assert parse(long_line) == parse_bytewise(long_line)
    assert [type(e) for e in parse(long_line)] == [Unknown, Ok]
    exact = b"OK " + b"1" * (MAX_LINE - 3) + b"\r\n"
    assert parse(exact) == [Ok("1" * (MAX_LINE - 3))]


def test_flush_reports_an_unterminated_line_and_open_blocks():
    p = SkParser()
    assert p.feed(b"EPORT\r\n3610\r\n") == []
    assert p.flush() == [EPort((3610,))]
    assert p.feed(b"OK") == []
    assert p.flush() == [Ok()]
    assert p.feed(f"ERXUDP {METER} {LOCAL} 0E1A".encode()) == []
    (e,) = p.flush()
    assert isinstance(e, Unknown) and "ended inside" in e.reason


def test_a_whole_session_bytewise_equals_bulk():
    data = b"".join(
        [
            b"SKVER\r\nEVER 1.5.2\r\nOK\r\nROPT\rOK 00\r",
            b"SKSCAN 2 FFFFFFFF 6 0\r\nOK\r\n",
            DS_BLOCK.encode(),
            b"  PairID:00177824\r\n",
            f"EVENT 22 {LOCAL} 0\r\n".encode(),
            b"SKLL64 38E08E00001C8257\r\nFE80:0000:0000:0000:3AE0:8E00:001C:8257\r\n",
            f"EVENT 25 {METER} 0\r\n".encode(),
            erxudp(NASTY, side="0", binary=True),
            erxudp(FRAME, side="0", lqi="80"),
            f"EVENT 21 {METER} 0 02\r\nEVENT 21 {METER} 0 00\r\nOK\r\n".encode(),
            b"\x00\xff junk\r\n",
        ]
    )
    bulk = parse(data, "bp35c0")
    assert parse_bytewise(data, "bp35c0") == bulk
    assert parse_bytewise(data) == parse(data)
    assert [type(e).__name__ for e in bulk] == [
        "Echo", "Ever", "Ok", "Echo", "Ok", "Echo", "Ok", "Event", "PanDesc", "Event", "Echo", "Ll64",
        "Event", "RxUdp", "RxUdp", "Event", "Event", "Ok", "Unknown",
    ]  # fmt: skip


def test_pandesc_accepts_a_non_hex_pair_id_and_keeps_it_out_of_reprs() -> None:
    from logger.skstack.events import PanDesc
    from logger.skstack.parser import SkParser

    lines = (
        b"EVENT 20 FE80:0000:0000:0000:021D:1290:0004:263D\r\n"
        b"EPANDESC\r\n  Channel:3B\r\n  Channel Page:09\r\n  Pan ID:8257\r\n"
        b"  Addr:001C640003DD8257\r\n  LQI:C4\r\n  PairID:abcXYZ12\r\n"
    )
    events = SkParser().feed(lines)
    desc = [e for e in events if isinstance(e, PanDesc)]
    assert len(desc) == 1 and desc[0].pair_id == "abcXYZ12" and desc[0].channel == 0x3B
    assert "abcXYZ12" not in repr(desc[0])
