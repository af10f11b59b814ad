"""Is the logger healthy? A check of the heartbeat file for the container healthcheck.

The runner rewrites ``health.heartbeat_file`` (default ``<state_dir>/heartbeat``) whenever it
records readings, as one line ``"<unix time> <stale-after seconds>"``. The logger is healthy
while that time is less than *stale-after* seconds old (``health.stale_after_cycles`` times
the shortest schedule cycle: 60 s by default).

Usage (exit code 0 healthy, 1 not, one line on stdout saying why)::

    python -m logger.health /state/heartbeat
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

#: Used when the file carries no stale-after field (an older format).
DEFAULT_STALE_AFTER_S = 60.0


def check(path: str | Path, now: float | None = None) -> tuple[bool, str]:
    """``(ok, message)`` for the heartbeat file at ``path`` at time ``now`` (default: the real time)."""
    now = time.time() if now is None else now
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return False, f"no heartbeat file {path} yet: the logger has recorded nothing (still joining the meter?)"
    except OSError as exc:
        return False, f"cannot read the heartbeat file {path}: {exc}"
    fields = text.split()
    try:
        beat = float(fields[0])
        stale_after = float(fields[1]) if len(fields) > 1 else DEFAULT_STALE_AFTER_S
    except (IndexError, ValueError):
        try:
            beat, stale_after = path.stat().st_mtime, DEFAULT_STALE_AFTER_S
        except OSError as exc:
            return False, f"cannot read the heartbeat file {path}: {exc}"
    age = now - beat
    if age < stale_after:
        return True, f"ok: last reading recorded {max(age, 0.0):.0f} s ago"
    return False, (
        f"stale: no reading recorded for {age:.0f} s (limit {stale_after:.0f} s); "
        "see the logger's log (docker compose logs logger)"
    )


def serve(address: str, path: str | Path):
    """``health.http``: ``GET /healthz`` answers 200 or 503 with the :func:`check` message as JSON;
    anything else is 404. Served by the live page's server (:class:`logger.web.server.WebServer`:
    one HTTP server in the logger, its threads daemons; ``http.server`` would cost ~6 MB).
    Returns it started (``stop()`` ends it)."""
    from logger.web.server import WebServer

    server = WebServer(address, heartbeat=path)
    server.start()
    return server


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m logger.health HEARTBEAT_FILE", file=sys.stderr)
        return 2
    ok, message = check(args[0])
    print(message)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
