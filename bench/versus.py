"""Side by side: this logger and a momonga baseline on the same simulated meter and faults, real time.

Every scenario starts two ``smartmeter-logger simulate --dongle bp35a1`` processes on a pty
with the same seed and fault script (bp35a1: a dialect both clients support; momonga talks
to a raw pty path), and one client on each, concurrently:

  * ours: ``python -m logger run`` (= ``smartmeter-logger run``), default settings (E7 every
    10 s), CSV sink and state in a temp dir, SERIAL_PORT = the pty, credentials in the env;
  * momonga: bench/momonga_baseline.py (momonga's public API, HA-style: open, E7 every 10 s,
    on an error close and reopen with capped backoff; see that file).

Faults are compressed in time (seconds after the simulator started); the scenarios run
concurrently (the processes mostly wait). Measured per client:

  * first E7: seconds from the client's start to its first E7 reading;
  * fault → E7: seconds from the fault (warm: the restart; silence: the silence's end) to the
    first E7 reading after it;
  * slots: share of the 10 s wall-clock slots from WARMUP_S after the start to the end (minus
    the silence) holding an E7 reading;
  * wrong: E7 readings whose value is not the meter's power (MeterSim with the same seed) at any
    instant from 2 s before to 0.5 s after the reading's timestamp (ours: the CSV timestamp;
    momonga: when get_instantaneous_power() returned);
  * CPU share (utime+stime / wall) and peak RSS (VmHWM) of the client process(es), from /proc.

Usage: python bench/versus.py [--scenarios cold,warm,...] [--repeats 1] [--out FILE]
       python bench/versus.py --scenarios cold --seconds 75 --warmup 0   (smoke)
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO, Row, summary, write_result

from logger.simulate.dongle import DEMO_PASSWORD, DEMO_RBID
from logger.simulate.load import STEP_S
from logger.simulate.meter import MeterConfig, MeterSim

CMD = "python bench/versus.py"
DIALECT = "bp35a1"
WARMUP_S = 90.0  # slots are counted from this long after the start (cold start allowance)
CLK = os.sysconf("SC_CLK_TCK")

#: name → (simulator args, fault at (s after start) or None, kind, run length s)
SCENARIOS: dict[str, tuple[list[str], float | None, str, float]] = {
    "cold": ([], None, "cold start (no cache)", 240.0),
    "warm": ([], 150.0, "warm restart (SIGTERM, start again; ours keeps its state dir)", 300.0),
    "drop": (["--fault", "150:drop"], 150.0, "meter ends the session (EVENT 26/27)", 300.0),
    "reauth": (["--session-lifetime", "120"], None, "PANA re-authentication (EVENT 29; session lifetime 120 s)",
               300.0),
    "silence": (["--fault", "120:silence:120"], 240.0, "two minutes of meter silence (fault → E7 from its end)",
                360.0),
    "reset": (["--fault", "150:reset"], 150.0, "dongle reset (power cycle)", 300.0),
    "loss": (["--loss", "1"], None, "1 % frame loss each way", 300.0),
    "apartment": (["--neighbours", "3"], None, "apartment block: three louder neighbours", 300.0),
}
SILENCE = {"silence": (120.0, 120.0)}


class Sampler(threading.Thread):
    """Samples CPU ticks and VmHWM of every pid it is given, once a second (the last sample wins)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.pids: dict[int, tuple[float, int]] = {}
        self.stop = threading.Event()

    def add(self, pid: int) -> None:
        self.pids.setdefault(pid, (0.0, 0))

    def sample(self) -> None:
        for pid in list(self.pids):
            try:
                stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                cpu = (int(stat[11]) + int(stat[12])) / CLK
                hwm = next(int(ln.split()[1]) for ln in Path(f"/proc/{pid}/status").read_text().splitlines()
                           if ln.startswith("VmHWM"))
            except (OSError, StopIteration, IndexError, ValueError):
                continue
            self.pids[pid] = (cpu, hwm)

    def run(self) -> None:
        while not self.stop.wait(1.0):
            self.sample()


