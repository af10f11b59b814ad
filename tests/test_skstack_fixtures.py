"""Every line-bearing entry of the shared capture fixtures, parsed and checked field by field."""

import ast

import pytest
from datafiles import captured_entries

from logger.echonet.frame import decode_frame, decode_hex
from logger.skstack.commands import ll64
from logger.skstack.events import (
    EInfo,
    EPort,
    Event,
    Ever,
    Fail,
    Ll64,
    Ok,
    PanDesc,
    RxUdp,
    Unknown,
)
from logger.skstack.parser import SkParser

ENTRIES = captured_entries()

LINE_KINDS = ("event", "erxudp", "epandesc", "session")
LINE_ENTRIES = [e for e in ENTRIES if e["kind"] in LINE_KINDS]


def _id(entry) -> str:
    return f"{entry['kind']}-{entry['dongle']}-{entry['source'][:40]}"


def raw_bytes(entry) -> bytes:
    raw = entry["raw"]
    if isinstance(raw, str) and raw.startswith(("b'", 'b"')):
        return ast.literal_eval(raw)  # pasted Python bytes repr: binary ERXUDP data
    lines = raw if isinstance(raw, list) else [raw]
    return b"".join(line.encode("utf-8") + b"\r\n" for line in lines)


def parse(entry, bytewise=False):
    p = SkParser()
    data = raw_bytes(entry)
    if bytewise:
        out = [e for i in range(len(data)) for e in p.feed(data[i : i + 1])]
    else:
        out = p.feed(data)
    return out + p.flush()


def check_frame(payload: bytes, exp: dict) -> None:
    frame = decode_frame(payload)
    assert payload[:2].hex().upper() == exp["ehd"]
    assert f"{frame.tid:04X}" == exp["tid"].upper()
    assert f"{frame.seoj:06X}" == exp["seoj"]
    assert f"{frame.deoj:06X}" == exp["deoj"]
    assert f"{frame.esv:02X}" == exp["esv"]
    assert frame.esv_name == exp["esv_name"]
    assert frame.opc == exp["opc"]
    props = {f"{p.epc:02X}": p for p in frame.props}
    assert list(props) == list(exp["properties"])
    for epc, want in exp["properties"].items():
        assert props[epc].pdc == want["pdc"]
        assert props[epc].edt.hex().upper() == want["edt"]


def check_rx(rx: RxUdp, fields: dict) -> None:
    assert rx.sender == fields.get("sender", rx.sender)
    assert rx.dest == fields.get("dest", rx.dest)
    if "rport" in fields:
        assert f"{rx.rport:04X}" == fields["rport"] and f"{rx.lport:04X}" == fields["lport"]
    if "senderlla" in fields:
        assert rx.sender_lla == fields["senderlla"]
    assert rx.secured == int(fields["secured"])
    assert rx.side == (int(fields["side"]) if "side" in fields else None)
    assert len(rx.data) == fields["datalen"]
    assert rx.binary == (fields.get("data_format") == "binary")


def check_event(ev: Event, exp: dict) -> None:
    assert isinstance(ev, Event)
    assert ev.num == int(exp["num"], 16)
    if "sender" in exp:
        assert ev.sender == exp["sender"]
    if "side" in exp:
        assert ev.side == (None if exp["side"] is None else int(exp["side"]))
    if "param" in exp:
        assert ev.param == int(exp["param"], 16)


def check_pandesc(pd: PanDesc, exp: dict) -> None:
    assert isinstance(pd, PanDesc)
    assert pd.channel == exp["channel"] == int(exp["channel_hex"], 16)
    assert pd.channel_page == exp["channel_page"]
    assert pd.pan_id == int(exp["pan_id"], 16)
    assert pd.addr == exp["addr"]
    assert pd.lqi == exp["lqi"]
    assert pd.rssi_dbm == pytest.approx(exp["rssi_dbm"])
    assert pd.side == exp["side"]
    assert pd.pair_id == exp["pair_id"]


def check_einfo(ei: EInfo, exp: dict) -> None:
    assert isinstance(ei, EInfo)
    if "ipaddr" in exp:
        assert ei.ipaddr == exp["ipaddr"] and ei.addr64 == exp["addr64"]
    assert ei.channel == exp["channel"]
    assert ei.pan_id == int(exp["pan_id"], 16)
    assert ei.fifth == exp.get("fifth_field", exp.get("addr16"))


def test_fixture_file_has_line_entries():
    assert len(LINE_ENTRIES) >= 15


@pytest.mark.parametrize("entry", LINE_ENTRIES, ids=_id)
def test_bytewise_equals_bulk(entry):
    assert parse(entry, bytewise=True) == parse(entry)


@pytest.mark.parametrize("entry", [e for e in LINE_ENTRIES if e["kind"] == "event"], ids=_id)
def test_event_entries(entry):
    (ev,) = parse(entry)
    exp = entry["expected"]
    if "code" in exp:
        assert ev == Fail(exp["code"]) and ev.meaning == exp["meaning"]
    else:
        check_event(ev, exp)


