"""Property tests: the parser never raises, any split gives the same events, memory stays bounded."""

import ast

import pytest
from datafiles import captured_entries
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logger.skstack.dialects import DIALECTS, get_dialect
from logger.skstack.events import Unknown
from logger.skstack.parser import MAX_LINE, SkParser

METER = "FE80:0000:0000:0000:021C:6400:03DD:6393"


def _fixture_chunks() -> list[bytes]:
    chunks = [
        b"ROPT\rOK 00\r",
        b"EPORT\r\n3610\r\n716\r\n\r\n3610\r\nOK\r\n",
        f"ERXUDP {METER} {METER} 0E1A 0E1A 001C640003DD6393 1 0 0004 ".encode() + b"\r\n\r\n\r\n",
        f"ERXUDP {METER} {METER} 0E1A 0E1A 001C640003DD6393 C4 1 0 0002 1081\r\n".encode(),
    ]
    for entry in captured_entries():
        raw = entry["raw"]
        if isinstance(raw, str) and raw.startswith("b'"):
            chunks.append(ast.literal_eval(raw))
        else:
            chunks += [line.encode() + b"\r\n" for line in (raw if isinstance(raw, list) else [raw])]
    return chunks


CHUNKS = _fixture_chunks()
dialects = st.sampled_from([None, *DIALECTS])


@st.composite
def mutated(draw) -> bytes:
    """Fixture lines glued together, with bytes flipped, cut, duplicated or inserted."""
    data = bytearray(b"".join(draw(st.lists(st.sampled_from(CHUNKS), min_size=1, max_size=8))))
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "dup"]))
        i = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[i] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[i : i + draw(st.integers(1, 40))]
        elif op == "insert":
            data[i:i] = draw(st.sampled_from([b"\r", b"\n", b" ", b"\r\n", b"ERXUDP ", b"EVENT ", b"\xff", b"  "]))
        else:
            data[i:i] = data[i : i + draw(st.integers(1, 60))]
    return bytes(data)


def run(data: bytes, cuts: list[int], dialect: str | None):
    """Parse in one go and in pieces; both must agree and never raise."""
    d = get_dialect(dialect) if dialect else None
    whole = SkParser(d)
    bulk = whole.feed(data) + whole.flush()
    pieces = SkParser(d)
    split, last = [], 0
    for cut in sorted(set(cuts)):
        split += pieces.feed(data[last:cut])
        assert len(pieces._buf) <= 2 * MAX_LINE + 4096  # bounded whatever the input
        last = cut
    split += pieces.feed(data[last:]) + pieces.flush()
    assert split == bulk
    assert whole.dropped == sum(isinstance(e, Unknown) for e in bulk) == pieces.dropped
    for e in bulk:
        repr(e)
    return bulk


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=600), cuts=st.lists(st.integers(0, 600), max_size=12), dialect=dialects)
def test_random_bytes_never_raise(data, cuts, dialect):
    run(data, cuts, dialect)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated(), cuts=st.lists(st.integers(0, 3000), max_size=20), dialect=dialects)
def test_mutated_fixture_lines_never_raise(data, cuts, dialect):
    run(data, cuts, dialect)


@settings(max_examples=60, deadline=None)
@given(data=mutated(), dialect=dialects)
def test_byte_by_byte_equals_bulk(data, dialect):
    run(data, list(range(len(data))), dialect)


@pytest.mark.slow
@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated(), cuts=st.lists(st.integers(0, 3000), max_size=40), dialect=dialects)
def test_mutations_soak(data, cuts, dialect):
    run(data, cuts, dialect)
