"""J11 requests, result table and typed decoding (logger/j11/requests.py, codes.py, messages.py).

Request bytes are checked by hand and against broute-j11 0.1.0's own builders (a client written
against real hardware; installed for the tests only). Decoding is checked on frames built with
broute-j11's encoder and compared with what broute-j11's parsers make of the same frames.
"""

from __future__ import annotations

from ipaddress import IPv6Address

import pytest

# broute-j11 0.1.0 (a dev dependency, written against real hardware), for the cross-checks
from broute_j11 import codec as bjc
from broute_j11 import commands as bj
from hypothesis import given, settings
from hypothesis import strategies as st

from logger.j11 import codes, requests
from logger.j11.frame import RESPONSE_CODE, Frame, decode_frame, encode_frame
from logger.j11.messages import (
    BrouteStarted,
    ConnectionStatus,
    Malformed,
    Other,
    PanaResult,
    Received,
    ReceiveFailure,
    Rejected,
    Result,
    ScanResult,
    SendResult,
    Started,
    Version,
    decode,
)
from logger.j11.requests import CommandError

RBID = "00112233445566778899AABBCCDDEEFF"
PASSWORD = "ABCDEFGH1234"
METER_MAC = bytes.fromhex("C0F9450040123456")
METER_IP = IPv6Address("fe80::c2f9:4500:4012:3456")


def data_of(raw: bytes) -> bytes:
    frame = decode_frame(raw)
    assert frame.is_request
    return frame.data


def theirs(command: int, data: bytes = b"") -> Frame:
    """A response/notification as broute-j11's encoder produces it (ours without it), parsed back by ours."""
    if bjc is None:  # pragma: no cover
        return decode_frame(encode_frame(command, data, RESPONSE_CODE))
    return decode_frame(bjc.Frame(command_code=command, data=data, unique_code=bjc.RESPONSE_UNIQUE_CODE).encode())


# ---------------------------------------------------------------- requests: known bytes

def test_requests_without_data_by_hand():
    assert requests.version().hex().upper() == "D0EA83FC006B000403A80000"
    assert requests.start_broute().hex().upper() == "D0EA83FC0053000403900000"
    assert requests.start_pana().hex().upper() == "D0EA83FC0056000403930000"
    assert requests.end_pana().hex().upper() == "D0EA83FC0057000403940000"
    assert requests.reset().hex().upper() == "D0EA83FC00D9000404160000"  # 0x339 + 0xD9 + 4 = 0x416


def test_open_udp_port_by_hand():
    assert requests.open_udp_port() == bytes.fromhex("D0EA83FC 0005 0006 0344 0028 0E1A")


def test_initial_settings_layout():
    assert data_of(requests.initial_settings(0x0E)) == bytes([0x05, 0x00, 0x0E, 0x00])
    assert data_of(requests.initial_settings(4, tx_power=0x02, sleep=True)) == bytes([0x05, 0x01, 0x04, 0x02])


def test_active_scan_layout():
    raw = requests.active_scan(6, pairing="CCDDEEFF")
    assert raw[6:8] == b"\x00\x12"  # 14 data bytes, as the hardware clients' constant frame
    assert data_of(raw) == bytes([6]) + bytes.fromhex("0003FFF0") + b"\x01" + b"CCDDEEFF"
    assert data_of(requests.active_scan(14, requests.channel_mask(4, 17))) == \
        bytes([14]) + bytes.fromhex("00020010") + b"\x00" + bytes(8)
    assert requests.pairing_id(RBID) == "CCDDEEFF"


def test_send_data_layout():
    raw = requests.send_data(METER_IP, b"\x10\x81\x00\x01")
    assert data_of(raw) == METER_IP.packed + bytes.fromhex("0E1A 0E1A 0004") + b"\x10\x81\x00\x01"
    assert requests.send_data(str(METER_IP), b"x") == requests.send_data(METER_IP.packed, b"x")


def test_link_local_flips_the_universal_local_bit():
    assert requests.link_local(METER_MAC) == METER_IP


