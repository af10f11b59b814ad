"""The checks behind ``smartmeter-logger doctor``, one :class:`Check` (one output line) each.

* Settings, credentials, port, InfluxDB and directory checks are plain functions that
  return :class:`Check` objects (they touch files and HTTP, never the serial port).
* The dialogue with the dongle (probe, dialect, ERXUDP mode, session, scan, join) is
  :class:`DongleDialogue`, a sans-I/O state machine written as a generator flow: it
  yields :class:`Send` (bytes to write), :class:`Wait` (the next parsed event, until a
  deadline), :class:`Note` (a progress message) and :class:`UseDialect`, and is resumed
  with each parsed SKSTACK event or a :class:`Timeout`. :func:`drive` is the only place
  that does the serial I/O (through a :class:`~logger.transport.Transport`).

Secrets (B-route ID and password, InfluxDB token) never appear in a check: only their
lengths. Commands carrying them are shown masked.
"""

from __future__ import annotations

import errno
import glob
import json
import logging
import os
import re
import tempfile
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from logger.clock import Clock
from logger.secrets import MASK, Secret
from logger.skstack import commands as cmd
from logger.skstack.detect import DetectionError, detect_dialect, erxudp_binary
from logger.skstack.dialects import get_dialect
from logger.skstack.dialects.base import Dialect
from logger.skstack.events import (
    EV_PANA_FAILED,
    EV_PANA_OK,
    EV_SCAN_DONE,
    EV_SESSION_TERM_TIMEOUT,
    EV_SESSION_TERMINATED,
    EAppVer,
    EInfo,
    Event,
    Ever,
    Fail,
    Ll64,
    Ok,
    PanDesc,
    Unknown,
    mask_command,
)

log = logging.getLogger(__name__)

OK, WARN, FAIL, SKIP = "OK", "WARN", "FAIL", "SKIP"

#: B-route channels 33..60; per-channel active-scan time is 9.6 ms x (2^duration + 1).
CHANNELS = 28
CHANNEL_TIME_S = 0.0096
#: RSSI below this (dBm) gets a WARN: the link will lose packets.
WEAK_RSSI_DBM = -90.0

DIALECT_NAMES = {
    "bp35a1": "ROHM BP35A1 family (single stack)",
    "rl7023-ips": "Tessera RL7023 Stick-D/IPS (single stack)",
    "rl7023-dss": "Tessera RL7023 Stick-D/DSS (dual stack)",
    "bp35c0": "ROHM BP35C0/BP35C2 family (dual stack)",
}


@dataclass(frozen=True)
class Check:
    """One line of the report. ``config_error`` makes the exit code 2 instead of 1."""

    name: str
    status: str
    found: str
    fix: str | None = None
    config_error: bool = False

    def line(self) -> str:
        text = f"{self.status:<4} {self.name}: {self.found}"
        if self.fix and self.status in (WARN, FAIL):
            text += f" -- fix: {self.fix}"
        return text


def skipped(name: str, reason: str) -> Check:
    return Check(name, SKIP, f"skipped: {reason}")


def scrub(text: str, secrets: list[str]) -> str:
    """Last line of defence: mask any secret value that still made it into ``text``."""
    for value in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


def exit_code(checks: list[Check]) -> int:
    """2 when a configuration error was found, 1 for any other FAIL, else 0."""
    failed = [c for c in checks if c.status == FAIL]
    if any(c.config_error for c in failed):
        return 2
    return 1 if failed else 0


# --------------------------------------------------------------------------- 2. credentials


