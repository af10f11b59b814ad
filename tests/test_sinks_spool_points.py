from datetime import datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from logger.readings import Reading
from logger.sinks.points import escape_tag, float_text, tag_set, to_line
from logger.sinks.spool import Spool

TOKYO = ZoneInfo("Asia/Tokyo")


# ---------------------------------------------------------------- points

POINTS = [
    (Reading(datetime(2026, 11, 22, 10, 30, tzinfo=TOKYO), "smartmeter", "E7", "", Decimal("1962")),
     "smartmeter,epc=E7,unitid=smartmeter value=1962.0 1795311000000"),
    (Reading(datetime(2026, 11, 22, 10, 30, tzinfo=TOKYO), "smartmeter", "E8", "R", Decimal("12.5")),
     "smartmeter,dataid=R,epc=E8,unitid=smartmeter value=12.5 1795311000000"),
    (Reading(datetime(2026, 11, 22, 1, 30, 0, 123999, tzinfo=timezone.utc), "smart meter,1", "EC", "normal",
             Decimal("-3871.2")),
     "smartmeter,dataid=normal,epc=EC,unitid=smart\\ meter\\,1 value=-3871.2 1795311000123"),
    (Reading(datetime(2026, 11, 22, 10, 30, tzinfo=TOKYO), "a=b\\c", "E0", "", Decimal("1")),
     "smartmeter,epc=E0,unitid=a\\=b\\\\c value=1.0 1795311000000"),
    (Reading(datetime(2026, 11, 22, 10, 30, tzinfo=TOKYO), "u", "E0", "", Decimal("0.0001")),
     "smartmeter,epc=E0,unitid=u value=0.0001 1795311000000"),
]


@pytest.mark.parametrize("reading,line", POINTS)
def test_point_lines_exactly(reading, line):
    assert to_line(reading) == line


def test_values_are_always_floats():
    assert float_text(1) == "1.0" and float_text(0) == "0.0" and float_text(-5) == "-5.0"
    assert float_text(1e16) == "1e+16"
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError):
            float_text(bad)


def test_tag_rules():
    assert escape_tag("a b,c=d") == "a\\ b\\,c\\=d"
    assert tag_set("u", "E7", "") == "smartmeter,epc=E7,unitid=u"
    with pytest.raises(ValueError):
        escape_tag("a\nb")
    with pytest.raises(ValueError):
        tag_set("", "E7", "")


def test_naive_timestamp_rejected():
    with pytest.raises(ValueError):
        to_line(Reading(datetime(2026, 1, 1), "u", "E7", "", Decimal(1)))


# ---------------------------------------------------------------- spool


def drain(spool: Spool, n: int = 1000) -> list[str]:
    out = []
    while True:
        batch = spool.peek(n)
        if not batch.lines:
            return out
        out.extend(batch.lines)
        spool.commit(batch.end)


def test_order_kept_across_reopen_and_segments(tmp_path):
    spool = Spool(tmp_path, segment_bytes=64)
    for i in range(50):
        spool.append([f"p{i} value=1.0 {i}"])
    batch = spool.peek(7)
    assert batch.lines == [f"p{i} value=1.0 {i}" for i in range(7)]
    spool.commit(batch.end)
    spool.close()
    assert len(list(tmp_path.glob("*.lp"))) > 2

    spool = Spool(tmp_path, segment_bytes=64)
    assert spool.pending_bytes > 0
    spool.append(["late value=1.0 99"])
    got = drain(spool, 5)
    assert got == [f"p{i} value=1.0 {i}" for i in range(7, 50)] + ["late value=1.0 99"]
    assert spool.pending_bytes == 0
    spool.close()
    assert len(list(tmp_path.glob("*.lp"))) <= 2  # delivered segments are deleted
    spool = Spool(tmp_path, segment_bytes=64)
    assert spool.peek(10).lines == [] and spool.pending_bytes == 0


def test_crash_between_send_and_commit_resends_but_never_loses(tmp_path):
    spool = Spool(tmp_path)
    spool.append(["a value=1.0 1", "b value=1.0 2"])
    spool.append(["c value=1.0 3"])
    first = spool.peek(2)
    assert first.lines == ["a value=1.0 1", "b value=1.0 2"]
    # "sent" but the process dies before commit
    spool.close()
    spool = Spool(tmp_path)
    assert drain(spool) == ["a value=1.0 1", "b value=1.0 2", "c value=1.0 3"]
    spool.close()


def test_partial_append_is_cut_on_open(tmp_path):
    spool = Spool(tmp_path)
    spool.append(["a value=1.0 1"])
    spool.close()
    (seg,) = tmp_path.glob("*.lp")
    with open(seg, "ab") as fh:
        fh.write(b"b value=1.")  # crash mid-append
    spool = Spool(tmp_path)
    spool.append(["c value=1.0 3"])
    assert drain(spool) == ["a value=1.0 1", "c value=1.0 3"]
    spool.close()


def test_failed_delivery_keeps_lines(tmp_path):
    spool = Spool(tmp_path)
    spool.append(["a value=1.0 1"])
    assert spool.peek(10).lines == ["a value=1.0 1"]
    # no commit: the next peek returns the same lines
    assert spool.peek(10).lines == ["a value=1.0 1"]
    spool.close()


def test_committed_file_is_replaced_atomically(tmp_path):
    spool = Spool(tmp_path)
    spool.append(["a value=1.0 1", "b value=1.0 2"])
    batch = spool.peek(1)
    spool.commit(batch.end)
    assert (tmp_path / "committed").read_text().split() == [str(batch.end.segment), str(batch.end.offset)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["000000000001.lp", "committed"]  # no temporary left
    spool.close()


def test_temporaries_of_a_commit_killed_midway_are_removed_on_open(tmp_path):
    spool = Spool(tmp_path)
    spool.append(["a value=1.0 1", "b value=1.0 2"])
    spool.commit(spool.peek(1).end)
    spool.close()
    (tmp_path / ".committed.4242.7.tmp").write_text("1 999\n")  # SIGKILL between write and rename
    spool = Spool(tmp_path)
    assert drain(spool) == ["b value=1.0 2"]  # the old committed position stands
    spool.close()
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*"))


def test_pending_lines_counts_what_is_not_committed_across_segments(tmp_path):
    spool = Spool(tmp_path, segment_bytes=64)
    for i in range(30):
        spool.append([f"p{i} value=1.0 {i}"])
    assert spool.pending_lines() == 30
    spool.commit(spool.peek(11).end)
    assert spool.pending_lines() == 19
    spool.close()
    spool = Spool(tmp_path, segment_bytes=64)
    assert spool.pending_lines() == 19
    drain(spool, 4)
    assert spool.pending_lines() == 0
    spool.close()


def test_newline_in_line_rejected(tmp_path):
    spool = Spool(tmp_path)
    with pytest.raises(ValueError):
        spool.append(["a\nb"])
    spool.close()
