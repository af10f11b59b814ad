"""Every line shape the simulator prints parses back, through the host parser, to the event it meant.

The simulator (:mod:`logger.simulate.profiles`) and the host parser (:mod:`logger.skstack.parser`)
are independent implementations of the wire format; only the family facts table is shared.
Here the simulator's own line builders (``Profile.erxudp``, ``Profile.event``,
``Profile.epandesc``, ``Profile.einfo``) produce the bytes, for every host dialect, and the
host parser must give back exactly the fields that went in, whether the bytes arrive whole
or cut at random byte boundaries.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logger.simulate.profiles import get_profile, ll64
from logger.skstack.dialects import DIALECTS, get_dialect
from logger.skstack.events import (
    EVENT_MEANINGS,
    EInfo,
    EPort,
    Event,
    Ok,
    PanDesc,
    RxUdp,
    Unknown,
)
from logger.skstack.parser import SkParser

NAMES = sorted(DIALECTS)
EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

eui64 = st.integers(0, 2**64 - 1).map(lambda v: f"{v:016X}")
addresses = eui64.map(ll64)
#: Event numbers the host knows, plus any other byte (the simulator's builder takes any number).
event_numbers = st.one_of(st.sampled_from(sorted(EVENT_MEANINGS)), st.integers(0, 0xFF))
#: A PairID is the last 8 characters of a B-route ID: printable ASCII without spaces.
pair_ids = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=8, max_size=8)
#: Data the radio can deliver; CR and LF are made likely, since binary mode carries them raw.
payloads = st.lists(
    st.one_of(st.integers(0, 255), st.sampled_from([0x0D, 0x0A])), min_size=1, max_size=400
).map(bytes)


def parse(name: str, data: bytes, cuts: list[int]) -> list:
    """Events from the host parser of dialect ``name``: fed whole, then fed in pieces; both must agree."""
    whole = SkParser(get_dialect(name))
    bulk = whole.feed(data) + whole.flush()
    pieces = SkParser(get_dialect(name))
    split, last = [], 0
    for cut in sorted({c for c in cuts if 0 <= c <= len(data)}):
        split += pieces.feed(data[last:cut])
        last = cut
    split += pieces.feed(data[last:]) + pieces.flush()
    assert split == bulk
    assert not [e for e in bulk if isinstance(e, Unknown)], bulk
    return bulk


def test_every_host_dialect_has_a_simulator_profile() -> None:
    for name in NAMES:
        profile = get_profile(name)
        dialect = get_dialect(name)
        assert (profile.dual_stack, profile.rohm) == (dialect.dual_stack, dialect.rohm)
        assert (profile.default_wopt == 0) == dialect.default_binary


# -- ERXUDP ------------------------------------------------------------------------------------


@EXAMPLES
@given(
    name=st.sampled_from(NAMES),
    sender=addresses,
    dest=addresses,
    rport=st.integers(0, 0xFFFF),
    lport=st.integers(0, 0xFFFF),
    sender_mac=eui64,
    secured=st.integers(0, 1),
    data=payloads,
    binary=st.booleans(),
    lqi=st.integers(0, 0xFF),
    sa2=st.booleans(),
    side=st.integers(0, 1),
    cuts=st.lists(st.integers(0, 1200), max_size=12),
)
def test_erxudp_parses_back(name, sender, dest, rport, lport, sender_mac, secured, data, binary, lqi, sa2, side, cuts):
    profile = get_profile(name)
    binary = binary and profile.rohm  # only ROHM firmware has the binary mode (WOPT 00)
    side = side if profile.dual_stack else 0
    line = profile.erxudp(
        sender=sender,
        dest=dest,
        rport=rport,
        lport=lport,
        sender_mac=sender_mac,
        secured=secured,
        data=data,
        binary=binary,
        lqi=lqi,
        sa2=sa2,
        side=side,
    )
    has_lqi = profile.dual_stack and profile.sa2_layout and sa2
    assert parse(name, line, cuts) == [
        RxUdp(
            sender=sender,
            dest=dest,
            rport=rport,
            lport=lport,
            sender_lla=sender_mac,
            secured=secured,
            data=data,
            side=side if profile.dual_stack else None,
            lqi=lqi if has_lqi else None,
            binary=binary,
        )
    ]


@pytest.mark.parametrize(
    "name, binary",
    [(name, binary) for name in NAMES for binary in (False, True) if get_profile(name).rohm or not binary],
)
@pytest.mark.parametrize("sa2", [False, True])
def test_erxudp_with_every_line_end_byte_in_the_data(name: str, sa2: bool, binary: bool) -> None:
    """A fixed worst case: data full of CR, LF and hex-looking bytes, fed byte by byte
    (binary only on ROHM firmware: Tessera sticks have no WOPT)."""
    profile = get_profile(name)
    data = b"\r\n\r\n0D0A\rERXUDP \n\x00\xff"
    sender = ll64("001C640003DD8257")
    line = profile.erxudp(
        sender=sender,
        dest=profile.address,
        rport=0x0E1A,
        lport=0x0E1A,
        sender_mac="001C640003DD8257",
        secured=1,
        data=data,
        binary=binary,
        lqi=0xC4,
        sa2=sa2,
    )
    (rx,) = parse(name, line, list(range(len(line))))
    assert isinstance(rx, RxUdp) and rx.data == data and rx.sender == sender and rx.binary == binary


# -- EVENT -------------------------------------------------------------------------------------


@EXAMPLES
@given(
    name=st.sampled_from(NAMES),
    num=event_numbers,
    sender=addresses,
    param=st.one_of(st.none(), st.integers(0, 0xFF)),
    side=st.integers(0, 1),
    cuts=st.lists(st.integers(0, 80), max_size=8),
)
def test_event_parses_back(name, num, sender, param, side, cuts):
    profile = get_profile(name)
    side = side if profile.dual_stack else 0
    line = profile.event(num, sender, param, side=side)
    addressed = num != 0xC0  # EVENT C0 (wake-up) carries no address and no SIDE
    assert parse(name, line, cuts) == [
        Event(
            num=num,
            sender=sender if addressed else None,
            side=side if profile.dual_stack and addressed else None,
            param=param,
        )
    ]


# -- EPANDESC ----------------------------------------------------------------------------------


@EXAMPLES
@given(
    name=st.sampled_from(NAMES),
    channel=st.integers(0x21, 0x3C),
    pan_id=st.integers(0, 0xFFFF),
    addr=eui64,
    lqi=st.integers(0, 0xFF),
    pair_id=st.one_of(st.none(), pair_ids),
    side=st.integers(0, 1),
    followed=st.booleans(),
    cuts=st.lists(st.integers(0, 250), max_size=10),
)
def test_epandesc_parses_back(name, channel, pan_id, addr, lqi, pair_id, side, followed, cuts):
    """``EVENT 20`` + ``EPANDESC`` as a scan prints them (mode 2 with PairID, mode 3 without),
    then either the end of the scan (``EVENT 22``) or the end of the input."""
    profile = get_profile(name)
    side = side if profile.dual_stack else 0
    own = profile.address
    data = profile.event(0x20, own) + profile.epandesc(channel, pan_id, addr, lqi, pair_id, side=side)
    if followed:
        data += profile.event(0x22, own)
    events = parse(name, data, cuts)
    ds_side = 0 if profile.dual_stack else None
    expected = [
        Event(0x20, own, ds_side),
        PanDesc(
            channel=channel,
            channel_page=0x09,
            pan_id=pan_id,
            addr=addr,
            lqi=lqi,
            side=side if profile.dual_stack else None,
            pair_id=pair_id,
        ),
    ]
    if followed:
        expected.append(Event(0x22, own, ds_side))
    assert events == expected  # PanDesc equality includes pair_id (only its repr hides it)


# -- EINFO -------------------------------------------------------------------------------------


@EXAMPLES
@given(
    name=st.sampled_from(NAMES),
    channel=st.integers(0x21, 0x3C),
    pan_id=st.integers(0, 0xFFFF),
    cuts=st.lists(st.integers(0, 80), max_size=8),
)
def test_einfo_parses_back(name, channel, pan_id, cuts):
    profile = get_profile(name)
    assert parse(name, profile.einfo(channel, pan_id), cuts) == [
        EInfo(
            ipaddr=profile.address,
            addr64=profile.mac,
            channel=channel,
            pan_id=pan_id,
            fifth="0" if profile.dual_stack else "FFFE",
        )
    ]


# -- other answers ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_sktable_and_product_answers_parse_back(name: str) -> None:
    """``SKTABLE E`` (with the BP35A1 second partial list) and the CR-only ROHM answers."""
    profile = get_profile(name)
    data = profile.eport() + b"OK\r\n" + b"OK 01" + profile.product_end() + b"OK" + profile.product_end()
    assert parse(name, data, list(range(len(data)))) == [EPort((3610, 716, 0, 0, 0, 0)), Ok(), Ok("01"), Ok()]