def check_credentials(rbid: Secret | None, password: Secret | None) -> Check:
    """Present and well-formed; reports lengths only, never any character of the values."""
    problems: list[str] = []
    fixes: list[str] = []
    if rbid is None or not rbid.reveal():
        problems.append("BROUTE_ID is not set")
        fixes.append("set BROUTE_ID in .env (32 letters/digits from the utility's B-route letter)")
    elif len(rbid) != cmd.B_ROUTE_ID_LEN or not re.fullmatch(r"[0-9A-Za-z]+", rbid.reveal()):
        problems.append(f"BROUTE_ID is malformed ({len(rbid)} characters; must be 32 letters/digits)")
        fixes.append("copy BROUTE_ID again from the utility's letter (no spaces or quotes)")
    if password is None or not password.reveal():
        problems.append("BROUTE_PASSWORD is not set")
        fixes.append("set BROUTE_PASSWORD in .env (12 characters from the utility's letter)")
    elif len(password) != cmd.B_ROUTE_PASSWORD_LEN or not re.fullmatch(r"[\x21-\x7e]+", password.reveal()):
        problems.append(f"BROUTE_PASSWORD is malformed ({len(password)} characters; must be 12, no spaces)")
        fixes.append("copy BROUTE_PASSWORD again from the utility's letter")
    if problems:
        return Check("credentials", FAIL, "; ".join(problems), "; ".join(fixes), config_error=True)
    return Check("credentials", OK, f"B-route ID present ({len(rbid)} characters), "  # type: ignore[arg-type]
                 f"password present ({len(password)} characters)")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- 3. serial port

_DIALOUT_FIX = ("add the user to the dialout group: sudo usermod -aG dialout $USER, then log in again; "
                "in Docker map the device (devices: [\"/dev/ttyUSB0:/dev/ttyUSB0\"]) and add group_add: [dialout]")


def in_docker() -> bool:
    return os.path.exists("/.dockerenv")


def port_candidates() -> list[str]:
    found = sorted(glob.glob("/dev/serial/by-id/*")) or sorted(glob.glob("/dev/ttyUSB*") + glob.glob("/dev/ttyACM*"))
    return found[:4]


def explain_port_error(port: str, exc: BaseException | None) -> tuple[str, str]:
    """(what was found, the fix) for a serial port that cannot be opened."""
    err = getattr(exc, "errno", None)
    text = str(exc) if exc is not None else ""
    if err in (errno.EACCES, errno.EPERM) or "Permission denied" in text:
        return f"permission denied on {port}", _DIALOUT_FIX
    if err == errno.ENOENT or "No such file" in text:
        cands = port_candidates()
        seen = f" (serial devices present: {', '.join(cands)})" if cands else " (no USB serial device is present)"
        docker = "; in Docker also map the device into the container (devices:)" if in_docker() else ""
        return (f"{port} does not exist{seen}",
                f"is the dongle plugged in? List candidates with ls -l /dev/serial/by-id/ and set SERIAL_PORT{docker}")
    if err in (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK) or "lock" in text.lower() or "busy" in text.lower():
        return (f"{port} is held by another program",
                ("stop it (another smartmeter-logger or its container, ModemManager, screen/minicom); "
                 f"find it with: fuser -v {port}"))
    if err == errno.ENOTTY or "Inappropriate ioctl" in text:
        return f"{port} is not a serial device", "set SERIAL_PORT to the dongle's tty, e.g. /dev/serial/by-id/usb-..."
    if err == errno.ECONNREFUSED or "Connection refused" in text:
        return (f"{port}: connection refused",
                "is the simulator or ser2net listening at that host:port? Check the URL in SERIAL_PORT")
    if isinstance(exc, ValueError) or "invalid URL" in text or "expected" in text:
        return f"{port} is not a valid port name or URL ({text})", "use a device path or socket://HOST:PORT"
    return f"cannot open {port} ({text or 'unknown error'})", "check SERIAL_PORT and that the dongle is plugged in"


def port_precheck(port: str | None) -> Check | None:
    """Existence and permissions before opening (None = go ahead and open)."""
    if port is None or port == "":
        return Check("serial port", FAIL, "serial.port is not set", "set SERIAL_PORT in .env "
                     "(e.g. /dev/serial/by-id/usb-...; ls -l /dev/serial/by-id/ lists them)", config_error=True)
    if "://" in port:
        return None
    if not os.path.exists(port):
        found, fix = explain_port_error(port, FileNotFoundError(errno.ENOENT, "No such file"))
        return Check("serial port", FAIL, found, fix)
    if not os.access(port, os.R_OK | os.W_OK):
        found, fix = explain_port_error(port, PermissionError(errno.EACCES, "Permission denied"))
        return Check("serial port", FAIL, found, fix)
    return None


