"""Parsers under fire: random and mutated dongle output and ECHONET frames never break the logger.

Two engines:

* hypothesis (random bytes, mutated frames) for shrinking when something does break;
* a seeded mutation loop over the captured fixtures (tests/data/captured.json)
  plus frames the simulated meter answers for every EPC: bit flips, byte changes,
  truncation, splicing two seeds, duplicated runs and inserted CR/LF/NUL/0xFF, and for
  the dongle parser random splits across ``feed()`` calls.

Contracts checked for every case:

* ``SkParser.feed``/``flush`` never raise, ``.dropped`` equals the number of
  :class:`Unknown` events handed out, and a good line that follows garbage (after a
  resynchronising line) still gives exactly its own events: the parser keeps reading;
* ``decode_frame`` raises nothing but :class:`FrameError`; ``meter.decode`` nothing but
  ``FrameError`` (its subclass ``PropertyError`` included); ``recording.frame_readings``
  with a ``MeterContext`` raises nothing at all (it reports problems in its result).

The million-case soak (``-m slow``): 1.02 M cases (120k dongle inputs, each with a
resync + good line, and 900k frames, about 450k of which decode and reach the property
decoders) took 166 s on the shared 2-core machine at load 2.5-3; a first sizing of 1.05 M
weighted towards the dongle parser took 285 s (sizes in :data:`SOAK_PARSER_CASES` /
:data:`SOAK_FRAME_CASES`).
"""

from __future__ import annotations

import ast
import random
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from datafiles import captured_entries
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logger.echonet import meter as em
from logger.echonet.frame import (
    ESV,
    Frame,
    FrameError,
    Property,
    decode_frame,
    get_request,
)
from logger.recording import frame_readings
from logger.skstack.dialects import DIALECTS, get_dialect
from logger.skstack.dialects.base import MAX_DATALEN
from logger.skstack.events import Event, Ok, RxUdp, Unknown
from logger.skstack.parser import SkParser

TZ = ZoneInfo("Asia/Tokyo")
TAKEN = datetime(2026, 11, 22, 10, 30, 10, tzinfo=TZ)
METER_IP = "FE80:0000:0000:0000:021C:6400:03DD:6393"
OWN_IP = "FE80:0000:0000:0000:1207:23FF:FEA0:77E3"

#: Soak sizes: 120k dongle inputs + 900k frames = 1.02 million cases.
SOAK_PARSER_CASES = 120_000
SOAK_FRAME_CASES = 900_000


# --------------------------------------------------------------------------- seed corpus


def _entries() -> list[dict]:
    return captured_entries()


def _simulated_frames() -> list[bytes]:
    """Real answers of the simulated meter for every EPC of class 0x028801 (Get_Res and Get_SNA)."""
    from logger.simulate.meter import MeterConfig, MeterSim

    start = datetime(2026, 11, 22, 10, 0, tzinfo=TZ).timestamp()
    meter = MeterSim(MeterConfig(seed=1), start)
    epcs = sorted(em.PROPERTIES)
    out = []
    for size in (1, 3, 6):
        for i in range(0, len(epcs), size):
            for frame in meter.handle(get_request(i + 1, epcs[i : i + size]), start + 5):
                out.append(frame.encode())
    # notifications as the meter pushes them (INF / INFC) with EA/EB
    ea = meter.handle(get_request(99, [0xEA, 0xEB]), start + 5)[0]
    for esv in (ESV.INF, ESV.INFC):
        out.append(Frame(1, em_meter(), 0x05FF01, esv, ea.props).encode())
    return out


def em_meter() -> int:
    from logger.echonet.frame import METER

    return METER


def _fixture_frames() -> list[bytes]:
    frames = []
    for entry in _entries():
        raw = entry["raw"]
        if entry["kind"] == "frame" and isinstance(raw, str):
            frames.append(bytes.fromhex(raw))
        lines = raw if isinstance(raw, list) else [raw]
        for line in lines:
            if isinstance(line, str) and line.startswith("ERXUDP") and " 0E1A " in line:
                data = line.split()[-1]
                try:
                    frames.append(bytes.fromhex(data))
                except ValueError:
                    pass
    return frames


def _fixture_chunks(frames: list[bytes]) -> list[bytes]:
    chunks = [
        b"ROPT\rOK 00\r",
        b"EPORT\r\n3610\r\n716\r\n\r\n3610\r\nOK\r\n",
        b"OK\r\n",
        b"FAIL ER04\r\n",
        f"EVENT 21 {METER_IP} 00\r\n".encode(),
        f"EVENT 29 {METER_IP}\r\n".encode(),
    ]
    for entry in _entries():
        raw = entry["raw"]
        if isinstance(raw, str) and raw.startswith("b'"):
            chunks.append(ast.literal_eval(raw))
        else:
            chunks.append(b"".join(line.encode() + b"\r\n" for line in (raw if isinstance(raw, list) else [raw])))
    for data in frames[:40]:
        # hex ERXUDP (single-stack layout) and binary ERXUDP (dual-stack layout) carrying real frames
        head = f"ERXUDP {METER_IP} {OWN_IP} 0E1A 0E1A 001C640003DD6393 1 "
        chunks.append(f"{head}{len(data):04X} {data.hex().upper()}\r\n".encode())
        chunks.append(f"{head}0 {len(data):04X} ".encode() + data + b"\r\n")
    return chunks


