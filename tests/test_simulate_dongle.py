"""DongleSim: exact output per command and dialect, timing arithmetic, sessions, duty budget, faults."""

from __future__ import annotations

import random

import pytest

from logger.echonet.frame import ESV, decode_frame, get_request, infc_response
from logger.simulate.dongle import (
    DEMO_PASSWORD,
    DEMO_RBID,
    DongleConfig,
    DongleSim,
    airtime_s,
    scan_dwell_s,
)
from logger.simulate.faults import Fault, FaultError, FaultPlan, parse_fault
from logger.simulate.meter import MeterConfig, MeterSim
from logger.simulate.profiles import get_profile, ll64

T0 = 1_780_000_000.0  # 2026-05-28 ~05:26 JST, not on a half-hour boundary
METER_MAC = "001C640003DD8257"
METER_IP = "FE80:0000:0000:0000:021C:6400:03DD:8257"
DS = {"rl7023-dss", "bp35c0"}
ALL = ["bp35a1", "rl7023-ips", "rl7023-dss", "bp35c0"]


class Host:
    """Drives a DongleSim on a virtual time line."""

    def __init__(self, dialect: str, **config) -> None:
        meter_config = config.pop("meter", MeterConfig(notify="none"))
        self.meter = MeterSim(meter_config, T0)
        self.dongle = DongleSim(dialect, self.meter, DongleConfig(**config), random.Random(7))
        self.dialect = dialect
        self.t = T0

    @property
    def ds(self) -> bool:
        return self.dialect in DS

    def send(self, data: bytes, wait: float = 0.0) -> bytes:
        self.dongle.receive(data, self.t)
        return self.wait(wait)

    def wait(self, seconds: float) -> bytes:
        self.t += seconds
        return self.dongle.output(self.t)

    def until_idle(self, limit: float = 120.0) -> bytes:
        out = bytearray()
        end = self.t + limit
        while (deadline := self.dongle.next_deadline()) is not None and deadline <= end:
            self.t = max(self.t, deadline)
            out += self.dongle.output(self.t)
        return bytes(out)

    def side(self) -> bytes:
        return b" 0" if self.ds else b""

    def join(self) -> bytes:
        self.send(b"SKSREG SFE 0\r\n")
        self.send(f"SKSETRBID {DEMO_RBID}\r\n".encode())
        self.send(f"SKSETPWD C {DEMO_PASSWORD}\r\n".encode())
        self.send(b"SKSREG S2 3B\r\nSKSREG S3 8257\r\n")
        return self.send(f"SKJOIN {METER_IP}\r\n".encode(), 3.5)

    def sendto(self, payload: bytes, sec: int = 1) -> bytes:
        head = f"SKSENDTO 1 {METER_IP} 0E1A {sec}".encode() + self.side() + f" {len(payload):04X} ".encode()
        return self.send(head + payload, 1.0)


def lines(data: bytes) -> list[str]:
    return data.decode("latin-1").split("\r\n")


# -- simple commands -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "dialect, ever",
    [
        ("bp35a1", "1.2.10"),
        ("rl7023-ips", "1.2.8"),
        ("rl7023-dss", "1.3.2"),
        ("bp35c0", "1.5.2"),
        ("bp35c2", "1.5.2"),
    ],
)
def test_skver_echo_then_ever_then_ok(dialect: str, ever: str) -> None:
    h = Host(dialect)
    assert h.send(b"SKVER\r\n") == f"SKVER\r\nEVER {ever}\r\nOK\r\n".encode()


def test_echo_off_with_sfe_0() -> None:
    h = Host("bp35a1")
    assert h.send(b"SKSREG SFE 0\r\n") == b"SKSREG SFE 0\r\nOK\r\n"
    assert h.send(b"SKAPPVER\r\n") == b"EAPPVER rev26e\r\nOK\r\n"
    assert h.send(b"SKSREG SFE\r\n") == b"ESREG 0\r\nOK\r\n"


