"""Crash safety: SIGKILL at random moments never leaves a torn or duplicated record.

* ``run --simulate`` (the whole logger, real time, its own temporary working directory)
  is SIGKILLed at seeded random moments and restarted, mostly after its first rows of
  that run appeared. Each restart joins the simulated meter again (the simulated dongle
  dies with the process; the scan cache makes the restart skip the scan) and backfills
  the half-hour slots, so the EA/EB rows are fetched again and again. Afterwards (and a
  final clean SIGTERM stop): no partial line, no duplicated key
  (timestamp,unitid,epc,dataid), the header exactly once at the top of every file, and
  ``state/scan.json`` valid JSON after every kill.
* The InfluxDB spool: a writer process appends numbered lines and "delivers" them
  (a delivery log stands in for InfluxDB, written before ``commit`` as the sink does) and
  is SIGKILLed mid-``append``/``commit``; every line whose ``append`` returned is handed
  out again after restart, in order, each once (the only repeats are the batch that was
  delivered but not committed when the kill came, as documented in ``logger/sinks/spool.py``).
"""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from logger.readings import CSV_HEADER
from logger.sinks.spool import Spool

REPO = Path(__file__).resolve().parents[1]
HEADER_LINE = ",".join(CSV_HEADER) + "\n"


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BROUTE_", "INFLUXDB_", "SERIAL_", "CSV_",
                                                                      "STATE_", "LOGGER_"))}
    env.pop("DEBUG", None)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra or {})
    return env


def _csv_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in (root / "data").glob("*.csv"))


def _wait_for(predicate, timeout: float, proc: subprocess.Popen | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.05)
    return predicate()


def _start(root: Path, n: int) -> subprocess.Popen:
    logs = root / "logs"
    logs.mkdir(exist_ok=True)
    with open(logs / f"{n:03d}.out", "wb") as out, open(logs / f"{n:03d}.err", "wb") as err:
        return subprocess.Popen([sys.executable, "-m", "logger", "run", "--simulate"], cwd=root / "work",
                                env=_env(), stdout=out, stderr=err, start_new_session=True)


def check_csv_files(data: Path, allow_partial_tail: bool) -> dict[tuple[str, ...], str]:
    """All files well formed; returns every row key -> file. Raises AssertionError on any fault."""
    keys: dict[tuple[str, ...], str] = {}
    for path in sorted(data.glob("*.csv")):
        raw = path.read_bytes()
        if not raw:
            continue
        if not raw.endswith(b"\n"):
            assert allow_partial_tail, f"{path.name} ends in a partial line"
            raw = raw[: raw.rfind(b"\n") + 1]
        text = raw.decode("utf-8")
        assert text.startswith(HEADER_LINE), f"{path.name} does not start with the header"
        assert text.count("timestamp,unitid") == 1, f"{path.name} holds the header more than once"
        rows = list(csv.reader(text.splitlines()[1:]))
        for row in rows:
            assert len(row) == 5 and row[0][:4].isdigit() and row[4], f"{path.name}: malformed row {row}"
            key = tuple(row[:4])
            assert key not in keys, f"duplicated row {row} (in {path.name} and {keys[key]})"
            keys[key] = path.name
    return keys


def _scan_json_valid(state: Path) -> None:
    path = state / "scan.json"
    if path.exists():
        data = json.loads(path.read_bytes())  # raises on a torn file
        assert data["scan"] is None or data["scan"]["addr"]


