"""The momonga baseline for bench/versus.py: what a careful user writes with momonga's public API.

Like Home Assistant's B-route integration: open a ``momonga.Momonga`` session (momonga's
defaults: scan/join retries 3, request timeout 12 s x 12 retransmissions, 5 s pause between
requests), read ``get_instantaneous_power()`` every 10 s on the wall-clock 10 s grid, and on
any momonga error (or OSError from the port) close the session and open a new one after a
capped backoff (5, 10, 20, 40, 60, 60, ... s; reset after a successful open). SIGTERM closes
the session (SKTERM) and exits.

Each reading is one JSON line on ``--out``: ``{"t0": request start, "t1": answer, "w": watts}``;
opens and errors are lines with ``"event"``. Credentials from BROUTE_ID / BROUTE_PASSWORD.

Usage: python bench/momonga_baseline.py DEVICE --out FILE.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import time

import momonga

CYCLE_S = 10.0
BACKOFF_S = (5.0, 10.0, 20.0, 40.0, 60.0)  # then 60 s for ever


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("device")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    rbid, pwd = os.environ["BROUTE_ID"], os.environ["BROUTE_PASSWORD"]

    def _stop(_sig, _frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _stop)
    out = open(args.out, "a", buffering=1, encoding="utf-8")  # noqa: SIM115

    def log(**kw) -> None:
        out.write(json.dumps({"at": time.time(), **kw}) + "\n")

    mo: momonga.Momonga | None = None
    failures = 0

    def give_up(event: str, exc: BaseException) -> None:
        """Log the error, close the session, wait out the capped back-off."""
        nonlocal mo, failures
        log(event=event, error=f"{type(exc).__name__}: {exc}")
        try:
            mo.close()
        except (momonga.MomongaError, OSError):
            pass
        mo = None
        time.sleep(BACKOFF_S[min(failures, len(BACKOFF_S) - 1)])
        failures += 1

    try:
        while True:
            if mo is None:
                mo = momonga.Momonga(rbid, pwd, args.device)
                try:
                    mo.open()
                    failures = 0
                    log(event="open")
                except (momonga.MomongaError, OSError) as exc:
                    give_up("open-error", exc)
                    continue
            time.sleep(max(0.0, math.ceil(time.time() / CYCLE_S) * CYCLE_S - time.time()))
            t0 = time.time()
            try:
                w = mo.get_instantaneous_power()
            except (momonga.MomongaError, OSError) as exc:
                give_up("error", exc)
                continue
            out.write(json.dumps({"t0": t0, "t1": time.time(), "w": w}) + "\n")
    finally:
        if mo is not None:
            try:
                mo.close()
            except (momonga.MomongaError, OSError):
                pass
        out.close()


if __name__ == "__main__":
    sys.exit(main())