@pytest.mark.parametrize(
    "dialect, line",
    [
        (
            "bp35a1",
            "EINFO FE80:0000:0000:0000:021D:1290:0004:0A11 001D129000040A11 21 FFFF FFFE",
        ),
        (
            "rl7023-ips",
            "EINFO FE80:0000:0000:0000:1207:23FF:FEA0:77E3 100723FFFEA077E3 21 FFFF FFFE ",
        ),
        (
            "rl7023-dss",
            "EINFO FE80:0000:0000:0000:1207:23FF:FEA0:7A52 100723FFFEA07A52 21 FFFF 0",
        ),
        (
            "bp35c0",
            "EINFO FE80:0000:0000:0000:021D:1291:0002:2B4F 001D129100022B4F 21 FFFF 0",
        ),
    ],
)
def test_skinfo_fifth_field_ffe_on_ss_zero_on_ds(dialect: str, line: str) -> None:
    h = Host(dialect)
    assert h.send(b"SKINFO\r\n") == f"SKINFO\r\n{line}\r\nOK\r\n".encode()


def test_skinfo_reflects_channel_and_pan_registers() -> None:
    h = Host("bp35c0")
    h.send(b"SKSREG SFE 0\r\nSKSREG S2 3B\r\nSKSREG S03 8257\r\n")
    assert h.send(b"SKINFO\r\n").split()[3:5] == [b"3B", b"8257"]
    assert h.send(b"SKSREG S2\r\n") == b"ESREG 3B\r\nOK\r\n"


def test_skll64_prints_only_the_address() -> None:
    h = Host("bp35a1")
    assert h.send(b"SKLL64 001C640003DD6393\r\n") == (
        b"SKLL64 001C640003DD6393\r\nFE80:0000:0000:0000:021C:6400:03DD:6393\r\n"
    )
    assert ll64("C0F9450040191875") == "FE80:0000:0000:0000:C2F9:4500:4019:1875"


def test_sktable_e_bp35a1_quirk_and_plain_on_others() -> None:
    quirk = Host("bp35a1").send(b"SKTABLE E\r\n")
    assert lines(quirk) == [
        "SKTABLE E",
        "EPORT",
        "3610",
        "716",
        "0",
        "0",
        "0",
        "0",
        "",
        "3610",
        "0",
        "0",
        "0",
        "OK",
        "",
    ]
    plain = Host("rl7023-ips").send(b"SKTABLE E\r\n")
    assert lines(plain) == [
        "SKTABLE E",
        "EPORT",
        "3610",
        "716",
        "0",
        "0",
        "0",
        "0",
        "OK",
        "",
    ]


def test_rohm_product_commands_answer_with_cr_only() -> None:
    h = Host("bp35a1")
    assert h.send(b"ROPT\r") == b"ROPT\r\nOK 00\r"
    assert h.send(b"WOPT 01\r") == b"WOPT 01\r\nOK\r"
    assert h.send(b"ROPT\r") == b"ROPT\r\nOK 01\r"
    assert h.send(b"RUART\r") == b"RUART\r\nOK 00\r"
    assert h.send(b"WUART 80\r") == b"WUART 80\r\nOK\r"
    assert h.send(b"RUART\r") == b"RUART\r\nOK 80\r"
    assert h.send(b"WOPT 07\r") == b"WOPT 07\r\nFAIL ER06\r"


def test_bp35c0_factory_mode_is_hex_and_wopt_survives_reset() -> None:
    h = Host("bp35c0")
    assert h.send(b"ROPT\r") == b"ROPT\r\nOK 01\r"
    h.send(b"WOPT 00\r")
    h.send(b"SKRESET\r\n")
    assert h.send(b"ROPT\r") == b"ROPT\r\nOK 00\r"


@pytest.mark.parametrize("dialect", ["rl7023-ips", "rl7023-dss"])
def test_tessera_has_no_rohm_product_commands(dialect: str) -> None:
    assert Host(dialect).send(b"ROPT\r") == b"ROPT\r\nFAIL ER04\r\n"
    assert Host(dialect).send(b"WOPT 01\r") == b"WOPT 01\r\nFAIL ER04\r\n"


