"""What the logger remembers across restarts, in ``session.state_dir``.

``scan.json`` holds the meter found by the last scan (channel, PAN ID, MAC, link-local
address, the scan duration that found it) and the newest half-hour slot recorded, so a
restart joins without scanning and backfills exactly the slots it missed.

Files are replaced atomically (write to a temporary file, fsync, rename), so a crash at
any moment leaves either the old or the new content, never a torn file. A file that cannot be
read, or whose values make no sense, is refused with one log line naming the file and the
problem, moved aside as ``scan.json.bad-<n>`` (:func:`set_aside`) and replaced by a fresh state
(the logger scans afresh and backfills from local midnight) rather than stopping the logger.

What makes no sense (:func:`check_state`): not a JSON object of the layout :meth:`SessionState.to_json`
writes (a wrong type, a negative or non-integer number, a MAC that is not 16 hex digits, an
unknown ``version``); a time (``last_slot``, ``recorded``) that is not a finite number between
2000-01-01 and 2100-01-01 UTC (:data:`logger.timeconv.SANE_MIN` / ``SANE_MAX``).

The host's clock is no reference here: a Raspberry Pi without a real-time clock starts hours or
days behind, and a frontier that looks "in the future" then is right. A frontier after the real
time (the file was written under a fast clock) is the session's to drop, once it has checked its
time against the meter's clock (:meth:`logger.session.backfill_flow.BackfillMixin._drop_future_slots`).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from logger.timeconv import describe, is_sane

log = logging.getLogger(__name__)

SCAN_FILE = "scan.json"
#: At most this many refused copies of one file are kept (``<name>.bad-1`` ... ``-9``).
MAX_SET_ASIDE = 9


@dataclass(frozen=True, slots=True)
class ScanResult:
    """The meter a scan found (channel, PAN, addresses), kept so a restart can join without scanning."""

    channel: int
    pan_id: int
    addr: str  # meter EUI-64, 16 hex digits
    ipaddr: str  # link-local address (SKLL64 of addr)
    duration: int  # scan duration that found the beacon
    dialect: str = ""


@dataclass(slots=True)
class SessionState:
    """What the session keeps across restarts (scan.json): the meter found and the backfill frontier."""

    scan: ScanResult | None = None
    #: POSIX time of the newest half-hour slot up to which every slot is recorded (or given up).
    last_slot: float | None = None
    #: Slots recorded after ``last_slot`` (beyond a hole still being backfilled), so a
    #: restart never writes them again.
    recorded: tuple[float, ...] = ()
    #: False after the logger ended the PANA session itself (SKTERM on stop): the next start
    #: joins at once instead of first trying to resume a session that is known to be gone.
    session_held: bool = True

    def to_json(self) -> dict:
        return {
            "version": 1,
            "scan": asdict(self.scan) if self.scan else None,
            "last_slot": self.last_slot,
            "recorded": list(self.recorded),
            "session_held": self.session_held,
        }

    @classmethod
    def from_json(cls, data: dict) -> SessionState:
        scan = data.get("scan")
        return cls(
            scan=ScanResult(**scan) if scan else None,
            last_slot=float(data["last_slot"]) if data.get("last_slot") is not None else None,
            recorded=tuple(float(t) for t in data.get("recorded") or ()),
            session_held=bool(data.get("session_held", True)),
        )


_counter = [0]


def _seq() -> int:
    _counter[0] += 1
    return _counter[0]


def make_dirs(directory: Path, mode: int = 0o750) -> None:
    """``mkdir -p`` where every directory it creates (parents too) gets ``mode``, whatever the umask.

    Existing directories are left as they are (they are the user's)."""
    missing = []
    probe = Path(directory)
    while not probe.exists() and probe.parent != probe:
        missing.append(probe)
        probe = probe.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=mode)
        except FileExistsError:
            continue
        os.chmod(d, mode)  # mkdir's mode is reduced by the umask


def atomic_write(path: Path, data: bytes, mode: int = 0o640) -> None:
    """Replace ``path`` with ``data`` atomically (tmp file + fsync + rename + dir fsync); the
    file gets ``mode`` and any directory created for it 0750, whatever the umask."""
    make_dirs(path.parent)
    # A name unique among live processes (pid) and within this one (counter), not tempfile:
    # tempfile pulls in random, shutil, bz2, lzma..., about a megabyte of RSS on a Raspberry Pi
    # Zero, for one file name. O_TRUNC: a leftover of a killed process with the same pid (PID 1
    # in a container) is simply overwritten.
    tmp = path.parent / f".{path.name}.{os.getpid()}.{_seq()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:
        dfd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


