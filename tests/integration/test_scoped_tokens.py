"""The bucket-scoped tokens the deploy guide tells users to create, on the real influxd: the
writer token lets the logger's sink (and Telegraf) write its one bucket and nothing else; the
reader token can query but not write."""

from __future__ import annotations

import re
from pathlib import Path

from logger.sinks.influx_sink import InfluxWriteError, check_write_access

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"


def test_guide_documents_writer_and_reader_tokens_for_one_bucket():
    text = GUIDE.read_text()
    assert text.count("influx auth create") >= 4  # writer + reader, in Japanese and in English
    assert re.search(r"--write-bucket \"\$BUCKET_ID\"", text) and re.search(r"--read-bucket \"\$BUCKET_ID\"", text)


def test_writer_token_writes_its_bucket_only_and_reader_cannot_write(influxdb):
    ours = influxdb.create_bucket("scoped-ours")
    other = influxdb.create_bucket("scoped-other")
    writer = influxdb.create_token("smartmeter writer", [("write", ours)])
    reader = influxdb.create_token("smartmeter reader", [("read", ours)])

    check_write_access(influxdb.url, writer, influxdb.org, ours)  # raises on refusal
    for token, bucket in ((writer, other), (reader, ours)):
        try:
            check_write_access(influxdb.url, token, influxdb.org, bucket)
        except InfluxWriteError as exc:  # with the fix in its message, never the token
            assert "HTTP 403" in str(exc) and "write permission on that bucket" in str(exc)
            assert token not in str(exc)
        else:
            raise AssertionError(f"a token scoped elsewhere could write {bucket}")