def test_cr_lf_split_across_writes_is_one_line_end() -> None:
    h = Host("bp35a1")
    assert h.send(b"SKVER\r") == b"SKVER\r\nEVER 1.2.10\r\nOK\r\n"
    assert h.send(b"\nSKAPPVER\r\n") == b"SKAPPVER\r\nEAPPVER rev26e\r\nOK\r\n"
    assert h.send(b"\r\n") == b""  # an empty line prints nothing


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dialect, command, code",
    [
        ("bp35a1", "SKFOO", "ER04"),
        ("bp35a1", "skver", "ER04"),
        ("bp35c0", "SKSCAN 2 FFFFFFFF 6", "ER05"),  # DS needs SIDE
        ("bp35a1", "SKSCAN 2 FFFFFFFF 6 0", "ER05"),  # SS has no SIDE
        ("bp35a1", "SKSCAN 2 FFFFFFFF F", "ER06"),  # duration 0..14
        ("bp35a1", "SKSCAN 0 FFFFFFFF 4", "ER06"),  # ED scan not modelled
        ("bp35c0", "SKSCAN 2 FFFFFFFF 6 2", "ER06"),
        ("bp35a1", "SKVER 1", "ER05"),
        ("bp35a1", "SKSREG", "ER05"),
        ("bp35a1", "SKSREG S2 20", "ER06"),  # channel below 0x21
        ("bp35a1", "SKSREG S2 3D", "ER06"),
        ("bp35a1", "SKSREG SFE 2", "ER06"),
        ("bp35a1", "SKSREG SFD 0", "ER06"),  # read-only
        ("bp35a1", "SKSREG XYZ 1", "ER06"),
        ("bp35a1", "SKSETPWD C SHORT", "ER06"),  # length mismatch
        ("bp35a1", "SKSETPWD C", "ER05"),
        ("bp35a1", "SKSETRBID 0123", "ER06"),
        ("bp35a1", "SKLL64 XYZ", "ER06"),
        ("bp35a1", f"SKJOIN {METER_IP} 0", "ER05"),
        ("bp35a1", "SKJOIN FE80::1", "ER06"),
        ("bp35a1", "SKREJOIN", "ER10"),
        ("bp35c0", "SKTERM", "ER10"),
        ("bp35a1", "SKSENDTO 1 FE80:0000:0000:0000:021C:6400:03DD:8257 0E1A 1", "ER05"),
        ("bp35a1", "SKTABLE 1", "ER06"),
    ],
)
def test_fail_codes(dialect: str, command: str, code: str) -> None:
    out = Host(dialect).send(command.encode() + b"\r\n")
    assert out == f"{command}\r\nFAIL {code}\r\n".encode()


def test_sendto_bad_datalen_is_er06() -> None:
    h = Host("bp35a1")
    h.send(b"SKSREG SFE 0\r\n")
    assert h.send(f"SKSENDTO 1 {METER_IP} 0E1A 1 00ZZ ".encode()) == b"FAIL ER06\r\n"


def test_overlong_line_is_er09() -> None:
    h = Host("bp35a1")
    h.send(b"SKSREG SFE 0\r\n")
    assert h.send(b"A" * 3000) == b"FAIL ER09\r\n"
    assert h.send(b"SKVER\r\n") == b"EVER 1.2.10\r\nOK\r\n"


# -- scan ----------------------------------------------------------------------------------


def test_scan_dwell_arithmetic() -> None:
    assert scan_dwell_s(6) == pytest.approx(0.0096 * 65)
    assert 28 * scan_dwell_s(6) == pytest.approx(17.47, abs=0.01)
    assert 28 * scan_dwell_s(7) == pytest.approx(34.7, abs=0.05)
    assert 28 * scan_dwell_s(8) == pytest.approx(69.1, abs=0.05)