class StateError(ValueError):
    """A stored value that makes no sense; the message says which and why."""


_SCAN_TYPES = {"channel": int, "pan_id": int, "addr": str, "ipaddr": str, "duration": int, "dialect": str}


def _check_scan(scan: object) -> None:
    if scan is None:
        return
    if not isinstance(scan, dict):
        raise StateError(f"scan is {type(scan).__name__}, not an object")
    names = {f.name for f in fields(ScanResult)}
    unknown = sorted(set(scan) - names)
    missing = sorted(f.name for f in fields(ScanResult) if f.name not in scan and f.name != "dialect")
    if unknown or missing:
        raise StateError(f"scan has {'unknown keys ' + ', '.join(unknown) if unknown else ''}"
                         f"{' and ' if unknown and missing else ''}"
                         f"{'no ' + ', '.join(missing) if missing else ''}")
    for key, value in scan.items():
        kind = _SCAN_TYPES[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise StateError(f"scan.{key} is {value!r}, not {'an integer' if kind is int else 'a string'}")
        if kind is int and not 0 <= value <= 0xFFFF:
            raise StateError(f"scan.{key} is {value}, outside 0..65535")
    addr = scan["addr"]
    if len(addr) != 16 or any(c not in "0123456789abcdefABCDEF" for c in addr):
        raise StateError(f"scan.addr is {addr!r}, not 16 hex digits")


def _check_time(name: str, value: object) -> None:
    if not is_sane(value):
        raise StateError(f"{name} is {describe(value)}: not a time between 2000 and 2100")


def check_state(data: object) -> None:
    """Raise :class:`StateError` if ``data`` (a parsed scan.json) makes no sense."""
    if not isinstance(data, dict):
        raise StateError(f"the file holds {type(data).__name__}, not an object")
    if data.get("version", 1) != 1:
        raise StateError(f"version is {data.get('version')!r}, not 1")
    _check_scan(data.get("scan"))
    if data.get("last_slot") is not None:
        _check_time("last_slot", data["last_slot"])
    recorded = data.get("recorded")
    if recorded is not None and not isinstance(recorded, list):
        raise StateError(f"recorded is {type(recorded).__name__}, not a list")
    for i, t in enumerate(recorded or ()):
        _check_time(f"recorded[{i}]", t)
    if not isinstance(data.get("session_held", True), bool):
        raise StateError(f"session_held is {data.get('session_held')!r}, not true or false")


def set_aside(path: Path) -> Path | None:
    """Rename a refused file to ``<name>.bad-<n>`` (the first free n of 1..9, else 9 again);
    None if it could not be renamed (then it is simply replaced by the next save)."""
    target = path
    for n in range(1, MAX_SET_ASIDE + 1):
        target = path.with_name(f"{path.name}.bad-{n}")
        if not target.exists():
            break
    try:
        os.replace(path, target)
    except OSError:
        return None
    return target


def refuse(path: Path, problem: str, consequence: str) -> None:
    """The one log line for a refused state file: which file, what is wrong, where it went, what now."""
    aside = set_aside(path)
    where = f"moved aside to {aside.name}" if aside is not None else "could not move it aside"
    log.warning("state file %s %s: %s; %s", path, problem, where, consequence)


def load_state(state_dir: Path) -> SessionState:
    """The saved state, or a fresh one when there is none or it is refused (see the module doc)."""
    path = Path(state_dir) / SCAN_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return SessionState()
    except OSError as exc:
        log.warning("state file %s cannot be read (%s); scanning afresh with a fresh state", path, exc)
        return SessionState()
    try:
        data = json.loads(raw)
    except ValueError as exc:  # not UTF-8, not JSON
        refuse(path, f"is unreadable ({exc})", "scanning afresh with a fresh state")
        return SessionState()
    try:
        check_state(data)
        return SessionState.from_json(data)
    except (StateError, ValueError, TypeError, KeyError) as exc:
        refuse(path, f"makes no sense ({exc})", "scanning afresh with a fresh state (backfill from local midnight)")
        return SessionState()


def save_state(state_dir: Path, state: SessionState) -> None:
    atomic_write(Path(state_dir) / SCAN_FILE, json.dumps(state.to_json(), indent=1).encode())