def start_sim(tmp: Path, seed: int, extra: list[str]) -> tuple[subprocess.Popen, str, float]:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp), "LANG": "C.UTF-8"}
    proc = subprocess.Popen([sys.executable, "-m", "logger", "simulate", "--dongle", DIALECT, "--seed", str(seed),
                             "--env-file", str(tmp / "none.env"), *extra], cwd=tmp, env=env, stdout=subprocess.PIPE,
                            stderr=open(tmp / "sim.log", "wb"), text=True)  # noqa: SIM115
    path = proc.stdout.readline().strip()
    if not path:
        raise RuntimeError(f"simulator did not start: {(tmp / 'sim.log').read_text()}")
    return proc, path, time.time()


def start_client(who: str, tmp: Path, port: str) -> subprocess.Popen:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp), "LANG": "C.UTF-8",
           "BROUTE_ID": DEMO_RBID, "BROUTE_PASSWORD": DEMO_PASSWORD}
    log = open(tmp / f"{who}.log", "ab")  # noqa: SIM115
    if who == "ours":
        env.update({"SERIAL_PORT": port, "CSV_DIR": str(tmp / "data"), "STATE_DIR": str(tmp / "state")})
        argv = [sys.executable, "-m", "logger", "run"]
    else:
        argv = [sys.executable, str(REPO / "bench" / "momonga_baseline.py"), port, "--out", str(tmp / "momonga.jsonl")]
    return subprocess.Popen(argv, cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen, timeout: float = 8.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


#: A reading's value must be the meter's power at some instant in [stamp - LAG_S, stamp + LEAD_S]:
#: the meter answered up to ~0.5 s (latency) plus the radio hop before the client stamped it.
LAG_S, LEAD_S = 2.0, 0.5


def readings(who: str, tmp: Path) -> list[tuple[float, int]]:
    """(timestamp, watts) per E7 reading: ours the CSV timestamp, momonga's the time its
    get_instantaneous_power() returned (what a recorder calling it would stamp)."""
    out = []
    if who == "ours":
        for f in sorted((tmp / "data").glob("**/*.csv")):
            with open(f, newline="", encoding="utf-8") as fh:
                for r in csv.reader(fh):
                    if len(r) > 4 and r[2] == "E7":
                        t = datetime.fromisoformat(r[0]).timestamp()
                        out.append((t, int(r[4])))
    else:
        p = tmp / "momonga.jsonl"
        if p.is_file():
            for line in p.read_text().splitlines():
                d = json.loads(line)
                if "w" in d and d["w"] is not None:
                    out.append((d["t1"], int(d["w"])))
    return sorted(out)


def run_client(who: str, scenario: str, seed: int, root: Path, result: dict) -> None:
    extra, fault, _kind, length = SCENARIOS[scenario]
    tmp = root / f"{scenario}-{who}"
    tmp.mkdir(parents=True)
    sampler = Sampler()
    sampler.start()
    sim, port, sim_start = start_sim(tmp, seed, extra)
    clients = [start_client(who, tmp, port)]
    started = time.time()
    sampler.add(clients[0].pid)
    restart_at = None
    try:
        while time.time() < sim_start + length:
            if scenario == "warm" and restart_at is None and time.time() >= sim_start + fault:
                stop(clients[-1])
                sampler.sample()
                restart_at = time.time()
                clients.append(start_client(who, tmp, port))
                sampler.add(clients[-1].pid)
            time.sleep(0.5)
        sampler.sample()
    finally:
        for c in clients:
            stop(c)
        sampler.stop.set()
        stop(sim)
    end = sim_start + length
    rows = readings(who, tmp)
    mids = [t for t, _w in rows]
    meter = MeterSim(MeterConfig(seed=seed), sim_start)
    wrong = 0
    for t, w in rows:
        steps = range(math.floor((t - LAG_S) / STEP_S), math.floor((t + LEAD_S) / STEP_S) + 1)
        if not any(meter.model.power_at_step(k) == w for k in steps):
            wrong += 1
    first = next((m - started for m in mids), None)
    fault_at = None
    if scenario == "warm":
        fault_at = restart_at
    elif fault is not None:
        fault_at = sim_start + fault
    after = None
    if fault_at is not None:
        after = next((m - fault_at for m in mids if m > fault_at), None)
    s0 = sil_end = None
    if scenario in SILENCE:
        s0 = sim_start + SILENCE[scenario][0]
        sil_end = s0 + SILENCE[scenario][1]
    lo = math.ceil((started + result.get("warmup", WARMUP_S)) / 10)
    expected = [k for k in range(lo, math.floor(end / 10)) if s0 is None or not (s0 <= 10 * k < sil_end)]
    got = {math.floor(m / 10) for m in mids}
    gaps = [b - a for a, b in itertools.pairwise(mids)]
    cpu = sum(c for c, _h in sampler.pids.values())
    result[who] = {
        "e7": len(rows),
        "first_e7_s": first,
        "fault_to_e7_s": after if fault_at is not None else "n/a",
        "slots_expected": len(expected),
        "slots_hit": sum(1 for k in expected if k in got),
        "slot_share": (sum(1 for k in expected if k in got) / len(expected)) if expected else None,
        "wrong": wrong,
        "longest_gap_s": max(gaps) if gaps else None,
        "cpu_share": cpu / (time.time() - started),
        "peak_rss_mib": max((h for _c, h in sampler.pids.values()), default=0) / 1024,
        "log_tail": (tmp / f"{who}.log").read_text(errors="replace")[-1500:],
    }
    if who == "momonga":
        p = tmp / "momonga.jsonl"
        evs = [json.loads(x) for x in p.read_text().splitlines()] if p.is_file() else []
        result[who]["events"] = [e for e in evs if "event" in e][:20]


def one(scenario: str, seed: int, root: Path, warmup: float) -> dict:
    res: dict = {"scenario": scenario, "seed": seed, "warmup": warmup}
    threads = [threading.Thread(target=run_client, args=(who, scenario, seed, root / f"r{seed}", res))
               for who in ("ours", "momonga")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return res


def _fig(values: list, unit: str, digits: int, scale: float = 1.0) -> str:
    """median (min–max, n) of the numeric values; 'none' entries counted and shown."""
    nums = [v * scale for v in values if isinstance(v, (int, float))]
    missing = len(values) - len(nums)
    if not nums:
        return f"none in {missing} run(s)"
    s = summary(nums)
    f = f"{{:.{digits}f}}"
    txt = f"{f.format(s['median'])}{unit}" if s["n"] == 1 else (
        f"{f.format(s['median'])}{unit} ({f.format(s['min'])}–{f.format(s['max'])}, n={s['n']})")
    return txt + (f"; none in {missing} run(s)" if missing else "")


def _ratio(ours: list, theirs: list) -> str:
    a = [v for v in ours if isinstance(v, (int, float))]
    b = [v for v in theirs if isinstance(v, (int, float))]
    if not a or not b:
        return "—"
    mb = summary(b)["median"]
    return f"{summary(a)['median'] / mb:.2f}" if mb else "—"


def table(runs: list[dict], length_of: dict[str, float]) -> list[dict]:
    """One line per (scenario, figure): ours, momonga, ratio."""
    lines = []
    by: dict[str, list[dict]] = {}
    for r in runs:
        by.setdefault(r["scenario"], []).append(r)
    for sc, rs in by.items():
        ours = [r["ours"] for r in rs]
        mom = [r["momonga"] for r in rs]
        def col(key, rr=None):
            return [x.get(key) for x in (rr or [])]
        figs = [("first E7 (s from client start)", "first_e7_s", " s", 1, 1.0)]
        if SCENARIOS[sc][1] is not None:
            figs.append(("fault → next E7 (s)", "fault_to_e7_s", " s", 1, 1.0))
        figs += [("10 s slots recorded", "slot_share", " %", 1, 100.0),
                 ("longest gap between E7s (s)", "longest_gap_s", " s", 0, 1.0),
                 ("wrong E7 values", "wrong", "", 0, 1.0),
                 ("CPU share", "cpu_share", " %", 2, 100.0),
                 ("peak RSS", "peak_rss_mib", " MiB", 1, 1.0)]
        for label, key, unit, d, scale in figs:
            o, m = col(key, ours), col(key, mom)
            if key == "first_e7_s":  # a client without any E7 within the run
                nothing = f"no E7 within {length_of[sc]:.0f} s"
                ot = _fig(o, unit, d, scale) if any(v is not None for v in o) else nothing
                mt = _fig(m, unit, d, scale) if any(v is not None for v in m) else nothing
            elif key == "fault_to_e7_s":
                until = length_of[sc] - (SCENARIOS[sc][1] or 0)
                ot = _fig(o, unit, d, scale) if any(v is not None for v in o) else f"no E7 within {until:.0f} s"
                mt = _fig(m, unit, d, scale) if any(v is not None for v in m) else f"no E7 within {until:.0f} s"
            else:
                ot, mt = _fig(o, unit, d, scale), _fig(m, unit, d, scale)
            lines.append({"scenario": sc, "what": SCENARIOS[sc][2], "figure": label, "ours": ot, "momonga": mt,
                          "ratio": _ratio(o, m) if key != "wrong" else "—"})
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--repeats", type=int, default=1, help="seeds 0..N-1, each repeat concurrently with the others")
    ap.add_argument("--seconds", type=float, default=None, help="override every scenario's length (smoke)")
    ap.add_argument("--warmup", type=float, default=WARMUP_S, help="slots counted from this long after the start")
    ap.add_argument("--out", default="bench/out/versus.json")
    args = ap.parse_args()
    names = [s for s in args.scenarios.split(",") if s]
    for n in names:
        if n not in SCENARIOS:
            ap.error(f"unknown scenario {n!r}: use {', '.join(SCENARIOS)}")
    if args.seconds:
        for n in names:
            a, f, k, _l = SCENARIOS[n]
            SCENARIOS[n] = (a, f, k, args.seconds)
    root = Path(tempfile.mkdtemp(prefix="bench-versus-"))
    results: list[dict] = []
    lock = threading.Lock()

    def go(sc: str, seed: int) -> None:
        r = one(sc, seed, root, args.warmup)
        with lock:
            results.append(r)

    t0 = time.monotonic()
    threads = [threading.Thread(target=go, args=(sc, seed)) for seed in range(args.repeats) for sc in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.sort(key=lambda r: (names.index(r["scenario"]), r["seed"]))
    lines = table(results, {n: SCENARIOS[n][3] for n in names})
    cmd = f"{CMD} --scenarios {','.join(names)} --repeats {args.repeats}" + (
        f" --seconds {args.seconds:g}" if args.seconds else "")
    rows = [Row(f"side by side, {ln['scenario']}: {ln['figure']}", "info",
                f"ours {ln['ours']}; momonga {ln['momonga']}; ours/momonga {ln['ratio']}", "info", cmd)
            for ln in lines]
    details = {"runs": results, "table": lines, "dialect": DIALECT, "command": cmd, "repeats": args.repeats,
               "wall_s": time.monotonic() - t0, "scenarios": {n: SCENARIOS[n] for n in names}}
    write_result(args.out, "versus", rows, details)
    for ln in lines:
        print(f"{ln['scenario']:9} {ln['figure']:32} ours {ln['ours']:28} momonga {ln['momonga']:28} {ln['ratio']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