FRAMES = _fixture_frames() + _simulated_frames()
CHUNKS = _fixture_chunks(FRAMES)
PARSER_DIALECTS = [None, *DIALECTS]

#: A line any parser (any dialect) turns into exactly these events, whatever came before
#: once a resynchronising line has passed.
GOOD_LINES: list[tuple[bytes, type]] = [
    (b"OK\r\n", Ok),
    (f"EVENT 21 {METER_IP} 00\r\n".encode(), Event),
]
#: Ends whatever the garbage left open: a line, a pending binary ERXUDP body (at most
#: MAX_DATALEN bytes), an EPANDESC or EPORT block.
RESYNC = b"\r\n" + b"Z" * (MAX_DATALEN + 8) + b"\r\n"


# --------------------------------------------------------------------------- mutation


_INSERTS = [b"\r", b"\n", b"\r\n", b"\x00", b"\xff", b" ", b"ERXUDP ", b"EVENT ", b"EPANDESC\r\n", b"EPORT\r\n"]


def mutate(rng: random.Random, seeds: list[bytes], ops: int) -> bytes:
    data = bytearray(rng.choice(seeds))
    for _ in range(ops):
        op = rng.randrange(8)
        n = len(data)
        i = rng.randrange(n + 1)
        if op == 0 and n:  # bit flip
            j = rng.randrange(n)
            data[j] ^= 1 << rng.randrange(8)
        elif op == 1 and n:  # byte set
            data[rng.randrange(n)] = rng.randrange(256)
        elif op == 2:  # truncate (either end)
            if rng.random() < 0.5:
                del data[i:]
            else:
                del data[:i]
        elif op == 3:  # splice with another seed
            other = rng.choice(seeds)
            k = rng.randrange(len(other) + 1)
            data[i:] = other[k:] if rng.random() < 0.5 else other[:k]
        elif op == 4:  # insert a control byte / keyword
            data[i:i] = rng.choice(_INSERTS)
        elif op == 5:  # delete a run
            del data[i : i + rng.randint(1, 16)]
        elif op == 6:  # duplicate a run
            data[i:i] = data[i : i + rng.randint(1, 40)]
        else:  # random bytes
            data[i:i] = rng.randbytes(rng.randint(1, 8))
    return bytes(data)


def mutate_edt(rng: random.Random, seeds: list[bytes], ops: int) -> bytes:
    """Length-preserving changes behind the 12-byte header + first EPC/PDC: the frame still
    decodes, so the property decoders and ``frame_readings`` see the damage."""
    data = bytearray(rng.choice(seeds))
    if len(data) <= 14:
        return bytes(data)
    for _ in range(ops):
        j = rng.randrange(14, len(data))
        if rng.random() < 0.5:
            data[j] ^= 1 << rng.randrange(8)
        else:
            data[j] = rng.choice((0x00, 0xFF, 0xFE, 0x7F, 0x80, rng.randrange(256)))
    return bytes(data)


def feed_split(parser: SkParser, data: bytes, rng: random.Random) -> list:
    out = []
    pos = 0
    while pos < len(data):
        step = rng.choice((1, 2, 3, 7, 16, 64, 500, len(data)))
        out += parser.feed(data[pos : pos + step])
        pos += step
    return out


# --------------------------------------------------------------------------- checks


def check_parser_case(data: bytes, rng: random.Random, dialect) -> None:
    parser = SkParser(dialect)
    events = feed_split(parser, data, rng)
    assert parser.dropped == sum(isinstance(e, Unknown) for e in events)
    good, kind = GOOD_LINES[rng.randrange(len(GOOD_LINES))]
    after = parser.feed(RESYNC) + parser.feed(good)
    assert after, f"nothing parsed after garbage {data!r}"
    assert isinstance(after[-1], kind), f"good line after garbage {data!r} gave {after[-1]!r}"
    if kind is Event:
        assert after[-1].num == 0x21 and after[-1].sender == METER_IP, after[-1]
    assert parser.dropped == sum(isinstance(e, Unknown) for e in events + after)
    parser.flush()


def check_frame_case(data: bytes) -> bool:
    """True when the frame decoded (and its properties went through the decoders)."""
    try:
        frame = decode_frame(data)
    except FrameError:
        return False
    for prop in frame.props:
        try:
            em.decode(prop.epc, prop.edt)
        except FrameError:
            pass
    ctx = em.MeterContext()
    frame_readings(frame, ctx, "smartmeter", TZ, TAKEN, set())
    # a second pass with the context the first one observed (energy now scaled)
    frame_readings(frame, ctx, "smartmeter", TZ, TAKEN, {0xD3, 0xD7, 0xE1})
    return True