# ---------------------------------------------------------------- requests: same bytes as broute-j11

def test_requests_match_broute_j11():
    assert requests.version() == bj.version_request()
    assert requests.reset() == bj.reset_request()
    assert requests.start_broute() == bj.start_route_b_request()
    assert requests.start_pana() == bj.start_pana_request()
    assert requests.end_pana() == bj.terminate_pana_request()
    assert requests.open_udp_port() == bj.open_udp_port_request()
    for ch in range(4, 18):
        assert requests.initial_settings(ch) == bj.initial_settings_request(ch)
    assert requests.set_broute_auth(RBID, PASSWORD) == bj.set_credentials_request(RBID, PASSWORD)
    assert requests.active_scan(8, pairing=requests.pairing_id(RBID)) == \
        bj.active_scan_request(duration=8, auth_id=RBID)
    assert requests.active_scan(3, 0x00000070) == bj.active_scan_request(duration=3, channel_mask=0x70)
    payload = bytes(range(100))
    assert requests.send_data(METER_IP, payload) == bj.transmit_data_request(METER_IP, payload)


@settings(max_examples=100, deadline=None)
@given(duration=st.integers(1, 14), mask=st.integers(1, 0x3FFF).map(lambda m: m << 4),
       pid=st.text("0123456789ABCDEF", min_size=8, max_size=8) | st.none())
def test_active_scan_matches_broute_j11(duration, mask, pid):
    expected = bj.active_scan_request(duration=duration, channel_mask=mask,
                                      pairing_id=None if pid is None else pid.encode())
    assert requests.active_scan(duration, mask, pid) == expected


# ---------------------------------------------------------------- requests: validation, secrets

@pytest.mark.parametrize(("build", "words"), [
    (lambda: requests.initial_settings(3), "channel"),
    (lambda: requests.initial_settings(18), "channel"),
    (lambda: requests.initial_settings(4, mode=0x04), "operating mode"),
    (lambda: requests.initial_settings(4, tx_power=3), "transmit power"),
    (lambda: requests.active_scan(0), "scan duration"),
    (lambda: requests.active_scan(15), "scan duration"),
    (lambda: requests.active_scan(6, 0), "channel mask"),
    (lambda: requests.active_scan(6, 0x0004_0000), "channel mask"),
    (lambda: requests.active_scan(6, pairing="ABC"), "Pairing ID"),
    (lambda: requests.open_udp_port(0), "UDP port"),
    (lambda: requests.send_data("not-an-address", b"x"), "IPv6"),
    (lambda: requests.send_data(METER_IP, b""), "UDP data"),
    (lambda: requests.send_data(METER_IP, bytes(1233)), "UDP data"),
    (lambda: requests.send_data(METER_IP, b"x", dst_port=70000), "destination port"),
    (lambda: requests.link_local(b"\x00" * 6), "MAC"),
])
def test_bad_arguments_raise_a_command_error_naming_the_problem(build, words):
    with pytest.raises(CommandError, match=words):
        build()


@pytest.mark.parametrize(("rbid", "password"), [
    (RBID[:-1], PASSWORD), (RBID, PASSWORD + "X"), (RBID[:-1] + " ", PASSWORD), (RBID, "ABCDEFGH12-4"),
])
def test_credential_errors_never_show_the_credentials(rbid, password):
    with pytest.raises(CommandError) as err:
        requests.set_broute_auth(rbid, password)
    message = str(err.value)
    assert "B-route" in message
    for secret in (rbid, password, rbid[-8:], password[:6], rbid[:8]):
        assert secret not in message and secret not in repr(err.value)


def test_pairing_id_errors_never_show_it():
    with pytest.raises(CommandError) as err:
        requests.active_scan(6, pairing="CCDDEE-F")
    assert "CCDDEE" not in str(err.value) and "position 7" in str(err.value)


# ---------------------------------------------------------------- result table