@pytest.mark.parametrize("dialect", ALL)
def test_scan_finds_meter_when_sweep_reaches_its_channel(dialect: str) -> None:
    h = Host(dialect)
    h.send(b"SKSREG SFE 0\r\n")
    cmd = b"SKSCAN 2 FFFFFFFF 6" + h.side() + b"\r\n"
    assert h.send(cmd) == b"OK\r\n"
    dwell = scan_dwell_s(6)
    meter_index = 0x3B - 0x21  # channel 59 is the 27th of 28
    assert h.wait(dwell * (meter_index + 1) - 1e-6) == b""
    found = h.wait(2e-6)
    own = get_profile(dialect).address
    sfx = " 0" if dialect in DS else ""
    expected = [
        f"EVENT 20 {own}{sfx}",
        "EPANDESC",
        "  Channel:3B",
        "  Channel Page:09",
        "  Pan ID:8257",
        f"  Addr:{METER_MAC}",
        "  LQI:C4",
    ]
    if dialect in DS:
        expected.append("  Side:0")
    expected += ["  PairID:89ABCDEF", ""]
    assert lines(found) == expected
    assert h.wait(dwell) == f"EVENT 22 {own}{sfx}\r\n".encode()


def test_scan_mode_3_has_no_pair_id_and_mask_limits_channels() -> None:
    h = Host("bp35a1")
    h.send(b"SKSREG SFE 0\r\n")
    mask = 1 << (0x3B - 0x21)
    h.send(f"SKSCAN 3 {mask:X} 5\r\n".encode())
    out = h.wait(scan_dwell_s(5) + 1e-6)
    assert (
        b"PairID" not in out and b"EPANDESC" in out and out.endswith(b"EVENT 22 " + h.dongle.address.encode() + b"\r\n")
    )


@pytest.mark.parametrize("duration, found", [(4, False), (5, True), (6, True)])
def test_beacon_only_at_or_above_min_duration(duration: int, found: bool) -> None:
    h = Host("rl7023-ips")
    h.send(b"SKSREG SFE 0\r\n")
    h.send(f"SKSCAN 2 FFFFFFFF {duration}\r\n".encode())
    out = h.until_idle()
    assert (b"EPANDESC" in out) is found
    assert out.count(b"EVENT 22") == 1


def test_min_scan_duration_is_configurable() -> None:
    h = Host("bp35a1", min_scan_duration=6)
    h.send(b"SKSREG SFE 0\r\nSKSCAN 2 FFFFFFFF 5\r\n")
    assert b"EPANDESC" not in h.until_idle()


def test_second_scan_during_scan_is_er10() -> None:
    h = Host("bp35a1")
    h.send(b"SKSREG SFE 0\r\nSKSCAN 2 FFFFFFFF 6\r\n")
    assert h.send(b"SKSCAN 2 FFFFFFFF 6\r\n") == b"FAIL ER10\r\n"


# -- join ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ALL)
def test_join_sequence(dialect: str) -> None:
    h = Host(dialect, erxudp_mode=1)  # hex, so the PANA lines can be split on CRLF
    out = h.join()
    sfx = " 0" if dialect in DS else ""
    ls = lines(out)
    assert ls[:4] == [
        "OK",
        f"EVENT 21 {METER_IP}{sfx} 02",
        f"EVENT 02 {METER_IP}{sfx}",
        f"EVENT 21 {METER_IP}{sfx} 00",
    ]
    pana = [line for line in ls if line.startswith("ERXUDP") and " 02CC 02CC " in line]
    assert len(pana) == 3
    assert all(line.split()[6] == "0" for line in pana)  # SECURED 0 (SA2 is off)
    i25 = ls.index(f"EVENT 25 {METER_IP}{sfx}")
    inf = ls[i25 + 1].split()
    assert inf[2] == "FF02:0000:0000:0000:0000:0000:0000:0001" and inf[3:5] == [
        "0E1A",
        "0E1A",
    ]
    frame = decode_frame(bytes.fromhex(inf[-1]))
    assert frame.esv == ESV.INF and frame.props[0].epc == 0xD5 and frame.props[0].edt == bytes.fromhex("01028801")
    assert h.dongle.session == "up"