def port_opened(port: str) -> Check:
    if "://" in port:
        return Check("serial port", OK, f"{port} reachable (connection opened)")
    return Check("serial port", OK, f"{port} exists, is readable/writable by this user and not held by another "
                                    "program (opened exclusively)")


def port_failed(port: str, exc: BaseException) -> Check:
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    found, fix = explain_port_error(port, cause)
    return Check("serial port", FAIL, found, fix)


# --------------------------------------------------------------------------- 4./5. dongle dialogue


@dataclass(frozen=True)
class Send:
    data: bytes
    shown: str  # for debug logs: secrets masked


@dataclass(frozen=True)
class Wait:
    deadline: float


@dataclass(frozen=True)
class Note:
    text: str


@dataclass(frozen=True)
class UseDialect:
    dialect: Dialect


@dataclass(frozen=True)
class Timeout:
    """The deadline passed with no event; ``received`` = bytes seen from the device so far."""

    received: int


@dataclass
class Reply:
    final: Ok | Fail | Ll64 | None
    events: list[Any]
    received: int = 0


@dataclass
class DialogueOptions:
    port: str = "?"
    baudrate: int = 115200
    configured_dialect: str = "auto"
    scan: bool = True
    scan_duration_min: int = 4
    scan_duration_max: int = 8
    join: bool = False
    rbid: Secret | None = field(default=None, repr=False)
    password: Secret | None = field(default=None, repr=False)
    credentials_ok: bool = False
    command_timeout_s: float = 2.0
    probe_attempts: int = 3
    scan_margin_s: float = 5.0
    join_timeout_s: float = 45.0
    term_timeout_s: float = 5.0


@dataclass(frozen=True)
class FoundMeter:
    channel: int
    pan_id: int
    addr: str
    ipaddr: str
    lqi: int


Flow = Generator[Any, Any, Any]


