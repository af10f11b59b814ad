"""What the logger remembers across restarts, in ``session.state_dir``.

``scan.json`` holds the meter found by the last scan (channel, PAN ID, MAC, link-local
address, the scan duration that found it) and the newest half-hour slot recorded, so a
restart joins without scanning and backfills exactly the slots it missed.

Files are replaced atomically (write to a temporary file, fsync, rename), so a crash at
any moment leaves either the old or the new content, never a torn file. A corrupt file is
reported and ignored (the logger then scans afresh) rather than stopping the logger.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SCAN_FILE = "scan.json"


@dataclass(frozen=True, slots=True)
class ScanResult:
    channel: int
    pan_id: int
    addr: str  # meter EUI-64, 16 hex digits
    ipaddr: str  # link-local address (SKLL64 of addr)
    duration: int  # scan duration that found the beacon
    dialect: str = ""


@dataclass(slots=True)
class SessionState:
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


def load_state(state_dir: Path) -> SessionState:
    path = Path(state_dir) / SCAN_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return SessionState()
    try:
        return SessionState.from_json(json.loads(raw))
    except (ValueError, TypeError, KeyError) as exc:
        log.warning("state file %s is unreadable (%s); ignoring it and scanning afresh", path, exc)
        return SessionState()


def save_state(state_dir: Path, state: SessionState) -> None:
    atomic_write(Path(state_dir) / SCAN_FILE, json.dumps(state.to_json(), indent=1).encode())