def test_final_pana_message_carries_the_session_lifetime() -> None:
    h = Host("rl7023-ips", session_lifetime=7200)
    pana = [line for line in lines(h.join()) if " 02CC " in line]
    data = bytes.fromhex(pana[-1].split()[-1])
    assert data[4:6] == b"\xa0\x00"  # R|C flags
    assert (7200).to_bytes(4, "big") in data and b"\x00\x08\x00\x00\x00\x04\x00\x00" in data


def test_join_with_wrong_password_fails_after_pana_retry_time() -> None:
    h = Host("bp35a1", pana_fail_time=38.0)
    h.send(b"SKSREG SFE 0\r\n")
    h.send(f"SKSETRBID {DEMO_RBID}\r\nSKSETPWD C WRONGPASSWRD\r\nSKSREG S2 3B\r\nSKSREG S3 8257\r\n".encode())
    start = h.t
    out = h.send(f"SKJOIN {METER_IP}\r\n".encode(), 37.9)
    assert b"EVENT 24" not in out and b"EVENT 25" not in out and b" 02CC " in out
    assert h.wait(0.2) == f"EVENT 24 {METER_IP}\r\n".encode()
    assert h.t - start == pytest.approx(38.1)
    assert h.dongle.session == "none"


def test_join_on_wrong_channel_fails() -> None:
    h = Host("bp35c0", pana_fail_time=10.0)
    h.send(b"SKSREG SFE 0\r\n")
    h.send(f"SKSETRBID {DEMO_RBID}\r\nSKSETPWD C {DEMO_PASSWORD}\r\nSKSREG S2 21\r\nSKSREG S3 8257\r\n".encode())
    out = h.send(f"SKJOIN {METER_IP}\r\n".encode()) + h.until_idle()
    assert lines(out) == [
        "OK",
        f"EVENT 21 {METER_IP} 0 02",
        f"EVENT 24 {METER_IP} 0",
        "",
    ]


def test_skjoin_during_session_is_er10_and_skrejoin_reauthenticates() -> None:
    h = Host("bp35a1")
    h.join()
    assert h.send(f"SKJOIN {METER_IP}\r\n".encode()) == b"FAIL ER10\r\n"
    out = h.send(b"SKREJOIN\r\n") + h.wait(3)
    assert out.startswith(b"OK\r\n") and out.endswith(f"EVENT 25 {METER_IP}\r\n".encode())


def test_skterm_ends_the_session_with_event_27() -> None:
    h = Host("rl7023-dss")
    h.join()
    assert h.send(b"SKTERM\r\n", 2) == f"OK\r\nEVENT 27 {METER_IP} 0\r\n".encode()
    assert h.dongle.session == "none"
    assert h.send(b"SKTERM\r\n") == b"FAIL ER10\r\n"


# -- SKSENDTO / ERXUDP ---------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ALL)
def test_sendto_event21_then_ok_then_erxudp(dialect: str) -> None:
    h = Host(dialect)
    h.join()
    h.send(b"SKSREG SFE 1\r\n")
    payload = get_request(0x0042, [0xE7]).encode()
    side = " 0" if dialect in DS else ""
    out = h.sendto(payload)
    ls = lines(out)
    assert ls[0] == f"SKSENDTO 1 {METER_IP} 0E1A 1{side} {len(payload):04X} "  # header-only echo
    assert ls[1:3] == [f"EVENT 21 {METER_IP}{side} 00", "OK"]
    rx = out[out.index(b"ERXUDP") :]
    assert rx.endswith(b"\r\n") and rx.count(b"ERXUDP") == 1
    if dialect == "bp35a1":  # factory WOPT 00: binary data, exactly DATALEN raw bytes
        head = rx.split(b" ", 8)
        assert len(head) == 9 and int(head[7], 16) == 18
        frame = decode_frame(head[8][:-2])
    else:
        tokens = rx.split()
        assert len(tokens) == {"rl7023-ips": 9, "rl7023-dss": 10, "bp35c0": 10}[dialect]
        frame = decode_frame(bytes.fromhex(tokens[-1].decode()))
    assert frame.tid == 0x0042 and frame.esv == ESV.GET_RES and len(frame.prop(0xE7).edt) == 4