class DongleDialogue:
    """Checks 4 (dongle answers) and 5 (meter found, optional join) as a sans-I/O flow."""

    def __init__(self, opts: DialogueOptions) -> None:
        self.opts = opts
        self.now = 0.0
        self.checks: list[Check] = []
        self.dialect: Dialect | None = None
        self.joined = False

    # ------------------------------------------------------------ helpers

    def _command(self, data: bytes, timeout: float | None = None, until_ll64: bool = False,
                 shown: str | None = None) -> Flow:
        yield Send(data, shown or mask_command(data.decode("ascii", "replace").strip()))
        deadline = self.now + (timeout or self.opts.command_timeout_s)
        events: list[Any] = []
        while True:
            ev = yield Wait(deadline)
            if isinstance(ev, Timeout):
                return Reply(None, events, ev.received)
            if isinstance(ev, (Ok, Fail)) or (until_ll64 and isinstance(ev, Ll64)):
                return Reply(ev, events)
            events.append(ev)

    def _wait_event(self, nums: tuple[int, ...], timeout: float, collect: list | None = None) -> Flow:
        deadline = self.now + timeout
        while True:
            ev = yield Wait(deadline)
            if isinstance(ev, Timeout):
                return None
            if isinstance(ev, Event) and ev.num in nums:
                return ev
            if collect is not None:
                collect.append(ev)

    def transport_failed(self, message: str) -> None:
        self.checks.append(Check("dongle", FAIL, f"connection lost: {message}",
                                 "check the USB connection (dmesg | tail shows unplug events) and run doctor again"))

    # ------------------------------------------------------------ the flow

    def flow(self) -> Flow:
        if not (yield from self._probe()):
            self.checks.append(skipped("meter", "the dongle check failed"))
            return
        if not self.opts.scan:
            self.checks.append(skipped("meter", "--no-scan given"))
            return
        if self.dialect is None:
            self.checks.append(skipped("meter", "dongle dialect unknown (set serial.dongle in settings.yml)"))
            return
        found = yield from self._scan()
        if found is None:
            if self.opts.join:
                self.checks.append(skipped("join", "no meter found"))
            return
        if self.opts.join:
            if not self.opts.credentials_ok:
                self.checks.append(skipped("join", "B-route ID/password missing or malformed (see credentials)"))
                return
            yield from self._join(found)

    def _probe(self) -> Flow:
        o = self.opts
        reply = Reply(None, [])
        for attempt in range(o.probe_attempts):
            reply = yield from self._command(cmd.sksreg("SFE", "0"))
            if reply.final is not None:
                break
            yield Send(b"\r\n", "<CR LF> (flush a half-typed line)")
        if reply.final is None:
            tried = f"{o.probe_attempts} x {o.command_timeout_s:g} s"
            if reply.received:
                self.checks.append(Check(
                    "dongle", FAIL,
                    f"{reply.received} bytes came back but no SKSTACK-IP answer to SKSREG SFE 0 ({tried}): this does "
                    "not look like an SKSTACK-IP dongle (wrong port or baud rate?)",
                    f"check that SERIAL_PORT ({o.port}) is the Wi-SUN dongle (ls -l /dev/serial/by-id/) and that "
                    f"serial.baudrate is 115200 (now {o.baudrate}); a wrong baud rate shows as garbage or silence"))
            else:
                self.checks.append(Check(
                    "dongle", FAIL,
                    f"no answer at all to SKSREG SFE 0 ({tried}) on {o.port} at {o.baudrate} baud",
                    "a wrong baud rate shows as silence or garbage: SKSTACK-IP dongles use 115200 8N1 "
                    f"(serial.baudrate, now {o.baudrate}); also check that SERIAL_PORT is the dongle and not another "
                    "serial device, and unplug/replug a hung dongle"))
            return False
        replies: dict[str, Reply] = {}
        for name, data in (("SKVER", cmd.skver()), ("SKAPPVER", cmd.skappver()), ("SKINFO", cmd.skinfo())):
            r = yield from self._command(data)
            if r.final is None:
                self.checks.append(Check(
                    "dongle", FAIL, f"answered SKSREG SFE 0 but not {name} within {o.command_timeout_s:g} s",
                    "unplug and replug the dongle, then run doctor again"))
                return False
            replies[name] = r
        ever = next((e.version for e in replies["SKVER"].events if isinstance(e, Ever)), None)
        appver = next((e.version for e in replies["SKAPPVER"].events if isinstance(e, EAppVer)), None)
        einfo = next((e for e in replies["SKINFO"].events if isinstance(e, EInfo)), None)
        ropt = yield from self._command(cmd.ropt(), shown="ROPT")
        ropt_final = ropt.final if isinstance(ropt.final, (Ok, Fail)) else None
        if ever is None and einfo is None:
            self.checks.append(Check(
                "dongle", FAIL, "the device answers OK/FAIL but prints no EVER/EINFO: this does not look like an "
                "SKSTACK-IP dongle (wrong port or baud rate?)",
                f"check that SERIAL_PORT ({o.port}) is the Wi-SUN dongle (ls -l /dev/serial/by-id/)"))
            return False
        self.checks.append(Check("dongle", OK, f"SKSTACK-IP dongle answers: firmware EVER {ever or '?'}, "
                                                f"EAPPVER {appver or '?'}"))
        # dialect
        configured = o.configured_dialect
        try:
            name = detect_dialect(ever, einfo, ropt_final)
        except DetectionError as exc:
            if configured != "auto":
                self.dialect = get_dialect(configured)
                self.checks.append(Check("dialect", WARN, f"{exc}; using serial.dongle {configured}",
                                         "make sure serial.dongle matches the stick"))
            else:
                self.checks.append(Check("dialect", FAIL, str(exc),
                                         "set serial.dongle in settings.yml to the stick's family"))
            name = None
        if name is not None:
            self.dialect = get_dialect(name)
            if configured != "auto" and get_dialect(configured).name != name:
                self.checks.append(Check(
                    "dialect", WARN, f"detected {name} ({DIALECT_NAMES.get(name, name)}) but serial.dongle says "
                    f"{configured}", f"set serial.dongle: {name} (or auto) in settings.yml"))
            else:
                how = "detected" if configured == "auto" else "detected, matches serial.dongle"
                self.checks.append(Check("dialect", OK, f"{name}: {DIALECT_NAMES.get(name, name)} ({how})"))
        if self.dialect is not None:
            yield UseDialect(self.dialect)
        # ERXUDP mode
        if self.dialect is not None and self.dialect.rohm:
            binary = erxudp_binary(ropt_final)
            keep = ("the logger reads either mode, so leave it as it is: WOPT writes the dongle's flash, "
                    "which has a limited number of write cycles")
            if binary is None:
                got = "no answer" if ropt_final is None else (
                    f"OK {ropt_final.value}" if isinstance(ropt_final, Ok) else f"FAIL {ropt_final.code}")
                self.checks.append(Check("erxudp mode", WARN, f"ROPT gave {got}; mode unknown ({keep})",
                                         "nothing to change; report this firmware if receiving fails"))
            else:
                mode = "binary (ROPT 00)" if binary else "hex ASCII (ROPT 01)"
                self.checks.append(Check("erxudp mode", OK, f"ERXUDP data is {mode}; {keep}"))
        elif self.dialect is not None:
            self.checks.append(Check("erxudp mode", OK, "ERXUDP data is hex ASCII (Tessera sticks have no binary "
                                                       "mode; ROPT is not supported)"))
        # session (from EINFO)
        if einfo is None:
            self.checks.append(Check("session", WARN, "SKINFO printed no EINFO; session state unknown",
                                     "unplug and replug the dongle if the logger cannot join"))
        elif einfo.pan_id == 0xFFFF:
            self.checks.append(Check("session", OK, f"not joined (EINFO channel {einfo.channel}, PAN FFFF)"))
        else:
            self.checks.append(Check(
                "session", OK, f"registers set by an earlier join: channel {einfo.channel}, PAN {einfo.pan_id:04X} "
                "(a PANA session may still be up; the logger resumes or rejoins it)"))
        return True

    def _scan(self) -> Flow:
        o = self.opts
        dialect = self.dialect
        assert dialect is not None
        lo, hi = o.scan_duration_min, o.scan_duration_max
        for duration in range(lo, hi + 1):
            sweep = CHANNELS * CHANNEL_TIME_S * (2**duration + 1)
            yield Note(f"scanning all channels at duration {duration} (about {sweep:.0f} s)")
            r = yield from self._command(dialect.scan(duration))
            if r.final is None:
                self.checks.append(Check("meter", FAIL, f"no answer to SKSCAN (duration {duration})",
                                         "unplug and replug the dongle, then run doctor again"))
                return None
            if isinstance(r.final, Fail):
                hint = (" (wrong argument count: the dialect is wrong, set serial.dongle)"
                        if r.final.code == "ER05" else "")
                self.checks.append(Check(
                    "meter", FAIL, f"SKSCAN answered FAIL {r.final.code} ({r.final.meaning}){hint}",
                    "set serial.dongle to the stick's family; if a scan is already running (ER10) stop the other "
                    "program using the dongle"))
                return None
            descs = [e for e in r.events if isinstance(e, PanDesc)]
            done = yield from self._wait_event((EV_SCAN_DONE,), sweep + o.scan_margin_s, collect=descs)
            descs = [e for e in descs if isinstance(e, PanDesc)]
            if done is None and not descs:
                yield Note(f"no EVENT 22 within {sweep + o.scan_margin_s:.0f} s at duration {duration}")
            if not descs:
                continue
            best = self._choose(descs)
            ll = yield from self._command(cmd.skll64(best.addr), until_ll64=True)
            ipaddr = ll.final.address if isinstance(ll.final, Ll64) else cmd.ll64(best.addr)
            found = FoundMeter(best.channel, best.pan_id, best.addr.upper(), ipaddr, best.lqi)
            self.checks.append(self._meter_check(found, best, duration, len(descs)))
            return found
        self.checks.append(Check(
            "meter", FAIL, f"no smart meter beacon at scan durations {lo}..{hi}",
            "usual causes: the meter is too far away or behind metal/concrete (put the dongle nearer the meter, "
            "e.g. on a USB extension cable by a window facing it); the B-route service is not enabled yet (the "
            "utility activates it some days after the application: check the letter with the ID/password); "
            f"try a higher duration (session.scan_duration_max up to 14, now {hi}; each step doubles the time)"))
        return None

    def _choose(self, descs: list[PanDesc]) -> PanDesc:
        """Prefer the PAN whose PairID matches the end of the B-route ID (usually the case), then LQI."""
        rbid = self.opts.rbid.reveal() if self.opts.rbid is not None else ""

        def key(d: PanDesc) -> tuple[bool, int]:
            match = bool(rbid) and d.pair_id is not None and rbid.upper().endswith(d.pair_id.upper())
            return (match, d.lqi)

        return max(descs, key=key)

    def _meter_check(self, found: FoundMeter, desc: PanDesc, duration: int, heard: int) -> Check:
        rssi = desc.rssi_dbm
        text = (f"found at scan duration {duration}: channel {found.channel} (0x{found.channel:02X}), "
                f"PAN {found.pan_id:04X}, MAC {found.addr}, LQI {found.lqi} (RSSI {rssi:.1f} dBm)")
        if heard > 1:
            text += f"; {heard} PANs heard, chose the best match"
        rbid = self.opts.rbid.reveal() if self.opts.rbid is not None else ""
        if desc.pair_id is not None and rbid:
            if rbid.upper().endswith(desc.pair_id.upper()):
                text += "; its PairID matches the end of BROUTE_ID"
            else:
                return Check("meter", WARN, text + "; its PairID does not match the end of BROUTE_ID",
                             "the PairID usually equals the last 8 characters of the B-route ID: check BROUTE_ID "
                             "(or this is a neighbour's meter)")
        if rssi < WEAK_RSSI_DBM:
            return Check("meter", WARN, text + "; the signal is weak",
                         "move the dongle nearer the meter (USB extension cable) for a reliable link")
        return Check("meter", OK, text)

    def _join(self, found: FoundMeter) -> Flow:
        o = self.opts
        assert o.rbid is not None and o.password is not None
        steps: list[tuple[bytes, str]] = [
            (cmd.sksetpwd(o.password.reveal()), f"SKSETPWD {len(o.password):X} {MASK}"),
            (cmd.sksetrbid(o.rbid.reveal()), f"SKSETRBID {MASK}"),
            (cmd.sksreg("S2", f"{found.channel:02X}"), f"SKSREG S2 {found.channel:02X}"),
            (cmd.sksreg("S3", f"{found.pan_id:04X}"), f"SKSREG S3 {found.pan_id:04X}"),
        ]
        for data, shown in steps:
            r = yield from self._command(data, shown=shown)
            if not isinstance(r.final, Ok):
                got = "no answer" if r.final is None else f"FAIL {getattr(r.final, 'code', '?')}"
                self.checks.append(Check("join", FAIL, f"{shown.split(' ')[0]}: {got}",
                                         "unplug and replug the dongle, then run doctor again"))
                return
        yield Note("joining (PANA authentication, up to 45 s)")
        start = self.now
        r = yield from self._command(cmd.skjoin(found.ipaddr))
        if isinstance(r.final, Fail):
            self.checks.append(Check(
                "join", FAIL, f"SKJOIN answered FAIL {r.final.code} ({r.final.meaning})",
                "the dongle already has a session or a join running: stop any other program using it "
                "(another logger), or unplug and replug the dongle"))
            return
        if r.final is None:
            self.checks.append(Check("join", FAIL, "no answer to SKJOIN",
                                     "unplug and replug the dongle, then run doctor again"))
            return
        ev = yield from self._wait_event((EV_PANA_OK, EV_PANA_FAILED), o.join_timeout_s)
        if ev is None:
            self.checks.append(Check(
                "join", FAIL, f"neither EVENT 25 nor EVENT 24 within {o.join_timeout_s:g} s: the meter did not "
                "complete the PANA exchange", "move the dongle nearer the meter and retry; if it keeps failing "
                "check BROUTE_ID and BROUTE_PASSWORD"))
            return
        if ev.num == EV_PANA_FAILED:
            self.checks.append(Check(
                "join", FAIL, "authentication failed (EVENT 24)",
                "check BROUTE_ID and BROUTE_PASSWORD: 32 and 12 characters exactly as in the utility's letter "
                "(0/O and 1/I/l are easy to mix up)"))
            return
        self.joined = True
        took = self.now - start
        text = f"PANA authentication succeeded (EVENT 25) after {took:.1f} s"
        t = yield from self._command(cmd.skterm())
        if isinstance(t.final, Ok):
            end = yield from self._wait_event((EV_SESSION_TERMINATED, EV_SESSION_TERM_TIMEOUT), o.term_timeout_s)
            if end is None:
                text += "; SKTERM sent (no EVENT 27 yet)"
            else:
                text += f"; session ended with SKTERM (EVENT {end.num:02X})"
            self.joined = False
        else:
            text += "; SKTERM did not succeed (the dongle keeps the session until it expires)"
        self.checks.append(Check("join", OK, text))