@pytest.mark.parametrize("entry", [e for e in LINE_ENTRIES if e["kind"] == "erxudp"], ids=_id)
def test_erxudp_entries(entry):
    (rx,) = parse(entry)
    assert isinstance(rx, RxUdp)
    exp = entry["expected"]
    check_rx(rx, exp["fields"])
    if "ehd" in exp:
        check_frame(rx.data, exp)
    else:  # PANA (port 02CC): length field and the AVP values are in the payload
        pana = exp["pana"]
        assert rx.rport == 0x02CC and int.from_bytes(rx.data[2:4], "big") == pana["pana_length"]
        for value in pana["avps"].values():
            assert value in rx.data.hex().upper()


@pytest.mark.parametrize("entry", [e for e in LINE_ENTRIES if e["kind"] == "epandesc"], ids=_id)
def test_epandesc_entries(entry):
    events = parse(entry)
    exp = entry["expected"]
    if exp.get("truncated"):
        # the excerpt stops inside the block: no PanDesc is invented, the fields are kept for the log
        unknown = events[-1]
        assert isinstance(unknown, Unknown) and "incomplete" in unknown.reason
        assert f"Channel:{exp['channel']:02X}" in unknown.line and f"Pan ID:{exp['pan_id']}" in unknown.line
        assert [type(e) for e in events[:-1]] == [Event, type(events[1]), Ok, Event]
        return
    pd = next(e for e in events if isinstance(e, PanDesc))
    check_pandesc(pd, exp)
    evs = [e for e in events if isinstance(e, Event)]
    assert len(evs) == len(exp["events"])
    for ev, want in zip(evs, exp["events"]):
        check_event(ev, want)
    if "ll64" in exp:
        assert ll64(pd.addr) == exp["ll64"]


def _session(source_part: str) -> dict:
    return next(e for e in LINE_ENTRIES if e["kind"] == "session" and source_part in e["source"])


def test_session_masked_blog_erxudp_without_secured_is_unknown():
    entry = _session("joanjettsdog")
    events = parse(entry)
    exp = entry["expected"]
    assert events[0].command == "SKSENDTO" and "バイナリ" not in events[0].text
    ev21 = next(e for e in events if isinstance(e, Event))
    assert ev21.num == 0x21 and ev21.param == int(exp["event21"]["param"], 16)
    assert Ok() in events and exp["status"] == "OK"
    bad = events[-1]
    assert isinstance(bad, Unknown) and "ERXUDP" in bad.reason
    assert not any(isinstance(e, RxUdp) for e in events)
    assert len(bad.line.split()) == exp["tokens"]
    check_frame(bytes.fromhex(bad.line.split()[-1]), exp["frame"])


def test_session_sktable_e_quirk():
    entry = _session("ExpectEPORT")
    assert parse(entry) == [EPort(tuple(entry["expected"]["ports"])), Ok()]
    ports = entry["expected"]["ports"]
    assert ports.index(3610) + 1 == entry["expected"]["handle_of_3610"]
    assert ports.index(716) + 1 == entry["expected"]["handle_of_716"]


def test_session_bp35c0_probe_and_credentials():
    entry = _session("node-wisunrb README.md (serial-data")
    events = parse(entry)
    exp = entry["expected"]
    assert next(e for e in events if isinstance(e, Ever)).version == exp["version"]
    check_einfo(next(e for e in events if isinstance(e, EInfo)), exp["einfo"])
    assert next(e for e in events if isinstance(e, EInfo)).dual_stack
    shown = repr(events) + " ".join(getattr(e, "text", "") for e in events)
    assert "0123456789AB" not in shown  # neither the password nor the ID
    assert not any(isinstance(e, Unknown) for e in events)


def test_session_bp35c0_sendto_echo_and_event21():
    entry = _session("broute-mqtt/issues/5")
    events = parse(entry)
    exp = entry["expected"]
    echo, ev21, ok = events
    assert echo.command == "SKSENDTO" and echo.text.endswith(" 0 0012")  # header only, no payload
    assert ev21.side == int(exp["event21"]["side"]) and ev21.param == int(exp["event21"]["param"], 16)
    assert ok == Ok()
    check_frame(decode_hex("108101000EF0010EF0017301D5040105FF01").encode(), exp["sent_frame"])


def test_session_rl7023_ips_scan_and_join():
    entry = _session("netlog.jpn.org")
    events = parse(entry)
    exp = entry["expected"]
    check_einfo(next(e for e in events if isinstance(e, EInfo)), exp["einfo"])
    pd = next(e for e in events if isinstance(e, PanDesc))
    assert pd.channel == exp["epandesc"]["channel"] and pd.lqi == exp["epandesc"]["lqi"]
    assert pd.rssi_dbm == pytest.approx(exp["epandesc"]["rssi_dbm"])
    i = next(i for i, e in enumerate(events) if isinstance(e, Ll64))
    assert exp["no_ok_after_SKLL64"] and events[i + 1].command == "SKJOIN"
    ev21 = next(e for e in events if isinstance(e, Event) and e.num == 0x21)
    assert ev21.param == int(exp["event21_param"], 16)
    assert all(e.side is None for e in events if isinstance(e, (Event, PanDesc)))
    assert not any(isinstance(e, Unknown) for e in events)
    assert "1234567890ab" not in repr(events)


def test_every_session_entry_is_covered():
    covered = ("joanjettsdog", "ExpectEPORT", "node-wisunrb README.md (serial-data", "broute-mqtt/issues/5", "netlog")
    for entry in (e for e in LINE_ENTRIES if e["kind"] == "session"):
        assert any(c in entry["source"] for c in covered), entry["source"]
