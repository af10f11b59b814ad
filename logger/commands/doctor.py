"""``smartmeter-logger doctor``: check config, device, dongle, meter and InfluxDB.

One line per check, in order, ``OK``/``WARN``/``FAIL`` (or ``SKIP`` when a prerequisite
failed) + what was found + the fix::

    1 settings      load and validate (--show-config prints them, secrets masked)
    2 credentials   B-route ID/password present and well-formed (lengths only)
    3 serial port   exists, read/write for this user, not held by another program; URLs reachable
    4 dongle        answers SKSTACK-IP; dialect; ERXUDP mode; session state (EINFO)
    5 meter         active scan (unless --no-scan); --join also authenticates, then SKTERM
    6 influxdb      /health and write permission (when influxdb.enabled or --influxdb)
    7 directories   CSV and state directories writable

Exit code 0 without FAIL, 1 with a FAIL, 2 for usage or configuration errors. The
B-route ID and password and the InfluxDB token are never printed (not even with
``--show-config`` or debug logging). The checks themselves live in :mod:`logger.diagnose`.
"""

from __future__ import annotations

import argparse
import os
import sys

from logger.diagnose import (
    FAIL,
    OK,
    Check,
    check_credentials,
    check_directory,
    check_influx,
    exit_code,
    port_failed,
    port_opened,
    port_precheck,
    scrub,
    skipped,
)
from logger.typehints import TextIO


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="PATH", help="settings file (default: config/settings.yml if present)")
    p.add_argument("--env-file", metavar="PATH", default=".env", help="dotenv file (default: .env)")
    p.add_argument("--show-config", action="store_true", help="print the effective settings (secrets masked)")
    p.add_argument("--no-scan", action="store_true", help="do not scan for the meter (skips check 5)")
    p.add_argument("--join", action="store_true",
                   help="after the scan, also authenticate with the meter (SKJOIN), then end the session (SKTERM)")
    p.add_argument("--influxdb", action="store_true", help="check InfluxDB even when influxdb.enabled is false")
    p.add_argument("--timeout", type=float, default=2.0, metavar="S",
                   help="seconds to wait for each dongle answer (default 2)")
    p.add_argument("--debug", action="store_true", help="debug logging of the dongle dialogue (secrets masked)")


class Report:
    """Prints each check as it completes (secrets scrubbed) and remembers it for the exit code."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.checks: list[Check] = []
        self.secrets: list[str] = []

    def add(self, check: Check) -> Check:
        self.checks.append(check)
        print(scrub(check.line(), self.secrets), file=self.out, flush=True)
        return check

    def text(self, text: str) -> None:
        print(scrub(text, self.secrets), file=self.out, flush=True)


def _note(text: str) -> None:
    print(f"  ... {text}", file=sys.stderr, flush=True)


def main(args: argparse.Namespace) -> int:
    from logger.config import ConfigError, load_settings

    report = Report(sys.stdout)
    # 1. settings
    try:
        settings = load_settings(args.config, dotenv=args.env_file, check_dirs=False)
    except ConfigError as exc:
        report.add(Check("settings", FAIL, f"config error: {exc.key}: {exc.problem}", exc.fix, config_error=True))
        for name in ("credentials", "serial port", "dongle", "meter", "influxdb", "directories"):
            report.add(skipped(name, "settings did not load"))
        return exit_code(report.checks)
    report.secrets = settings.secret_values()
    debug = args.debug or os.environ.get("DEBUG", "").strip().lower() in ("1", "true", "yes", "on")
    from logger.logsetup import setup_logging

    setup_logging("DEBUG" if debug else "WARNING", report.secrets)
    source = str(settings.source) if settings.source else "built-in defaults"
    dotenv = f" + {args.env_file}" if args.env_file and os.path.isfile(args.env_file) else ""
    report.add(Check("settings", OK, f"loaded {source}{dotenv} + environment; valid"))
    if args.show_config:
        import yaml

        text = yaml.safe_dump(settings.redacted(), sort_keys=False, allow_unicode=True)
        report.text("  effective settings (secrets masked):")
        report.text("\n".join("    " + line for line in text.rstrip().splitlines()))

    # 2. credentials
    creds = report.add(check_credentials(settings.broute.id, settings.broute.password))

    # 3. serial port, 4./5. dongle and meter
    port = settings.serial.port
    pre = port_precheck(port)
    transport = None
    if pre is not None:
        report.add(pre)
    else:
        assert port is not None
        from logger.clock import RealClock
        from logger.transport import SerialTransport, TransportError

        clock = RealClock()
        try:
            transport = SerialTransport(port, settings.serial.baudrate, clock)
        except TransportError as exc:
            report.add(port_failed(port, exc))
        else:
            report.add(port_opened(port))
    if transport is None:
        report.add(skipped("dongle", "the serial port check failed"))
        report.add(skipped("meter", "the serial port check failed"))
    else:
        from logger.dongle_checks import DongleChecks, drive
        from logger.link.settings import LinkSettings

        link = LinkSettings.from_settings(settings, command_timeout_s=args.timeout, probe_timeout_s=args.timeout)
        dialogue = DongleChecks(link, port=port or "?", baudrate=settings.serial.baudrate, scan=not args.no_scan,
                                join=args.join, credentials_ok=creds.status is OK)
        shown = 0

        def note(text: str) -> None:
            nonlocal shown
            # print finished checks before a long wait, so the report reads in order
            while shown < len(dialogue.checks):
                report.add(dialogue.checks[shown])
                shown += 1
            _note(text)

        try:
            drive(dialogue, transport, clock, note)
        finally:
            transport.close()
        for check in dialogue.checks[shown:]:
            report.add(check)

    # 6. InfluxDB
    influx = settings.influxdb
    if influx.enabled or args.influxdb:
        for check in check_influx(influx.url, influx.token, influx.org, influx.bucket):
            report.add(check)
    else:
        report.add(skipped("influxdb", "influxdb.enabled is false (--influxdb checks it anyway)"))

    # 7. directories
    if settings.csv.enabled:
        report.add(check_directory("csv directory", "CSV_DIR", settings.csv.directory))
    else:
        report.add(skipped("csv directory", "csv.enabled is false"))
    report.add(check_directory("state directory", "STATE_DIR", settings.session.state_dir))

    code = exit_code(report.checks)
    summary = {0: "no problems found", 1: "problems found (see FAIL above)",
               2: "configuration errors found (see FAIL above)"}[code]
    print(f"doctor: {summary}", file=sys.stderr, flush=True)
    return code