def run_mutation_loop(seed: int, parser_cases: int, frame_cases: int) -> dict[str, int]:
    rng = random.Random(seed)
    dialects = [get_dialect(d) if d else None for d in PARSER_DIALECTS]
    stats = {"parser": 0, "frames": 0, "decoded": 0}
    for _ in range(parser_cases):
        seeds = CHUNKS
        if rng.random() < 0.3:  # glue several chunks
            data = b"".join(mutate(rng, seeds, rng.randint(0, 4)) for _ in range(rng.randint(2, 4)))
        else:
            data = mutate(rng, seeds, rng.randint(1, 6))
        check_parser_case(data, rng, rng.choice(dialects))
        stats["parser"] += 1
    for _ in range(frame_cases):
        if rng.random() < 0.5:
            data = mutate_edt(rng, FRAMES, rng.randint(1, 4))
        else:
            data = mutate(rng, FRAMES, rng.randint(1, 4))
        stats["decoded"] += check_frame_case(data)
        stats["frames"] += 1
    return stats


# --------------------------------------------------------------------------- tests


def test_corpus_is_real():
    """The seeds decode (so mutations start from meaningful input) and the good lines parse alone."""
    assert len(FRAMES) >= 30 and len(CHUNKS) >= 60
    decoded = 0
    for data in FRAMES:
        try:
            decode_frame(data)
            decoded += 1
        except FrameError:
            pass
    assert decoded >= len(FRAMES) - 2
    for line, kind in GOOD_LINES:
        for d in PARSER_DIALECTS:
            events = SkParser(get_dialect(d) if d else None).feed(line)
            assert len(events) == 1 and isinstance(events[0], kind)


def test_binary_erxudp_seed_survives_resync_and_counts_drops():
    """A garbage line, a truncated binary ERXUDP, then good lines: dropped counts each bad unit."""
    frame = FRAMES[-1]
    head = f"ERXUDP {METER_IP} {OWN_IP} 0E1A 0E1A 001C640003DD6393 1 0 {len(frame):04X} ".encode()
    parser = SkParser(get_dialect("bp35c0"))
    events = parser.feed(b"\x00\xff garbage line\r\n")
    assert [type(e) for e in events] == [Unknown] and parser.dropped == 1
    events = parser.feed(head + frame + b"\r\n")
    assert [type(e) for e in events] == [RxUdp] and events[0].data == frame
    # a header whose data never fully arrives swallows the following bytes as its data ...
    events = parser.feed(head + frame[:5] + b"\r\n")
    assert events == []
    events = parser.feed(RESYNC + b"OK\r\n")
    # ... and the parser is back in step: the good OK line is the last event
    assert isinstance(events[-1], Ok)
    assert parser.dropped == 1 + sum(isinstance(e, Unknown) for e in events)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=400), seed=st.integers(0, 2**32), dialect=st.sampled_from(PARSER_DIALECTS))
def test_random_bytes_then_good_line(data, seed, dialect):
    check_parser_case(data, random.Random(seed), get_dialect(dialect) if dialect else None)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), ops=st.integers(1, 8), dialect=st.sampled_from(PARSER_DIALECTS))
def test_mutated_dongle_output_then_good_line(seed, ops, dialect):
    rng = random.Random(seed)
    check_parser_case(mutate(rng, CHUNKS, ops), rng, get_dialect(dialect) if dialect else None)


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=300))
def test_random_bytes_as_frames(data):
    check_frame_case(data)


@settings(max_examples=500, deadline=None)
@given(seed=st.integers(0, 2**32), ops=st.integers(1, 6))
def test_mutated_frames(seed, ops):
    check_frame_case(mutate(random.Random(seed), FRAMES, ops))


@st.composite
def meter_frames(draw) -> bytes:
    """Structurally valid frames with random properties: exercises every property decoder."""
    epcs = st.sampled_from(sorted(em.PROPERTIES)) | st.integers(0, 255)
    props = draw(st.lists(st.builds(Property, epcs, st.binary(max_size=40)), min_size=1, max_size=6))
    esv = draw(st.sampled_from([ESV.GET_RES, ESV.GET_SNA, ESV.INF, ESV.INFC]))
    return Frame(draw(st.integers(0, 0xFFFF)), em_meter(), 0x05FF01, esv, tuple(props)).encode()


@settings(max_examples=800, deadline=None)
@given(data=meter_frames())
def test_valid_frames_with_random_property_data(data):
    check_frame_case(data)


def test_mutation_loop_quick():
    stats = run_mutation_loop(seed=1, parser_cases=3_000, frame_cases=10_000)
    assert stats["parser"] == 3_000 and stats["frames"] == 10_000
    assert stats["decoded"] >= 3_000  # the property decoders really saw damaged data


@pytest.mark.slow
def test_mutation_loop_million():
    """>= 1 million seeded mutated inputs (dongle lines + frames) with zero unexpected exceptions."""
    t0 = time.monotonic()
    stats = run_mutation_loop(seed=20261122, parser_cases=SOAK_PARSER_CASES, frame_cases=SOAK_FRAME_CASES)
    assert stats["parser"] + stats["frames"] >= 1_000_000
    assert stats["decoded"] >= 300_000
    print(f"mutation soak: {stats} in {time.monotonic() - t0:.0f} s")
