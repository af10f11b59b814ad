"""J11 frame codec and parser (logger/j11/frame.py): known bytes, splits, resync, rejection, a property.

Known byte strings come from hand computation and from the constant frames of two hardware
clients (ak1211/smartmeter-route-b-app); broute-j11 0.1.0's own encoder is run here (test only)
to check that both sides agree on every frame.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from broute_j11 import (
    codec as bj11_codec,  # broute-j11 0.1.0 (dev dependency), for the cross-check
)
from hypothesis import given, settings
from hypothesis import strategies as st

from logger.j11.frame import (
    MAX_DATA,
    MAX_FRAME,
    REQUEST_CODE,
    RESPONSE_CODE,
    Frame,
    FrameError,
    Garbage,
    J11Parser,
    checksum,
    decode_frame,
    encode_frame,
    encode_request,
)


def resp(command: int, data: bytes = b"") -> bytes:
    return encode_frame(command, data, RESPONSE_CODE)


def frames_of(events):
    return [e for e in events if isinstance(e, Frame)]


def garbage_of(events):
    return [e for e in events if isinstance(e, Garbage)]


# ---------------------------------------------------------------- known bytes

def test_version_request_by_hand():
    # D0+EA+83+FC = 0x0339; + 00+6B + 00+04 = 0x03A8; no data → data checksum 0.
    assert encode_request(0x006B) == bytes.fromhex("D0EA83FC 006B 0004 03A8 0000")


def test_open_udp_port_by_hand():
    # header 0x0339 + 0x05 + 0x06 = 0x0344; data 0x0E + 0x1A = 0x0028.
    assert encode_request(0x0005, b"\x0e\x1a") == bytes.fromhex("D0EA83FC 0005 0006 0344 0028 0E1A")


@pytest.mark.parametrize(("command", "length", "header_sum"), [
    (0x006B, 0x0004, 0x03A8),  # get version
    (0x0053, 0x0004, 0x0390),  # start B-route
    (0x0056, 0x0004, 0x0393),  # start PANA
    (0x0057, 0x0004, 0x0394),  # end PANA
    (0x0005, 0x0006, 0x0344),  # open UDP port
    (0x0051, 0x0012, 0x039C),  # active scan (14 data bytes)
    (0x0054, 0x0030, 0x03BD),  # set B-route ID + password (44 data bytes)
])
def test_header_checksums_match_a_hardware_clients_constants(command, length, header_sum):
    raw = encode_request(command, bytes(length - 4))
    assert int.from_bytes(raw[6:8], "big") == length
    assert int.from_bytes(raw[8:10], "big") == header_sum


def test_checksums_cover_exactly_bytes_0_to_7_and_the_data():
    data = bytes(range(200, 256)) * 20  # sum wraps past 0xFFFF
    raw = resp(0x6018, data)
    assert int.from_bytes(raw[8:10], "big") == sum(raw[:8]) % 0x10000
    assert int.from_bytes(raw[10:12], "big") == sum(data) % 0x10000 == checksum(data)
    assert sum(data) > 0xFFFF


def test_response_unique_code_and_layout():
    raw = resp(0x2053, b"\x01")
    assert raw[:4] == bytes.fromhex("D0F9EE5D") and raw[4:6] == b"\x20\x53" and raw[6:8] == b"\x00\x05"
    assert raw[12:] == b"\x01" and len(raw) == 13


@settings(max_examples=200, deadline=None)
@given(command=st.integers(0, 0xFFFF), data=st.binary(max_size=300), request=st.booleans())
def test_encoder_agrees_with_broute_j11(command, data, request):
    unique = REQUEST_CODE if request else RESPONSE_CODE
    theirs = bj11_codec.Frame(command_code=command, data=data, unique_code=unique).encode()
    assert encode_frame(command, data, unique) == theirs
    parsed = decode_frame(theirs)
    assert (parsed.command, parsed.data, parsed.unique) == (command, data, unique)


def test_encoder_limits():
    assert len(encode_request(0x0008, bytes(MAX_DATA))) == MAX_FRAME
    with pytest.raises(FrameError):
        encode_request(0x0008, bytes(MAX_DATA + 1))
    with pytest.raises(FrameError):
        encode_request(0x10000)
    with pytest.raises(FrameError):
        encode_frame(0x0001, b"", 0x12345678)


def test_decode_frame_refuses_anything_but_one_whole_frame():
    raw = resp(0x2005, b"\x01")
    assert decode_frame(raw) == Frame(0x2005, b"\x01")
    for bad in (raw[:-1], raw + b"\x00", b"\x00" + raw, raw[:11], b""):
        with pytest.raises(FrameError):
            decode_frame(bad)


def test_repr_masks_credentials_and_pairing_id():
    secret = b"0123456789ABCDEF0123456789ABCDEF" + b"PASSWORD1234"
    shown = repr(decode_frame(encode_request(0x0054, secret)))
    assert "masked" in shown and "50 41 53 53" not in shown
    assert "masked" in repr(decode_frame(encode_request(0x0051, b"\x06\x00\x03\xff\xf0\x01" + b"89ABCDEF")))
    assert repr(Frame(0x2005, b"\x01")) == "J11 2005 01"


# ---------------------------------------------------------------- parser

def test_every_split_point_gives_the_same_frames():
    stream = resp(0x6019) + resp(0x206B, bytes.fromhex("01 0400 01 02 00000003")) + resp(0x6028, b"\x01" + bytes(8))
    expected = frames_of(J11Parser().feed(stream))
    assert len(expected) == 3
    for cut in range(len(stream) + 1):
        p = J11Parser()
        got = p.feed(stream[:cut]) + p.feed(stream[cut:])
        assert got == expected, cut
    p = J11Parser()
    assert [e for b in stream for e in p.feed(bytes([b]))] == expected  # byte by byte


def test_noise_before_between_and_after_frames():
    a, b = resp(0x2005, b"\x01"), resp(0x2056, b"\x01")
    p = J11Parser()
    events = p.feed(b"\x00\xffOK\r\n" + a + b"\xd0\xf9junk" + b + b"tail")
    assert frames_of(events) == [Frame(0x2005, b"\x01"), Frame(0x2056, b"\x01")]
    assert [g.reason for g in garbage_of(events)] == ["noise", "noise", "noise"]
    assert [g.size for g in garbage_of(events)] == [6, 6, 4]
    assert p.frames == 2 and p.dropped == 3 and p.dropped_bytes["noise"] == 16


def test_a_partial_unique_code_at_the_end_is_kept():
    raw = resp(0x6019)
    p = J11Parser()
    assert [(g.reason, g.size, g.sample) for g in garbage_of(p.feed(b"zz" + raw[:3]))] == [("noise", 2, b"zz")]
    assert p.buffered == 3
    assert p.feed(raw[3:]) == [Frame(0x6019)]


def test_bad_header_checksum_is_rejected_and_parsing_resumes():
    bad = bytearray(resp(0x2005, b"\x01"))
    bad[9] ^= 0x01
    good = resp(0x2054, b"\x01")
    p = J11Parser()
    events = p.feed(bytes(bad) + good)
    assert frames_of(events) == [Frame(0x2054, b"\x01")]
    assert garbage_of(events)[0].reason == "bad header checksum"
    assert p.dropped_bytes["bad header checksum"] == 12


def test_bad_data_checksum_is_rejected():
    bad = bytearray(resp(0x6018, bytes(40)))
    bad[30] = 0x55
    p = J11Parser()
    events = p.feed(bytes(bad) + resp(0x6019))
    assert frames_of(events) == [Frame(0x6019)]
    assert [g.reason for g in garbage_of(events)] == ["bad data checksum"]
    assert garbage_of(events)[0].size == len(bad)


@pytest.mark.parametrize("length", [0, 3, MAX_DATA + 5, 0xFFFF])
def test_bad_length_with_a_valid_header_checksum_is_rejected(length):
    head = RESPONSE_CODE.to_bytes(4, "big") + b"\x60\x18" + length.to_bytes(2, "big")
    forged = head + checksum(head).to_bytes(2, "big") + b"\x00\x00"
    p = J11Parser()
    events = p.feed(forged + resp(0x6019))
    assert frames_of(events) == [Frame(0x6019)]
    assert garbage_of(events)[0].reason == "bad length"


def test_a_frame_hidden_in_a_truncated_frames_body_is_found():
    """A frame cut short (adapter reset mid-frame) claims a body that swallows the next frame."""
    cut = resp(0x6018, bytes(range(60)))[:20]
    real = resp(0x6028, b"\x02" + bytes(8))
    p = J11Parser()
    events = p.feed(cut + real + bytes(60))  # the body completes only with later bytes
    assert Frame(0x6028, b"\x02" + bytes(8)) in events
    assert garbage_of(events)[0].reason == "bad data checksum"


def test_several_frames_in_one_read_and_request_direction():
    reqs = encode_request(0x006B) + encode_request(0x0005, b"\x0e\x1a")
    host = J11Parser(REQUEST_CODE)
    assert [f.command for f in frames_of(host.feed(reqs))] == [0x006B, 0x0005]
    adapter = J11Parser()  # the other direction's frames are only noise to it
    assert frames_of(adapter.feed(reqs)) == []


def test_buffer_stays_bounded_on_endless_noise_and_huge_reads():
    p = J11Parser()
    p.feed(b"\xaa" * 1_000_000)
    assert p.buffered <= 3
    p.feed(resp(0x6018, bytes(MAX_DATA))[:-1])
    assert p.buffered == MAX_FRAME - 1
    assert len(frames_of(p.feed(b"\x00"))) == 1 and p.buffered == 0


def test_a_frame_of_the_maximum_size_passes():
    raw = resp(0x6018, bytes([0xFF]) * MAX_DATA)
    assert len(raw) == MAX_FRAME
    assert frames_of(J11Parser().feed(raw))[0].data == bytes([0xFF]) * MAX_DATA


# ---------------------------------------------------------------- property

_noise = st.binary(max_size=40).map(lambda b: b.replace(b"\xd0", b""))
_prefix = st.sampled_from([b"\xd0", b"\xd0\xf9", b"\xd0\xf9\xee"])
_frame = st.builds(lambda c, d: (c, d), st.integers(0, 0xFFFF), st.binary(max_size=80))


@st.composite
def _stream(draw):
    """Items: ('frame', (cmd, data)), ('noise', bytes), ('corrupt', raw), and a list of cut points."""
    items = draw(st.lists(st.one_of(
        _frame.map(lambda f: ("frame", f)),
        _noise.map(lambda b: ("noise", b)),
        st.tuples(_prefix, _frame).map(lambda t: ("prefixed", t)),
        st.tuples(_frame, st.integers(4, 10_000), st.integers(1, 255)).map(lambda t: ("corrupt", t)),
    ), max_size=25))
    return items


@settings(max_examples=300, deadline=None)
@given(items=_stream(), cuts=st.lists(st.integers(0, 5000), max_size=30))
def test_property_valid_frames_come_out_once_in_order(items, cuts):
    stream, expected, corrupted = bytearray(), [], 0
    for kind, value in items:
        if kind == "frame":
            stream += resp(*value)
            expected.append(Frame(*value))
        elif kind == "noise":
            stream += value
        elif kind == "prefixed":
            prefix, f = value
            stream += prefix + resp(*f)
            expected.append(Frame(*f))
        else:
            (cmd, data), where, flip = value
            raw = bytearray(resp(cmd, data))
            raw[4 + where % (len(raw) - 4)] ^= flip  # any byte after the unique code
            stream += raw
            corrupted += 1
    p = J11Parser()
    events, last = [], 0
    for cut in sorted({c % (len(stream) + 1) for c in cuts}) + [len(stream)]:
        events += p.feed(bytes(stream[last:cut]))
        last = cut
    assert frames_of(events) == expected
    rejected = [g for g in garbage_of(events) if g.reason != "noise"]
    assert len(rejected) >= corrupted  # a one-byte change after the unique code is always caught
    assert p.frames == len(expected)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=20))
def test_property_random_input_never_raises(chunks):
    p = J11Parser()
    for chunk in chunks:
        for event in p.feed(chunk):
            assert isinstance(event, (Frame, Garbage))
    assert p.buffered <= MAX_FRAME + 4096


# ---------------------------------------------------------------- layering

def test_the_j11_package_is_sans_io_and_independent_of_the_simulator():
    """Until logger.j11 joins BELOW_RUNNER in test_layering.py: no I/O module, no clock, no simulator."""
    banned = ("time", "serial", "socket", "select", "threading", "asyncio", "logger.transport", "logger.clock",
              "logger.simulate", "logger.link", "logger.session")
    for path in (Path(__file__).resolve().parents[1] / "logger" / "j11").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert not any(name == b or name.startswith(b + ".") for b in banned), f"{path.name} imports {name}"