def _kill_loop(root: Path, seed: int, kills: int, errors: list[str]) -> None:
    rng = random.Random(seed)
    work = root / "work"
    work.mkdir(parents=True)
    try:
        # first run: scans (10-20 s), joins, writes; kill after its first rows
        proc = _start(root, 0)
        assert _wait_for(lambda: _csv_bytes(work) > 200 and (work / "state" / "scan.json").exists(), 120, proc), \
            f"first run wrote nothing: {(root / 'logs' / '000.err').read_text()[-2000:]}"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        for n in range(1, kills + 1):
            before = _csv_bytes(work)
            proc = _start(root, n)
            if rng.random() < 0.25:
                time.sleep(rng.uniform(0.0, 4.5))  # anywhere in start-up / join / first reads
            else:
                grew = _wait_for(lambda b=before: _csv_bytes(work) > b, 60, proc)
                assert grew, f"restart {n} wrote no rows: {(root / 'logs' / f'{n:03d}.err').read_text()[-2000:]}"
                time.sleep(rng.uniform(0.0, 2.5))
            assert proc.poll() is None, f"restart {n} exited early: {(root / 'logs' / f'{n:03d}.err').read_text()}"
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            _scan_json_valid(work / "state")
            check_csv_files(work / "data", allow_partial_tail=True)
        # a last clean run: repairs anything the last kill left, then stops on SIGTERM
        before = _csv_bytes(work)
        proc = _start(root, kills + 1)
        assert _wait_for(lambda: _csv_bytes(work) > before, 60, proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    except BaseException as exc:  # noqa: BLE001 - reported by the main thread
        errors.append(f"{root.name}: {exc!r}")
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.mark.slow
def test_sigkill_restart_loop_keeps_csv_and_state_whole(tmp_path):
    """52 SIGKILLs (two independent working directories in parallel, 26 each, seeded)."""
    roots = [tmp_path / "a", tmp_path / "b"]
    errors: list[str] = []
    threads = [threading.Thread(target=_kill_loop, args=(root, 1000 + i, 26, errors)) for i, root in enumerate(roots)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(900)
    assert not any(t.is_alive() for t in threads), "kill loop did not finish in 15 minutes"
    assert not errors, errors
    for root in roots:
        work = root / "work"
        keys = check_csv_files(work / "data", allow_partial_tail=False)
        _scan_json_valid(work / "state")
        half_hours = [k for k in keys if k[2] in ("EA", "EB")]
        assert len(half_hours) >= 10, "no backfilled half-hour rows"  # (duplicates were checked above)
        restarts = len(list((root / "logs").glob("*.err")))
        assert restarts == 28
        # the kills really hit running loggers that had joined and recorded
        joined = sum("joined the meter" in p.read_text() for p in (root / "logs").glob("*.err"))
        assert joined >= 20
        for p in (work / "data").glob("*.csv"):
            assert os.stat(p).st_mode & 0o007 == 0


# --------------------------------------------------------------------------- spool

WRITER = textwrap.dedent(
    """
    import os, random, sys
    from logger.sinks.spool import Spool

    directory, delivered_path, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = random.Random(seed)
    spool = Spool(directory, segment_bytes=8192)
    pending = spool.peek(10**9).lines
    last = 0
    if os.path.exists(delivered_path):
        # a batch is accepted whole or not at all: drop a delivery record cut by a kill
        with open(delivered_path, "rb+") as fh:
            data = fh.read()
            fh.truncate(data.rfind(b"\\n") + 1)
        with open(delivered_path) as fh:
            for line in fh:
                if line.strip():
                    last = max(last, int(line.split()[1]))
    if pending:
        last = max(last, int(pending[-1].split()[1]))
    nxt = last + 1
    print("ready", flush=True)
    while True:
        if rng.random() < 0.5:
            k = rng.randint(1, 40)
            lines = [f"seq {i} " + "x" * rng.randint(0, 60) for i in range(nxt, nxt + k)]
            spool.append(lines)
            nxt += k
            sys.stdout.write(f"A {nxt - 1}\\n")
            sys.stdout.flush()
        else:
            batch = spool.peek(rng.randint(1, 60))
            if not batch.lines:
                continue
            with open(delivered_path, "a") as fh:  # "InfluxDB accepted these"
                fh.write("".join(line[:line.index(" ", 4)] + "\\n" for line in batch.lines))
                fh.flush()
                os.fsync(fh.fileno())
            spool.commit(batch.end)
            sys.stdout.write(f"C {batch.lines[-1].split()[1]}\\n")
            sys.stdout.flush()
    """
)


def _delivered(path: Path) -> list[int]:
    """Sequence numbers in the delivery log (whole lines only: a kill can cut the last one)."""
    if not path.exists():
        return []
    return [int(x.split()[1]) for x in path.read_text().split("\n")[:-1]]


def _seqs(lines: list[str]) -> list[int]:
    return [int(line.split()[1]) for line in lines]


@pytest.mark.slow
def test_spool_survives_sigkill_mid_append_and_commit(tmp_path):
    """120 SIGKILLs of a writer appending/committing with fsync (about 60 s)."""
    rng = random.Random(7)
    spool_dir, delivered = tmp_path / "spool", tmp_path / "delivered"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    acked_append = acked_commit = 0
    kills = 120
    for n in range(kills):
        proc = subprocess.Popen([sys.executable, str(script), str(spool_dir), str(delivered), str(n)],
                                env=_env(), stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.0, 0.25))
        os.kill(proc.pid, signal.SIGKILL)
        out = proc.stdout.read()
        proc.wait(10)
        for line in out.split("\n")[:-1]:  # whole lines only: a kill can cut the last one
            kind, _, seq = line.partition(" ")
            if kind == "A":
                acked_append = max(acked_append, int(seq))
            elif kind == "C":
                acked_commit = max(acked_commit, int(seq))
        # what a restart hands out: contiguous, in order, everything acknowledged and uncommitted
        spool = Spool(spool_dir, segment_bytes=8192)
        pending = _seqs(spool.peek(10**9).lines)
        spool.close()
        done = _delivered(delivered)
        last_done = max(done, default=0)
        if pending:
            assert pending == list(range(pending[0], pending[0] + len(pending))), f"kill {n}: gap or reorder"
            assert acked_commit < pending[0] <= last_done + 1, f"kill {n}: committed lines handed out again"
            assert pending[-1] >= acked_append, f"kill {n}: acknowledged appends lost"
        else:
            assert last_done >= acked_append, f"kill {n}: acknowledged appends lost"
    assert acked_append > 500 and acked_commit > 200  # the loop really appended and committed a lot
    # drain what is left, as the sink's next start would
    spool = Spool(spool_dir, segment_bytes=8192)
    rest = _seqs(spool.peek(10**9).lines)
    batch = spool.peek(10**9)
    spool.commit(batch.end)
    assert spool.pending_bytes == 0
    spool.close()
    done = _delivered(delivered) + rest
    # in order, each once - except a re-delivered batch (delivered, killed before commit)
    first_seen: list[int] = []
    seen: set[int] = set()
    repeats = 0
    for seq in done:
        if seq in seen:
            repeats += 1
        else:
            seen.add(seq)
            first_seen.append(seq)
    assert first_seen == list(range(1, len(first_seen) + 1))
    assert len(first_seen) >= acked_append
    assert repeats <= kills * 60  # at most one batch (<= 60 lines) per kill
    assert not [p for p in spool_dir.iterdir() if p.suffix == ".lp" and p.stat().st_size and p.stat().st_mode & 0o007]
