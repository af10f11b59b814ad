"""ECHONET Lite frame codec: every ESV, two-list frames, INFC_Res, malformed input, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logger.echonet.frame import (
    CONTROLLER,
    ESV,
    METER,
    NODE_PROFILE,
    TWO_LIST_ESVS,
    Frame,
    FrameError,
    Property,
    decode_frame,
    decode_hex,
    esv_name,
    get_request,
    infc_response,
)
from logger.echonet.meter import PropertyError, decode, decode_node_profile

H = bytes.fromhex


def test_get_request_matches_the_fact_sheet():
    frame = get_request(1, [0xE7])
    assert frame.encode() == H("1081000105FF010288016201E700")
    assert decode_frame(frame.encode()) == frame


@pytest.mark.parametrize("esv", sorted(set(ESV) - TWO_LIST_ESVS))
def test_every_single_list_esv_round_trips(esv):
    props = (Property(0xE7, H("0000055E")), Property(0xE1))
    frame = Frame(0x1234, METER, CONTROLLER, esv, props)
    raw = frame.encode()
    assert raw[10] == esv and raw[11] == 2
    assert raw[:2] == H("1081") and raw[2:4] == H("1234")
    assert raw[4:7] == H("028801") and raw[7:10] == H("05FF01")
    assert decode_frame(raw) == frame
    assert decode_frame(raw).esv_name == esv_name(esv) != f"ESV_{esv:02X}"


@pytest.mark.parametrize("esv", sorted(TWO_LIST_ESVS))
def test_setget_family_carries_two_lists(esv):
    frame = Frame(7, CONTROLLER, METER, esv, (Property(0xE5, H("01")),), (Property(0xE2), Property(0xE1)))
    raw = frame.encode()
    # ... ESV OPCSet EPC PDC EDT OPCGet EPC PDC EPC PDC
    assert raw[10:] == bytes((esv,)) + H("01E50101") + H("02E200E100")
    back = decode_frame(raw)
    assert back == frame
    assert [p.epc for p in back.props_get] == [0xE2, 0xE1]


def test_esv_codes_and_names():
    assert (ESV.INF, ESV.INFC, ESV.INFC_RES) == (0x73, 0x74, 0x7A)
    assert esv_name(0x52) == "Get_SNA" and esv_name(0x7E) == "SetGet_Res"
    assert esv_name(0x99) == "ESV_99"


def test_infc_response_acknowledges_with_empty_pdcs():
    infc = decode_hex("1081000202880105FF017402EA0B07EA0B160A00000000976CEB0B07EA0B160A00000000001E")
    assert infc.esv == ESV.INFC
    ack = infc_response(infc)
    assert (ack.tid, ack.seoj, ack.deoj, ack.esv) == (2, CONTROLLER, METER, ESV.INFC_RES)
    assert [(p.epc, p.pdc) for p in ack.props] == [(0xEA, 0), (0xEB, 0)]
    assert ack.encode() == H("1081000205FF010288017A02EA00EB00")
    assert infc_response(infc, tid=9).tid == 9


def test_sna_response_has_empty_edt_and_decode_refuses_it():
    frame = decode_hex("1081000302880105FF015201D300")
    assert frame.esv_name == "Get_SNA" and frame.prop(0xD3) == Property(0xD3)
    with pytest.raises(PropertyError, match="EPC D3"):
        decode(0xD3, frame.prop(0xD3).edt)


def test_instance_list_notification():
    frame = decode_hex("1081006B0EF0010EF0017301D50401028801")
    assert (frame.seoj, frame.deoj, frame.esv) == (NODE_PROFILE, NODE_PROFILE, ESV.INF)
    assert decode_node_profile(0xD5, frame.props[0].edt).eojs == (METER,)
    assert frame.prop(0xE7) is None


@pytest.mark.parametrize(
    "raw, why",
    [
        ("", "too short"),
        ("1081000102880105FF0172", "too short"),
        ("1082000102880105FF017201E70400000001", "bad header"),
        ("1181000102880105FF017201E70400000001", "bad header"),
        ("1081000102880105FF017201E704000000", "PDC overrun"),
        ("1081000102880105FF017201E7040000000100", "trailing"),
        ("1081000102880105FF017202E70400000001", "ends inside property 2"),
        ("1081000102880105FF017201E7", "ends inside property 1"),
        ("1081000105FF010288016E01E50101", "before OPC"),
        ("1081000105FF010288016E01E5010102E200", "ends inside property 2 of 2"),
    ],
)
def test_malformed_frames_raise_frame_error(raw, why):
    with pytest.raises(FrameError, match=why):
        decode_frame(H(raw))


def test_decode_frame_rejects_non_bytes_and_decode_hex_rejects_non_hex():
    with pytest.raises(FrameError, match="expected bytes"):
        decode_frame("1081")  # type: ignore[arg-type]
    with pytest.raises(FrameError, match="not hex"):
        decode_hex("10 81 zz")
    assert decode_hex(" 1081000102880105ff017201e704000004a5\r\n").prop(0xE7).edt == H("000004A5")


def test_frame_and_property_validate_fields():
    with pytest.raises(FrameError):
        Property(0x100)
    with pytest.raises(FrameError, match="PDC"):
        Property(0xE7, bytes(256))
    with pytest.raises(FrameError, match="TID"):
        Frame(0x10000, METER, CONTROLLER, ESV.GET)
    with pytest.raises(FrameError, match="SEOJ"):
        Frame(0, 0x1000000, CONTROLLER, ESV.GET)
    with pytest.raises(FrameError, match="get list"):
        Frame(0, METER, CONTROLLER, ESV.GET_RES, (Property(0xE7, bytes(4)),), (Property(0xE1),))


def test_repr_is_readable():
    frame = get_request(0x2A, [0xE7, 0xE8])
    assert (
        repr(frame)
        == "Frame(tid=0x002A, seoj=05FF01, deoj=028801, esv=Get, props=[Property(epc=0xE7, edt=-), Property(epc=0xE8, edt=-)])"
    )


# ------------------------------------------------------------------------------------------ fuzz

props = st.lists(st.builds(Property, st.integers(0, 0xFF), st.binary(max_size=20)), max_size=5).map(tuple)


@st.composite
def frames(draw):
    esv = draw(st.integers(0, 0xFF))
    get_list = draw(props) if esv in TWO_LIST_ESVS else ()
    return Frame(
        draw(st.integers(0, 0xFFFF)),
        draw(st.integers(0, 0xFFFFFF)),
        draw(st.integers(0, 0xFFFFFF)),
        esv,
        draw(props),
        get_list,
    )


@settings(max_examples=300, deadline=None)
@given(frames())
def test_encode_decode_round_trip(frame):
    assert decode_frame(frame.encode()) == frame


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=80))
def test_random_bytes_raise_only_frame_error(data):
    try:
        decode_frame(data)
    except FrameError:
        pass


@settings(max_examples=500, deadline=None)
@given(frames(), st.data())
def test_mutated_frames_raise_only_frame_or_property_errors(frame, data):
    raw = bytearray(frame.encode())
    op = data.draw(st.sampled_from(["flip", "cut", "append"]))
    if op == "flip":
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 0xFF))
    elif op == "cut":
        del raw[data.draw(st.integers(0, len(raw) - 1)) :]
    else:
        raw += data.draw(st.binary(min_size=1, max_size=4))
    try:
        decoded = decode_frame(bytes(raw))
    except FrameError:
        return
    for prop in decoded.props + decoded.props_get:
        try:
            decode(prop.epc, prop.edt)
        except PropertyError:
            pass