def drive(dialogue: DongleDialogue, transport: Any, clock: Clock,
          note: Callable[[str], None] = lambda _t: None) -> list[Check]:
    """Run ``dialogue`` over ``transport``: the only place doctor does serial I/O."""
    from logger.skstack.parser import SkParser
    from logger.transport import TransportError

    parser = SkParser()
    pending: deque[Any] = deque()
    received = 0
    flow = dialogue.flow()
    value: Any = None
    dialogue.now = clock.time()
    try:
        while True:
            try:
                item = flow.send(value)
            except StopIteration:
                break
            value = None
            if isinstance(item, Send):
                log.debug("-> %s", item.shown)
                transport.write(item.data)
            elif isinstance(item, Note):
                note(item.text)
            elif isinstance(item, UseDialect):
                parser_new = SkParser(item.dialect)
                parser_new.dropped = parser.dropped
                parser = parser_new
            elif isinstance(item, Wait):
                while not pending and clock.time() < item.deadline:
                    data = transport.read_until(item.deadline)
                    if data:
                        received += len(data)
                        for ev in parser.feed(data):
                            log.debug("<- %r", ev)
                            if not isinstance(ev, Unknown):
                                pending.append(ev)
                dialogue.now = clock.time()
                value = pending.popleft() if pending else Timeout(received)
            else:  # pragma: no cover - programming error
                raise TypeError(f"dialogue yielded {item!r}")
    except TransportError as exc:
        flow.close()
        dialogue.transport_failed(str(exc))
    return dialogue.checks