def test_sendto_payload_with_cr_lf_is_read_by_length() -> None:
    h = Host("bp35a1")
    h.join()
    # TID 0x0D0A puts CR LF inside the payload.
    payload = get_request(0x0D0A, [0xE7]).encode()
    assert b"\r\n" in payload
    out = h.sendto(payload)
    assert out.count(b"EVENT 21") == 1 and b"FAIL" not in out
    rx = out[out.index(b"ERXUDP") :]
    # Binary ERXUDP (BP35A1 factory mode): exactly DATALEN raw bytes, then CRLF.
    head = rx.split(b" ", 8)
    length = int(head[7], 16)
    body = head[8][:length]
    assert head[8][length:] == b"\r\n"
    frame = decode_frame(body)
    assert frame.tid == 0x0D0A and frame.esv == ESV.GET_RES
    assert h.send(b"SKVER\r\n") == b"EVER 1.2.10\r\nOK\r\n"  # parser back in sync


def test_hex_erxudp_after_wopt_01() -> None:
    h = Host("bp35a1")
    h.send(b"WOPT 01\r")
    h.join()
    rx = h.sendto(get_request(1, [0xE7, 0xE8]).encode()).split(b"\r\n")[2]
    tokens = rx.split()
    assert len(tokens) == 9 and tokens[6] == b"1" and int(tokens[7], 16) * 2 == len(tokens[8])
    frame = decode_frame(bytes.fromhex(tokens[8].decode()))
    assert [p.epc for p in frame.props] == [0xE7, 0xE8]


@pytest.mark.parametrize("dialect", ["bp35c0", "rl7023-dss"])
def test_sa2_adds_lqi_before_secured(dialect: str) -> None:
    h = Host(dialect)
    h.send(b"SKSREG SA2 1\r\n")
    h.join()
    rx = h.sendto(get_request(1, [0xE7]).encode()).split(b"\r\n")[2]
    tokens = rx.split()
    assert len(tokens) == 11
    assert tokens[5:9] == [METER_MAC.encode(), b"C4", b"1", b"0"]


@pytest.mark.parametrize("dialect", ["rl7023-ips", "bp35a1"])
def test_single_stack_accepts_sa2_but_keeps_ss_layout(dialect: str) -> None:
    h = Host(dialect)
    assert h.send(b"SKSREG SA2 1\r\n") == b"SKSREG SA2 1\r\nOK\r\n"
    h.join()
    rx = h.sendto(get_request(1, [0xE7]).encode()).split(b"\r\n")[2]
    assert len(rx.split()) == 9


def test_answer_latency_is_between_100_and_500_ms() -> None:
    h = Host("rl7023-ips")
    h.join()
    payload = get_request(1, [0xE7]).encode()
    h.send(f"SKSENDTO 1 {METER_IP} 0E1A 1 {len(payload):04X} ".encode() + payload)
    assert b"ERXUDP" not in h.wait(airtime_s(len(payload)) + 0.0999)
    assert b"ERXUDP" in h.wait(0.401)


def test_secured_send_without_session_fails_with_event21_01() -> None:
    h = Host("bp35c0")
    h.send(b"SKSREG SFE 0\r\n")
    out = h.sendto(get_request(1, [0xE7]).encode())
    assert out == f"EVENT 21 {METER_IP} 0 01\r\nOK\r\n".encode()


def test_infc_is_forwarded_and_acknowledged_through_the_meter() -> None:
    h = Host("rl7023-ips", meter=MeterConfig(notify="infc"))
    h.join()
    out = h.wait(1800)
    rx = [line for line in lines(out) if line.startswith("ERXUDP")]
    assert rx, "a half-hour push must arrive within 30 minutes"
    frame = decode_frame(bytes.fromhex(rx[0].split()[-1]))
    assert frame.esv == ESV.INFC and frame.prop(0xEA) is not None
    h.sendto(infc_response(frame).encode())
    assert h.meter.acked_infc == 1


# -- session lifetime ----------------------------------------------------------------------


