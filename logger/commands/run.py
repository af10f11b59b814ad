"""``smartmeter-logger run``: the main job (the logger container's command).

Reads settings (``config/settings.yml`` + ``.env`` + environment), talks to the dongle,
records readings in the daily CSV files and/or InfluxDB. ``--simulate`` swaps the dongle
for the built-in simulator (no hardware, no credentials needed), writing under ``./data``.
``--web HOST:PORT`` (or ``web.listen``) also serves the live page (:mod:`logger.web`).

Exit codes: 0 after SIGTERM/SIGINT (sinks flushed, PANA session ended with SKTERM unless
``session.terminate_on_stop`` is false), 2 for a
configuration error (one line naming the key and the fix).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from dataclasses import replace

from logger.config import ConfigError, WebSettings, listen_address, load_settings
from logger.logsetup import setup_logging
from logger.skstack.families import ALL_BY_NAME

log = logging.getLogger("logger")

def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="PATH", help="settings file (default: config/settings.yml if present)")
    p.add_argument("--env-file", metavar="PATH", default=".env", help="dotenv file (default: .env)")
    p.add_argument("--simulate", action="store_true",
                   help="use the built-in simulated dongle + meter instead of hardware")
    p.add_argument("--dongle", default="bp35a1",
                   choices=list(ALL_BY_NAME),
                   help="with --simulate: which dongle family to imitate (default bp35a1)")
    p.add_argument("--debug", action="store_true", help="debug logging (also DEBUG=1; SIGUSR1 toggles)")
    p.add_argument("--transcript", metavar="FILE",
                   help="append the dongle dialogue to FILE, timestamped, credentials masked, rotated at "
                        "10 MB (FILE.1 ... FILE.5); `replay FILE` turns it into rows (docs/reporting.md)")
    p.add_argument("--web", metavar="HOST:PORT",
                   help="serve the live page (power now, today's curve, half-hour kWh and cost) on HOST:PORT, "
                        "e.g. 127.0.0.1:8000, or 0.0.0.0:8000 for the home network (no login); overrides "
                        "web.listen / WEB_LISTEN (\"\" turns it off)")


def main(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config, dotenv=args.env_file)
        if args.web is not None:
            listen = listen_address("--web", args.web, "give --web HOST:PORT such as 127.0.0.1:8000")
            settings = replace(settings, web=WebSettings(listen=listen))
        if not args.simulate:
            settings.require_meter_access()
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    debug = args.debug or os.environ.get("DEBUG", "").strip().lower() in ("1", "true", "yes", "on")
    setup_logging("DEBUG" if debug else settings.logging.level, settings.secret_values())
    from logger.app import build_app

    try:
        # until the first reading: a progress line every few seconds on a terminal, rarer in a log
        every = 3.0 if sys.stderr.isatty() else 15.0
        app = build_app(settings, simulate=args.simulate, dongle=args.dongle, progress_every_s=every,
                        transcript=args.transcript, env_file=args.env_file)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2

    install_signal_handlers(app.runner)
    log.info("smartmeter-logger starting (%s)", app.describe())
    app.run()
    log.info("stopped: %d reading(s) recorded", app.runner.recorded)
    if app.runner.failure is not None:
        print(f"smartmeter-logger: stopped: {app.runner.failure}", file=sys.stderr)
        return 2
    return 0


def _toggle_debug() -> None:
    root = logging.getLogger()
    root.setLevel(logging.INFO if root.level == logging.DEBUG else logging.DEBUG)
    log.info("log level now %s (SIGUSR1)", logging.getLevelName(root.level))


def install_signal_handlers(runner) -> None:
    """SIGTERM/SIGINT stop the runner, SIGUSR1 toggles DEBUG logging.

    The handlers only set flags: a log call inside a handler can land in the middle of a
    stream write the signal interrupted ("reentrant call inside BufferedWriter"), raise before
    the stop is requested and leave the logger running until SIGKILL. The runner logs and acts
    from its own loop, within ``max_wait_s``."""

    def _stop(signum: int, _frame: object) -> None:
        runner.request_stop(f"{signal.Signals(signum).name} received: flushing and stopping")

    def _usr1(_signum: int, _frame: object) -> None:
        runner.call_soon(_toggle_debug)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGUSR1, _usr1)
