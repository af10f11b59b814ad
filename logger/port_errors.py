"""Why a serial port (device path or pyserial URL) would not open, and the fix.

The one explanation used by ``run`` (:class:`~logger.transport.TransportError` messages,
the extra sensors) and ``doctor`` (its serial port check). Standard library only, so
``doctor`` does not import the run path to get it.
"""

from __future__ import annotations

import errno
import glob
import os

_DIALOUT_FIX = ("add the user to the dialout group: sudo usermod -aG dialout $USER, then log in again; "
                "in Docker map the device (devices: [\"/dev/ttyUSB0:/dev/ttyUSB0\"]) and add group_add: [dialout]")


def in_docker() -> bool:
    return os.path.exists("/.dockerenv")


def port_candidates() -> list[str]:
    """Up to four serial devices present (by-id names preferred)."""
    found = sorted(glob.glob("/dev/serial/by-id/*")) or sorted(glob.glob("/dev/ttyUSB*") + glob.glob("/dev/ttyACM*"))
    return found[:4]


def explain_port_error(port: str, exc: BaseException | None, setting: str = "SERIAL_PORT",
                       device: str = "dongle") -> tuple[str, str]:
    """(what was found, the fix) for ``port`` that could not be opened because of ``exc``.

    ``setting`` names where the port is configured, ``device`` what should be plugged in.
    """
    err = getattr(exc, "errno", None)
    text = str(exc) if exc is not None else ""
    low = text.lower()
    if err in (errno.EACCES, errno.EPERM) or "permission denied" in low:
        return f"permission denied on {port}", _DIALOUT_FIX
    if err == errno.ENOENT or "no such file" in low:
        cands = port_candidates()
        seen = f" (serial devices present: {', '.join(cands)})" if cands else " (no USB serial device is present)"
        docker = "; in Docker also map the device into the container (devices:)" if in_docker() else ""
        return (f"{port} does not exist{seen}",
                f"is the {device} plugged in? List candidates with ls -l /dev/serial/by-id/ and set {setting}{docker}")
    if err in (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK) or "lock" in low or "busy" in low:
        return (f"{port} is held by another program",
                ("stop it (another smartmeter-logger or its container, ModemManager, screen/minicom); "
                 f"find it with: fuser -v {port}"))
    if err == errno.ENOTTY or "inappropriate ioctl" in low:
        return (f"{port} is not a serial device",
                f"set {setting} to the {device}'s tty, e.g. /dev/serial/by-id/usb-...")
    if err == errno.ECONNREFUSED or "connection refused" in low:
        return (f"{port}: connection refused",
                f"is the simulator or ser2net listening at that host:port? Check the URL in {setting}")
    if isinstance(exc, ValueError) or "invalid url" in low or "expected" in low:
        return (f"{port} is not a valid port name or URL ({text})",
                f"set {setting} to a device path or socket://HOST:PORT")
    if "://" in port:
        return f"cannot open {port} ({text or 'unknown error'})", f"check the URL in {setting} (socket://HOST:PORT)"
    return (f"cannot open {port} ({text or 'unknown error'})",
            f"check {setting} and that the {device} is plugged in")