def test_lifetime_expiry_event29_then_reauth_event25_and_sends_fail_between() -> None:
    h = Host("bp35c0", session_lifetime=600, reauth_time=2.0)
    h.join()
    assert b"EVENT 29" not in h.wait(599)
    out = h.wait(1.0)
    assert out == f"EVENT 29 {METER_IP} 0\r\n".encode()
    between = h.sendto(get_request(1, [0xE7]).encode())
    assert between.startswith(f"EVENT 21 {METER_IP} 0 01\r\nOK\r\n".encode())
    assert f"EVENT 25 {METER_IP} 0".encode() in between + h.wait(1.5)
    after = h.sendto(get_request(2, [0xE7]).encode())
    assert f"EVENT 21 {METER_IP} 0 00".encode() in after and b"ERXUDP" in after


def test_lifetime_expiry_without_auto_reauth_ends_session() -> None:
    h = Host("bp35a1", session_lifetime=100)
    h.join()
    h.send(b"SKSREG S17 0\r\n")
    assert h.wait(100) == f"EVENT 29 {METER_IP}\r\n".encode()
    assert h.wait(10) == b"" and h.dongle.session == "none"


# -- duty budget ---------------------------------------------------------------------------


def test_airtime_formula() -> None:
    assert airtime_s(18) == pytest.approx((18 + 56) * 8 / 100_000 + 0.005)


def test_duty_limit_engages_with_event32_and_releases_with_event33() -> None:
    h = Host("bp35a1", duty_cap_s=1.0)
    h.join()
    h.send(b"SKSREG SFE 0\r\n")
    payload = get_request(1, [0xE7]).encode()
    cost = airtime_s(len(payload))
    sends = 0
    out = b""
    while b"EVENT 32" not in out:
        out = h.sendto(payload)
        sends += 1
        assert sends < 200
    own = h.dongle.address
    assert lines(out)[:3] == [f"EVENT 32 {own}", f"EVENT 21 {METER_IP} 01", "OK"]
    assert h.send(b"SKSREG SFB\r\n") == b"ESREG 1\r\nOK\r\n"
    assert h.dongle.airtime_window_s(h.t) <= 1.0 and h.dongle.airtime_window_s(h.t) + cost > 1.0
    refused = h.sendto(payload)
    assert refused == f"EVENT 21 {METER_IP} 01\r\nOK\r\n".encode()
    sfd = int(h.send(b"SKSREG SFD\r\n").split()[1], 16)
    assert sfd == int(h.dongle.airtime_ms_total)
    released = h.wait(3600)
    assert f"EVENT 33 {own}".encode() in released
    assert h.send(b"SKSREG SFB\r\n") == b"ESREG 0\r\nOK\r\n"
    assert b"EVENT 21 " + METER_IP.encode() + b" 00" in h.sendto(payload)
    assert 0 < h.dongle.duty_share(h.t) < 1.0 / 3600 + cost


# -- faults --------------------------------------------------------------------------------


def test_parse_fault_and_errors() -> None:
    assert parse_fault("600:silence:120", 1000.0) == Fault(1600.0, "silence", 120.0)
    assert parse_fault("5:unplug", 0.0) == Fault(5.0, "unplug")
    for bad in ("x:drop", "5:explode", "5", "5:silence", "5:garbage:0", "-1:drop"):
        with pytest.raises(FaultError):
            parse_fault(bad, 0.0)
    with pytest.raises(FaultError):
        FaultPlan(loss_pct=120)


def test_total_loss_drops_every_request_or_answer() -> None:
    h = Host("rl7023-ips", faults=FaultPlan(loss_pct=100.0))
    h.join()
    out = h.sendto(get_request(1, [0xE7]).encode())
    assert b"EVENT 21" in out and b"ERXUDP" not in out
    assert h.dongle.counters.requests_dropped == 1


def test_partial_loss_is_counted() -> None:
    h = Host("rl7023-ips", faults=FaultPlan(loss_pct=50.0))
    h.join()
    answered = sum(b"0E1A 0E1A" in h.sendto(get_request(i, [0xE7]).encode()) for i in range(1, 41))
    c = h.dongle.counters
    assert answered + c.requests_dropped + c.answers_dropped == 40
    assert 0 < answered < 40