def test_every_failure_result_has_one_clear_line():
    for code, line in codes.RESULTS.items():
        assert code != codes.SUCCESS
        assert line and "\n" not in line and line == codes.describe_result(code)
    assert codes.describe_result(0x01) == "success"
    assert "0x77" in codes.describe_result(0x77) and "unknown" in codes.describe_result(0x77)
    assert "MAC connection failed" in str(decode(theirs(0x2053, b"\x0e")))


def test_failed_responses_decode_to_a_result_naming_the_cause():
    for response in (0x2053, 0x206B, 0x2008, 0x2054, 0x2056):
        result = decode(theirs(response, b"\x58"))
        assert result == Result(response, 0x58) and not result.ok
        assert str(result).endswith(codes.RESULTS[0x58])


def test_describe_command():
    assert codes.describe_command(0x0053) == "0x0053 start B-route"
    assert codes.describe_command(0x2053) == "0x2053 start B-route (response)"
    assert codes.describe_command(0x6028) == "0x6028 PANA result"
    assert codes.describe_command(0x1234) == "0x1234"


# ---------------------------------------------------------------- decoding, checked against broute-j11

def test_version():
    frame = theirs(0x206B, bytes.fromhex("01 0400 01 02 00000A0B"))
    ours, ref = decode(frame), bj.parse_version_response(bjc.decode_frame(frame.encode()))
    assert isinstance(ours, Version) and ours.ok
    assert (ours.firmware_id, ours.major, ours.minor, ours.revision) == \
        (ref.firmware_id, ref.major, ref.minor, ref.revision)
    assert ours.text == str(ref) == "1.2.2571"


def test_start_broute():
    frame = theirs(0x2053, b"\x01\x0e\x12\x34" + METER_MAC + b"\xc4")
    ours, ref = decode(frame), bj.parse_route_b_start_response(bjc.decode_frame(frame.encode()))
    assert ours == BrouteStarted(channel=0x0E, pan_id=0x1234, mac=METER_MAC.hex().upper(), rssi=-60)
    assert (ref.channel, ref.pan_id, ref.mac_address, ref.rssi) == (0x0E, 0x1234, METER_MAC, -60)


@pytest.mark.parametrize(("byte", "queued", "tx", "ok"), [(0x00, False, 0, True), (0x05, False, 5, False),
                                                          (0x10, True, 0, True)])
def test_send_result(byte, queued, tx, ok):
    frame = theirs(0x2008, bytes([0x01, byte]))
    ours, ref = decode(frame), bj.parse_transmit_data_response(bjc.decode_frame(frame.encode()))
    assert ours == SendResult(queued, tx) and ours.ok is ok
    assert (ref.queued, ref.transmission_result) == (queued, tx)
    assert "no ACK" in str(decode(theirs(0x2008, b"\x01\x05")))


def test_scan_result_heard_and_quiet():
    entries = METER_MAC + b"\x12\x34\xb0" + bytes.fromhex("0011223344556677") + b"\xab\xcd\xa0"
    frame = theirs(0x4051, b"\x00\x21\x02" + entries)
    ours, ref = decode(frame), bj.parse_active_scan_notification(bjc.decode_frame(frame.encode()))
    assert isinstance(ours, ScanResult) and ours.channel == 0x21 and len(ours.pans) == 2
    for pan, beacon in zip(ours.pans, ref.beacons, strict=True):
        assert (pan.mac, pan.pan_id, pan.rssi) == (beacon.mac_address.hex().upper(), beacon.pan_id, beacon.rssi)
        assert pan.pairing_id is None and pan.channel == 0x21
    quiet = decode(theirs(0x4051, b"\x01\x05"))
    assert quiet == ScanResult(5) and "no beacon" in str(quiet)


def test_scan_result_with_pairing_ids_keeps_them_out_of_the_repr():
    frame = theirs(0x4051, b"\x00\x07\x01" + METER_MAC + b"\x12\x34\xb0" + b"CCDDEEFF")
    pan = decode(frame).pans[0]
    assert pan.pairing_id == "CCDDEEFF" and "CCDDEEFF" not in repr(pan)


