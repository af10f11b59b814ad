"""Captured ECHONET Lite frames (tests/data/captured.json) decode to their expected values.

The ERXUDP payload is cut out with a tiny local helper (the SKSTACK parser is tested elsewhere).
"""

from __future__ import annotations

import ast
import json
import re
from decimal import Decimal

import pytest
from datafiles import captured_entries

from logger.echonet.frame import Frame, FrameError, Property, decode_frame
from logger.echonet.meter import MeterContext, decode, decode_node_profile, samples

ENTRIES = captured_entries()

ECHONET_PORT = "0E1A"


def erxudp_payload(line: str | bytes) -> bytes:
    """The DATA of one ERXUDP line: hex after the DATALEN token, or exactly DATALEN raw bytes."""
    if isinstance(line, str):
        tokens = line[line.index("ERXUDP") :].split()
        datalen, data = int(tokens[-2], 16), tokens[-1]
        assert len(data) == 2 * datalen, f"hex DATA is {len(data)} chars, DATALEN says {datalen} bytes"
        return bytes.fromhex(data)
    line = line[line.index(b"ERXUDP") :]
    for match in re.finditer(rb" ([0-9A-F]{4}) ", line):
        start, datalen = match.end(), int(match.group(1), 16)
        rest = len(line) - start
        if rest == datalen or (rest == datalen + 2 and line.endswith(b"\r\n")):
            return line[start : start + datalen]
    raise AssertionError("no DATALEN token followed by exactly DATALEN bytes")


def erxudp_port(line: str | bytes) -> str:
    text = line if isinstance(line, str) else line.decode("latin-1")
    return text[text.index("ERXUDP") :].split()[3]


def _cases() -> list[tuple[str, bytes, dict]]:
    """(id, frame bytes, expected frame dict) for every entry that carries an ECHONET frame."""
    cases = []
    for index, entry in enumerate(ENTRIES):
        kind, raw, expected = entry["kind"], entry["raw"], entry["expected"]
        name = f"{index}-{kind}-{entry['dongle']}"
        if kind == "frame" and isinstance(raw, str):
            cases.append((name, bytes.fromhex(raw), expected))
        elif kind == "frame":  # a library's JSON dump of one frame: rebuild it from its fields
            fields = dict(line.split(": ", 1) for line in raw)
            frame = Frame(
                int(fields['"tid"']),
                int(json.loads(fields['"seoj"']), 16),
                int(json.loads(fields['"deoj"']), 16),
                int(json.loads(fields['"esv"']), 16),
                (Property(int(json.loads(fields['"epc"']), 16), bytes.fromhex(json.loads(fields['"edt"']))),),
            )
            cases.append((name, frame.encode(), expected))
        elif kind == "erxudp" and "properties" in expected:
            line = ast.literal_eval(raw) if raw.startswith("b'") else raw
            cases.append((name, erxudp_payload(line), expected))
        elif kind == "session":
            for line in raw:
                if "ERXUDP" in line and "frame" in expected:
                    cases.append((name, erxudp_payload(line), expected["frame"]))
            if "sent_frame" in expected:
                logged = re.search(r"\b1081[0-9A-Fa-f]+\b", entry.get("note", ""))
                if logged:
                    cases.append((name + "-sent", bytes.fromhex(logged.group()), expected["sent_frame"]))
    return cases


CASES = _cases()


def test_every_frame_carrying_entry_is_covered():
    carrying = {i for i, e in enumerate(ENTRIES) if e["kind"] == "frame" or "properties" in e["expected"]}
    carrying |= {i for i, e in enumerate(ENTRIES) if {"frame", "sent_frame"} & set(e["expected"])}
    covered = {int(name.split("-")[0]) for name, _, _ in CASES}
    assert carrying and carrying <= covered


def _check_value(epc: str, edt: bytes, frame: Frame, want: dict) -> None:
    code = int(epc, 16)
    if "value" not in want:
        return
    if frame.seoj == 0x0EF001:
        value = decode_node_profile(code, edt)
        assert len(value.eojs) == want["value"]["count"]
        assert [f"{e:06X}" for e in value.eojs] == want["value"]["instances"]
        return
    value = decode(code, edt)
    expected = want["value"]
    if code == 0xE7:
        assert value.watts == expected
        assert [(s.value, s.unit) for s in samples(code, value, MeterContext())] == [(Decimal(expected), want["unit"])]
    elif code == 0xE8:
        assert value.r == Decimal(str(expected["r_A"])) and value.t == Decimal(str(expected["t_A"]))
        got = {s.dataid: s.value for s in samples(code, value, MeterContext())}
        assert got == {"R": Decimal(str(expected["r_A"])), "T": Decimal(str(expected["t_A"]))}
    elif code in (0xE0, 0xE3):
        assert value.raw == expected
    elif code == 0xE1:
        assert value.kwh == Decimal(str(expected))
    elif code == 0xD3:
        assert value.value == expected
    else:
        pytest.fail(f"fixture expects a value for EPC {epc}; teach this test how to compare it")


@pytest.mark.parametrize("name, raw, expected", CASES, ids=[c[0] for c in CASES])
def test_captured_frame_decodes_to_expected(name, raw, expected):
    frame = decode_frame(raw)
    assert frame.encode() == raw
    assert frame.tid == int(expected["tid"], 16)
    assert f"{frame.seoj:06X}" == expected["seoj"] and f"{frame.deoj:06X}" == expected["deoj"]
    assert f"{frame.esv:02X}" == expected["esv"] and frame.esv_name == expected["esv_name"]
    assert frame.opc == expected["opc"] == len(expected["properties"])
    assert [f"{p.epc:02X}" for p in frame.props] == list(expected["properties"])
    for prop in frame.props:
        want = expected["properties"][f"{prop.epc:02X}"]
        assert prop.pdc == want["pdc"] and prop.edt.hex().upper() == want["edt"]
        _check_value(f"{prop.epc:02X}", prop.edt, frame, want)


def test_pana_payloads_are_not_echonet_frames():
    pana = [e for e in ENTRIES if e["kind"] == "erxudp" and "pana" in e["expected"]]
    assert pana
    for entry in pana:
        assert erxudp_port(entry["raw"]) != ECHONET_PORT
        payload = erxudp_payload(entry["raw"])
        assert len(payload) == entry["expected"]["pana"]["pana_length"]
        with pytest.raises(FrameError, match="bad header"):
            decode_frame(payload)


def test_erxudp_helper_handles_binary_payload_with_crlf_inside():
    frame = bytes.fromhex("1081000102880105FF017201E704") + b"\x00\x0d\x0a\x20"
    line = b"ERXUDP FE80::1 FE80::2 0E1A 0E1A 001C6400030C12A4 1 0 0012 " + frame + b"\r\n"
    assert erxudp_payload(line) == frame
    assert decode(0xE7, decode_frame(frame).props[0].edt).watts == 0x000D0A20
