"""InfluxSink behaviour with no InfluxDB at all (a closed local port): nothing is mocked."""

import logging
import socket
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from logger.clock import VirtualClock
from logger.config import InfluxSettings
from logger.readings import Reading
from logger.secrets import Secret
from logger.sinks.influx_sink import InfluxSink, InfluxWriteError, check_write_access

TOKEN = "offline-test-token-XYZ123"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def settings(url: str) -> InfluxSettings:
    return InfluxSettings(enabled=True, url=url, token=Secret(TOKEN), org="home", bucket="power", batch_size=2,
                          flush_interval_s=5, spool_dir=Path("unused"))


def readings(n: int) -> list[Reading]:
    t = datetime(2026, 11, 22, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    return [Reading(t.replace(second=i), "smartmeter", "E7", "", Decimal(i)) for i in range(n)]


def test_unreachable_influxdb_keeps_points_spooled_with_backoff(tmp_path, caplog):
    clock = VirtualClock(1_800_000_000.0)
    sink = InfluxSink(settings(f"http://127.0.0.1:{closed_port()}"), tmp_path / "spool", clock)
    sink.write(readings(3))
    before = sink.pending_bytes
    assert before > 0
    with caplog.at_level(logging.ERROR):
        sink.pump(clock.time())
        sink.pump(clock.time() + 0.5)  # inside the backoff: no new attempt, no new log line
        clock.advance(2)
        sink.pump(clock.time())  # retried, same failure, not logged again
    assert sink.pending_bytes == before
    assert caplog.text.count("unreachable") == 1
    assert TOKEN not in caplog.text
    sink.close(timeout_s=0)
    # the spool survives a restart
    again = InfluxSink(settings(f"http://127.0.0.1:{closed_port()}"), tmp_path / "spool", clock)
    assert again.pending_bytes == before
    again.close(timeout_s=0)


def test_check_write_access_unreachable_names_the_fix():
    with pytest.raises(InfluxWriteError) as info:
        check_write_access(f"http://127.0.0.1:{closed_port()}", TOKEN, "home", "power", timeout_s=2)
    assert "INFLUXDB_URL" in str(info.value) and TOKEN not in str(info.value)


def test_sinks_and_config_do_not_import_influxdb_client():
    code = ("import sys, logger.config, logger.cli, logger.sinks.csv_sink, logger.sinks.spool, logger.sinks.points;"
            "import logger.commands.importer;"
            "print('influxdb_client' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_default_flush_interval_is_one_second(tmp_path):
    """Reading -> queryable within 2 s (docs/benchmarks.md, figure 6) needs requests up to once a second."""
    from logger.config import load_settings

    empty = tmp_path / "settings.yml"
    empty.write_text("{}\n")
    shipped = Path(__file__).resolve().parents[1] / "config" / "settings.yml"
    for path in (shipped, empty):
        assert load_settings(path, env={}, dotenv=None, check_dirs=False).influxdb.flush_interval_s == 1


def test_close_on_a_black_holed_influxdb_keeps_to_its_time_and_keeps_the_points(tmp_path, caplog):
    """An InfluxDB that accepts the connection and never answers: the final delivery stops at
    ``timeout_s`` (a ``docker stop`` must not run into SIGKILL) and every point stays spooled."""
    import time

    from logger.clock import RealClock
    from logger.sinks.spool import Spool

    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(16)  # the kernel completes the handshake; nobody ever reads or answers
        url = f"http://127.0.0.1:{hole.getsockname()[1]}"
        sink = InfluxSink(settings(url), tmp_path / "spool", RealClock())
        sink.write(readings(5))
        started = time.monotonic()
        with caplog.at_level(logging.INFO, logger="logger.sinks.influx_sink"):
            sink.close(timeout_s=1.5)
        took = time.monotonic() - started
    assert took < 3.0, f"close took {took:.1f} s for a 1.5 s budget"
    assert len(caplog.records) == 1  # one line says what was delivered and what was kept
    assert TOKEN not in caplog.text
    spool = Spool(tmp_path / "spool")
    assert spool.pending_lines() == 5
    spool.close()


def test_close_with_influxdb_unreachable_reports_once_and_keeps_everything(tmp_path, caplog):
    from logger.sinks.spool import Spool

    clock = VirtualClock(1_800_000_000.0)
    sink = InfluxSink(settings(f"http://127.0.0.1:{closed_port()}"), tmp_path / "spool", clock)
    sink.write(readings(4))
    sink.pump(clock.time())  # fails: logged once by the live path
    sink.write(readings(3))  # recorded after that, not sent yet
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="logger.sinks.influx_sink"):
        sink.close(timeout_s=4)
    assert len(caplog.records) == 1 and caplog.records[0].levelno == logging.WARNING
    spool = Spool(tmp_path / "spool")
    assert spool.pending_lines() == 7
    spool.close()