# --------------------------------------------------------------------------- 6. InfluxDB


def _influx_fix(org: str, bucket: str) -> str:
    return ("create a token that may write to that one bucket and put it in INFLUXDB_TOKEN: "
            f"influx bucket list --org {org} --name {bucket} (note the ID), then "
            f"influx auth create --org {org} --write-bucket <BUCKET_ID> --description smartmeter-logger")


def check_influx(url: str | None, token: Secret | None, org: str | None, bucket: str | None,
                 timeout_s: float = 5.0) -> list[Check]:
    """Reachable (/health), then token allowed to write the bucket (an empty write)."""
    import urllib.error
    import urllib.request

    from logger.sinks.influx_sink import InfluxWriteError, check_write_access

    missing = [env for env, v in (("INFLUXDB_URL", url), ("INFLUXDB_TOKEN", token and token.reveal()),
                                  ("INFLUXDB_ORG", org), ("INFLUXDB_BUCKET", bucket)) if not v]
    if missing:
        return [Check("influxdb", FAIL, f"{', '.join(missing)} not set", "set them in .env", config_error=True)]
    assert url and token and org and bucket
    if not re.match(r"https?://", url):
        return [Check("influxdb", FAIL, f"INFLUXDB_URL {url!r} does not start with http:// or https://",
                      "set INFLUXDB_URL to e.g. http://influxdb:8086 (in Docker) or http://localhost:8086",
                      config_error=True)]
    health_url = f"{url.rstrip('/')}/health"
    try:
        with urllib.request.urlopen(urllib.request.Request(health_url), timeout=timeout_s) as response:
            body = response.read(2000).decode("utf-8", "replace")
            status = response.status
    except urllib.error.HTTPError as exc:
        body, status = exc.read(2000).decode("utf-8", "replace"), exc.code
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        docker = " (inside Docker use http://influxdb:8086, not localhost)" if in_docker() else ""
        return [Check("influxdb", FAIL, f"{url} is unreachable ({reason})",
                      f"start InfluxDB (docker compose up -d influxdb) and check INFLUXDB_URL{docker}"),
                skipped("influxdb write", "InfluxDB is unreachable")]
    try:
        data = json.loads(body)
    except ValueError:
        data = {}
    if status != 200 or not isinstance(data, dict) or data.get("status") != "pass":
        shown = data.get("message") if isinstance(data, dict) and data.get("message") else body.strip()[:120]
        return [Check("influxdb", FAIL, f"{health_url} answered HTTP {status} ({shown})",
                      "check that INFLUXDB_URL points at InfluxDB v2 and that it finished starting (docker compose "
                      "logs influxdb)"),
                skipped("influxdb write", "InfluxDB is not healthy")]
    version = data.get("version", "?")
    checks = [Check("influxdb", OK, f"{url} reachable (/health: pass, version {version})")]
    try:
        message = check_write_access(url, token.reveal(), org, bucket, timeout_s=timeout_s)
    except InfluxWriteError as exc:
        text = str(exc)
        if "HTTP 401" in text:
            found = f"the token was rejected (HTTP 401: unknown or revoked token) for bucket {bucket!r} in org {org!r}"
        elif "refused the write" in text:
            found = f"the token may not write to bucket {bucket!r} in org {org!r} ({text.split(';')[0]})"
        else:
            found = text
        checks.append(Check("influxdb write", FAIL, found, _influx_fix(org, bucket)))
        return checks
    checks.append(Check("influxdb write", OK, message))
    return checks


# --------------------------------------------------------------------------- 7. directories


def check_directory(name: str, env: str, directory: Path) -> Check:
    """Writable (a probe file is created and removed), or creatable when it does not exist yet."""
    fix = (f"make it writable for this user (sudo chown -R $(id -u):$(id -g) {directory}) or point {env} "
           "elsewhere; in Docker check the volume mount and the container's user")
    if directory.exists():
        if not directory.is_dir():
            return Check(name, FAIL, f"{directory} is not a directory", f"point {env} at a directory")
        try:
            with tempfile.NamedTemporaryFile(dir=directory, prefix=".doctor-", delete=True) as fh:
                fh.write(b"ok")
                fh.flush()
        except OSError as exc:
            return Check(name, FAIL, f"{directory} is not writable ({exc.strerror})", fix)
        return Check(name, OK, f"{directory} is writable")
    probe = directory
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        return Check(name, FAIL, f"cannot create {directory}: {probe} is not a directory", f"point {env} elsewhere")
    if not os.access(probe, os.W_OK | os.X_OK):
        return Check(name, FAIL, f"cannot create {directory}: {probe} is not writable", fix)
    return Check(name, OK, f"{directory} does not exist yet; it will be created (in {probe}, writable)")