def test_received_udp():
    payload = bytes.fromhex("1081000102880105FF017201E704000001F4")
    data = (METER_IP.packed + b"\x0e\x1a\x0e\x1a\x12\x34\x00\x02\xc8" + len(payload).to_bytes(2, "big") + payload)
    frame = theirs(0x6018, data)
    ours, ref = decode(frame), bj.parse_data_reception_notification(bjc.decode_frame(frame.encode()))
    assert ours == Received(METER_IP, 3610, 3610, 0x1234, False, True, -56, payload)
    assert (ref.source, ref.source_port, ref.destination_port, ref.source_pan_id, ref.multicast, ref.encrypted,
            ref.rssi, ref.payload) == (METER_IP, 3610, 3610, 0x1234, False, True, -56, payload)


def test_pana_results():
    outcomes = {0x01: ("success", True), 0x02: ("rejected", False), 0x03: ("no answer", False)}
    for code, (outcome, ok) in outcomes.items():
        frame = theirs(0x6028, bytes([code]) + METER_MAC)
        ours, ref = decode(frame), bj.parse_pana_result_notification(bjc.decode_frame(frame.encode()))
        assert isinstance(ours, PanaResult) and ours.outcome == outcome and ours.ok is ok
        assert int(ref.result) == code and ref.mac_address.hex().upper() == ours.mac
    assert "refused the B-route ID or password" in str(decode(theirs(0x6028, b"\x02" + METER_MAC)))
    assert "did not reply" in str(decode(theirs(0x6028, b"\x03" + METER_MAC)))


def test_connection_status_receive_failure_and_start_up():
    frame = theirs(0x601A, b"\x04" + METER_MAC + b"\xb5")
    ours, ref = decode(frame), bj.parse_connection_status_notification(bjc.decode_frame(frame.encode()))
    assert ours == ConnectionStatus(0x04, METER_MAC.hex().upper(), -75) and not ours.connected
    assert int(ref.status) == 4 and ref.rssi == -75
    frame = theirs(0x6038, b"\x30" + METER_IP.packed + b"\x07\x00\x01\x02")
    ours, ref = decode(frame), bj.parse_reception_failure_notification(bjc.decode_frame(frame.encode()))
    assert ours == ReceiveFailure(0x30, METER_IP, 7, True, 0x0102) and "IP layer" in str(ours)
    assert (ref.source, ref.sequence_number, ref.fragmented, ref.fragment_tag) == (METER_IP, 7, True, 0x0102)
    assert decode(theirs(0x6019)) == Started() and decode(theirs(0x6019, b"\x01")) == Started(b"\x01")


def test_malformed_rejected_and_unknown_frames():
    assert isinstance(decode(theirs(0x6028, b"\x01")), Malformed)
    assert isinstance(decode(theirs(0x2053, b"")), Malformed)
    assert isinstance(decode(theirs(0x206B, b"\x01\x00")), Malformed)
    assert isinstance(decode(theirs(0x4051, b"\x00\x05\x02" + bytes(11))), Malformed)  # claims 2 PANs, holds 1
    short_udp = METER_IP.packed + bytes(9) + b"\x00\x05" + b"abc"
    assert "UDP length" in str(decode(theirs(0x6018, short_udp)))
    assert isinstance(decode(theirs(0x2FFF)), Rejected) and isinstance(decode(theirs(0xFFFF)), Rejected)
    assert isinstance(decode(theirs(0x6999, b"\x00")), Other)
    assert decode(theirs(0x2005, b"\x01")) == Result(0x2005, 0x01)


@settings(max_examples=500, deadline=None)
@given(command=st.sampled_from([0x2005, 0x2008, 0x2053, 0x206B, 0x4051, 0x6018, 0x6019, 0x601A, 0x6028, 0x6038,
                                0x2FFF, 0xFFFF, 0x1234]) | st.integers(0, 0xFFFF),
       data=st.binary(max_size=120))
def test_decode_never_raises(command, data):
    message = decode(Frame(command, data))
    assert str(message)
    assert decode_frame(encode_frame(command, data, RESPONSE_CODE)) == Frame(command, data)