def test_silence_fault_mutes_the_meter_for_its_duration() -> None:
    h = Host("rl7023-ips", faults=FaultPlan(scripted=[Fault(T0 + 10, "silence", 60)]))
    h.join()
    h.wait(10)
    assert b"ERXUDP" not in h.sendto(get_request(1, [0xE7]).encode())
    h.wait(60)
    assert b"ERXUDP" in h.sendto(get_request(2, [0xE7]).encode())
    assert h.dongle.counters.silences == 1


@pytest.mark.parametrize("kind, event", [("drop", 0x26), ("drop-28", 0x28)])
def test_session_drop_fault(kind: str, event: int) -> None:
    h = Host("bp35c0", faults=FaultPlan(scripted=[Fault(T0 + 20, kind)]))
    h.join()
    assert h.wait(20) == f"EVENT {event:02X} {METER_IP} 0\r\n".encode()
    assert h.dongle.session == "none" and h.dongle.counters.session_drops == 1
    assert b" 01\r\n" in h.sendto(get_request(1, [0xE7]).encode())


def test_reset_fault_prints_nothing_and_forgets_everything() -> None:
    h = Host("bp35a1", faults=FaultPlan(scripted=[Fault(T0 + 20, "reset")]))
    h.send(b"WOPT 01\r")
    h.join()
    assert h.wait(20) == b""
    assert h.dongle.session == "none" and h.dongle.counters.resets == 1
    assert h.send(b"SKINFO\r\n").startswith(b"SKINFO\r\n")  # echo is back on
    assert h.send(b"SKSREG S2\r\n") == b"SKSREG S2\r\nESREG 21\r\nOK\r\n"
    assert h.send(b"ROPT\r") == b"ROPT\r\nOK 01\r"  # flash setting kept


def test_garbage_fault_emits_counted_bytes() -> None:
    h = Host("bp35a1", faults=FaultPlan(scripted=[Fault(T0 + 5, "garbage", 40)]))
    assert len(h.wait(5)) == 40
    assert h.dongle.counters.garbage_bytes == 40


def test_unplug_fault_is_reported_once_and_resets() -> None:
    h = Host("bp35a1", faults=FaultPlan(scripted=[Fault(T0 + 30, "unplug")]))
    h.join()
    h.wait(30)
    assert h.dongle.take_unplug() is True
    assert h.dongle.take_unplug() is False
    assert h.dongle.session == "none" and h.dongle.counters.unplugs == 1


def test_skreset_command_answers_ok_then_forgets() -> None:
    h = Host("bp35c0")
    h.join()
    assert h.send(b"SKRESET\r\n") == b"OK\r\n"
    assert h.dongle.session == "none"
    assert h.send(b"SKVER\r\n").startswith(b"SKVER\r\n")


def test_secrets_not_in_repr() -> None:
    config = DongleConfig(rbid="SECRETID" * 4, password="TOPSECRET123")
    dongle = DongleSim("bp35a1", MeterSim(MeterConfig(), T0), config)
    for text in (repr(config), repr(dongle)):
        assert "SECRET" not in text


def test_config_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="32 printable"):
        DongleConfig(rbid="short")
    with pytest.raises(ValueError, match="0x21..0x3C"):
        DongleConfig(channel=0x10)
    with pytest.raises(ValueError, match="unknown dongle"):
        DongleSim("bp99", MeterSim(MeterConfig(), T0))


def test_a_silent_meter_neither_beacons_nor_completes_a_join() -> None:
    h = Host("bp35a1")
    h.meter.silence(h.t, h.t + 3600)
    scan = h.send(b"SKSCAN 2 FFFFFFFF 6\r\n", wait=30.0)
    assert b"EPANDESC" not in scan and b"EVENT 22" in scan
    h.send(b"SKSREG S2 3B\r\n")
    h.send(b"SKSREG S3 8257\r\n")
    out = h.send(f"SKJOIN {METER_IP}\r\n".encode(), wait=60.0)
    assert b"EVENT 24" in out and b"EVENT 25" not in out
