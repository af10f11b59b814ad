"""Stopping must always work: a SIGTERM that lands while the logger is writing a log line, or
while it waits out a long back-off for a missing dongle, still stops it promptly and cleanly.

Found in CI: the SIGTERM handler logged, the signal had interrupted a write to stderr, the log
call raised "reentrant call inside BufferedWriter" before the stop was requested, and the
logger ran on until SIGKILL. The handlers now only set flags; the loop logs and acts."""

from __future__ import annotations

import logging
import os
import signal

import pytest

from logger.app import build_app
from logger.commands.run import install_signal_handlers
from logger.config import load_settings

RBID = "0123456789ABCDEF0123456789ABCDEF"


class RecordingClock:
    """A virtual clock that remembers every sleep it was asked for."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    monotonic = time

    def sleep_until(self, deadline: float) -> None:
        self.sleeps.append(deadline - self.now)
        self.now = max(self.now, deadline)


def missing_port_app(tmp_path, clock):
    env = {"SERIAL_PORT": str(tmp_path / "ttyUSB-missing"), "BROUTE_ID": RBID, "BROUTE_PASSWORD": "SECRETPW0001",
           "CSV_DIR": str(tmp_path / "data"), "STATE_DIR": str(tmp_path / "state")}
    settings = load_settings(None, env=env, dotenv=None)
    return build_app(settings, clock=clock, max_wait_s=1.0)


@pytest.fixture
def restore_signals():
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)}
    level = logging.getLogger().level
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)
    logging.getLogger().setLevel(level)


def test_back_off_for_a_missing_port_is_slept_in_short_steps(tmp_path):
    clock = RecordingClock()
    app = missing_port_app(tmp_path, clock)
    start = clock.now
    app.runner.run(until=start + 300)  # five minutes of a missing dongle: back-off grows to 60 s
    assert app.runner._open_failures >= 6  # 1, 2, 5, 10, 30, 60 s ... reached the longest step
    assert clock.sleeps and max(clock.sleeps) <= 1.0  # yet no single sleep hides a stop request


def test_a_stop_requested_during_a_long_back_off_ends_the_loop_at_the_next_step(tmp_path):
    clock = RecordingClock()
    app = missing_port_app(tmp_path, clock)
    app.runner.run(until=clock.now + 100)  # deep into the back-off (next attempt up to 60 s away)
    stopped_at = clock.now
    app.runner.request_stop("test stop")
    app.runner.run(until=stopped_at + 600)
    assert clock.now - stopped_at <= 1.0


def test_signal_handlers_never_log_or_lock(tmp_path, monkeypatch, restore_signals):
    app = missing_port_app(tmp_path, RecordingClock())
    install_signal_handlers(app.runner)

    def no_logging_here(self, record):  # what a handler must not do: the signal may have
        raise AssertionError(f"signal handler logged {record.getMessage()!r}")  # interrupted a write

    monkeypatch.setattr(logging.Logger, "handle", no_logging_here)
    level = logging.getLogger().level
    os.kill(os.getpid(), signal.SIGUSR1)
    assert logging.getLogger().level == level  # only queued, not done inside the handler
    os.kill(os.getpid(), signal.SIGTERM)
    assert app.runner._stop and "SIGTERM received" in app.runner._stop_reason
    monkeypatch.undo()


def test_the_loop_logs_the_stop_reason_and_performs_queued_calls(tmp_path, caplog, restore_signals):
    clock = RecordingClock()
    app = missing_port_app(tmp_path, clock)
    install_signal_handlers(app.runner)
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    os.kill(os.getpid(), signal.SIGUSR1)
    os.kill(os.getpid(), signal.SIGINT)
    with caplog.at_level(logging.INFO, logger="logger"):
        app.runner.run(until=clock.now + 60)
    assert root.level == logging.DEBUG
    messages = [r.getMessage() for r in caplog.records]
    assert "log level now DEBUG (SIGUSR1)" in messages
    assert "SIGINT received: flushing and stopping" in messages
    assert clock.sleeps == []  # stopped before the first back-off sleep
