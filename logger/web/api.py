"""What the page's API answers: plain dicts (JSON) made of readings and status, nothing else.

No setting, credential, token, address or PairID is ever put in an answer: only values from
the CSV files and the live readings, the session's phase, the meter's signal strength and
the unit price (a number the user chose to show as cost).
"""

from __future__ import annotations

import time
from datetime import date, timedelta

from logger.readings import Reading
from logger.runner import PHASE_TEXT
from logger.session import Phase
from logger.skstack.events import lqi_to_dbm
from logger.summary_periods import local_midnight
from logger.timeconv import from_posix
from logger.web.feed import LiveFeed
from logger.web.history import LATEST_EPCS, History, as_float

#: the phase as the page names it (its labels, Japanese and English, are in static/app.js)
STATES = {
    Phase.IDLE: "starting",
    Phase.SETUP: "connecting",
    Phase.CONNECTING: "scanning",
    Phase.RUN: "connected",
    Phase.RECOVER: "recovering",
    Phase.STOPPING: "stopping",
    Phase.CLOSED: "no_dongle",
    Phase.STOPPED: "stopped",
    Phase.FAILED: "failed",
}
#: address -> the query parameters it takes
API_PATHS = {"/api/status": (), "/api/power": ("day",), "/api/energy": (), "/api/events": ()}


class BadRequest(ValueError):
    """A query the API does not take: the message names the parameter and what it takes."""


def check_params(params: list[tuple[str, str]], allowed: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in params:
        if name not in allowed:
            takes = f"it takes {', '.join(allowed)}" if allowed else "it takes none"
            raise BadRequest(f"unknown parameter {name[:40]!r} ({takes})")
        if name in out:
            raise BadRequest(f"parameter {name!r} given twice")
        out[name] = value
    return out


class Api:
    def __init__(self, feed: LiveFeed, history: History, clock=time.time) -> None:
        self.feed = feed
        self.history = history
        self.clock = clock

    def day(self, text: str | None) -> date:
        """``day`` = today (default), yesterday, or either as YYYY-MM-DD (the meter's time zone)."""
        today = self.history.today(self.clock())
        choices = {"today": today, "yesterday": today - timedelta(days=1)}
        if text is None or text in choices:
            return choices[text or "today"]
        for d in choices.values():
            if text == d.isoformat():
                return d
        raise BadRequest(f"parameter 'day' must be today, yesterday, {choices['yesterday'].isoformat()} or "
                         f"{today.isoformat()} (got {text[:40]!r})")

    # ------------------------------------------------------------------ answers

    def status(self) -> dict:
        now = self.clock()
        values = self.history.latest(self.history.today(now))
        for key, r in self.feed.latest().items():
            t = csv_time(r)
            if key[0] in LATEST_EPCS and (key not in values or t >= values[key][0]):
                values[key] = (t, r.value)
        session = self.feed.session
        phase = getattr(session, "phase", None)
        link = getattr(session, "link", None)
        lqi = getattr(link, "meter_lqi", None)

        def num(epc: str, dataid: str = "") -> float | None:
            v = values.get((epc, dataid))
            return None if v is None else float(v[1])

        def at(*keys: tuple[str, str]) -> float | None:
            times = [values[k][0] for k in keys if k in values]
            return max(times) if times else None

        return {
            "now": now,
            "timezone": str(self.history.tz),
            "state": STATES.get(phase, "starting"),
            "state_text": PHASE_TEXT.get(phase, "starting"),
            "last_reading": at(*values),
            "power_w": num("E7"),
            "power_at": at(("E7", "")),
            "current_r_a": num("E8", "R"),
            "current_t_a": num("E8", "T"),
            "current_at": at(("E8", "R"), ("E8", "T")),
            "bought_kwh": num("E0"),
            "sold_kwh": num("E3"),
            "energy_at": at(("E0", ""), ("E3", "")),
            "lqi": lqi,
            "rssi_dbm": None if lqi is None else round(lqi_to_dbm(lqi), 1),
            "signal_at": getattr(link, "meter_lqi_at", None) if lqi is not None else None,
            "price_jpy_per_kwh": as_float(self.history.price),
            "csv": self.history.directory is not None,
        }

    def power(self, params: dict[str, str]) -> dict:
        day = self.day(params.get("day"))
        t, w = self.history.power(day)
        start, end = (local_midnight(d, self.history.tz).timestamp() for d in (day, day + timedelta(days=1)))
        return {"day": day.isoformat(), "start": start, "end": end, "t": t, "w": w}

    def energy(self) -> dict:
        now = from_posix(self.clock(), self.history.tz)
        return {"price_jpy_per_kwh": as_float(self.history.price), "days": self.history.energy(now)}


def csv_time(r: Reading) -> float:
    """POSIX seconds of the reading as its CSV row has it (milliseconds, cut like format_timestamp)."""
    ts = r.timestamp
    return ts.replace(microsecond=ts.microsecond // 1000 * 1000).timestamp()


def reading_json(r: Reading) -> dict:
    return {"t": csv_time(r), "epc": r.epc, "dataid": r.dataid, "value": float(r.value)}

