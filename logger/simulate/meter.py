"""MeterSim: a simulated low-voltage smart meter (ECHONET Lite class 0x028801), sans-I/O.

Frames in, frames out; time is always passed in (``now``, POSIX seconds). The meter's own
clock is local time in ``MeterConfig.timezone`` (Asia/Tokyo by default); its half-hour
boundaries are local ``:00`` / ``:30`` (zones whose offset is not a multiple of 30 minutes
are rejected). That clock may be set off the true time and drift (``clock_offset_s``,
``clock_drift_ppm``: :mod:`logger.simulate.meter_clock`): 0x97/0x98, the EA/EB timestamps,
push times and history slots follow it; energy and power are physical (true time).

Energy model: :mod:`logger.simulate.load` gives net power on a 10-second grid;
:mod:`logger.simulate.history` integrates it exactly (W·ms). The meter keeps an absolute
energy register per direction; a raw counter is ``floor(register / energy_per_count)``
modulo ``10**digits``, so counter deltas equal the integral of the reported E7 power
within one count, and history slots equal the counter the meter had at that boundary.

Reconfiguration (:meth:`MeterSim.set_coefficient`, :meth:`MeterSim.set_unit`): the register
(physical energy) is continuous; from the change on, raw counters are that register expressed
in the new scaling (so E0 jumps, while E0 x D3 x E1 stays continuous within one count).
History slots keep the raw values recorded under the scaling in force at their time, as a
meter's memory would; a logger must not mix slots from before and after a change.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from logger.echonet.frame import CONTROLLER, ESV, METER, NODE_PROFILE, Frame, Property
from logger.simulate.history import SLOT_MS, SLOT_S, EnergyHistory, to_ms
from logger.simulate.load import LoadModel
from logger.simulate.meter_clock import MeterClock, date_edt, time_edt
from logger.simulate.meter_config import (
    ANNOUNCE_EPCS,
    DEFAULT_EPCS,
    METER_ANY,
    MJ_PER_KWH,
    NO_DATA,
    NODE_PROFILE_ANY,
    SETTABLE_EPCS,
    UNITS,
    MeterConfig,
)
from logger.simulate.meter_edt import (
    HistoryTime,
    currents_edt,
    fixed_time_edt,
    history_time_edt,
    parse_history_time,
    power_edt,
    property_map,
)
from logger.simulate.meter_scaling import ScalingHistory
from logger.timeconv import from_posix

#: Also importable from here (the configuration and EDT helpers moved to their own modules).
__all__ = ["DEFAULT_EPCS", "NO_DATA", "UNITS", "MeterConfig", "MeterSim", "property_map"]


@dataclass
class _Faults:
    """The simulated meter's scripted faults (windows of silence)."""

    silences: list[tuple[float, float]] = field(default_factory=list)

    def silent_until(self, t: float) -> float | None:
        """The end of the latest silence window containing ``t``, or ``None``."""
        ends = [b for a, b in self.silences if a <= t < b]
        return max(ends) if ends else None


class MeterSim:
    """The meter behind the dongle. See the module docstring for the energy model."""

    def __init__(self, config: MeterConfig, start: float) -> None:
        self.config = config
        self.tz = ZoneInfo(config.timezone)
        self._check_zone(start)
        self.model = LoadModel(
            base_w=config.base_load_w,
            peak_w=config.peak_load_w,
            solar_w=config.solar_w,
            seed=config.seed,
            tz=self.tz,
        )
        self.energy = EnergyHistory(self.model, start, dense_slots=(config.history_days + 1) * 48)
        self.start = float(start)
        self.scalings = ScalingHistory(config.coefficient, config.unit)
        first = self.scalings.first
        self._offset_normal = config.initial_normal * first.mj_per_count
        self._offset_reverse = config.initial_reverse * first.mj_per_count
        self._modulus = 10**config.digits
        self._supported = set(config.supported_epcs)
        if config.coefficient is None:
            self._supported.discard(0xD3)
        self._faults = _Faults()
        self._history_day = 0
        self._history_time: HistoryTime | None = None  # ED: y m d h mi n
        self._location = 0x00
        self._tid = (config.seed * 7919) & 0xFFFF
        self.clock = MeterClock(config.clock_offset_s, config.clock_drift_ppm, self.start)
        self._next_push_slot = math.floor(to_ms(self.clock.show(start)) / SLOT_MS) + 1  # on the meter's clock
        self._pending_infc: dict[int, float] = {}
        self.acked_infc = 0
        self._properties = self._property_table()

    # -- time helpers ---------------------------------------------------------------------
    def _check_zone(self, t: float) -> None:
        offset = from_posix(t, self.tz).utcoffset()
        if offset is None or offset.total_seconds() % SLOT_S:
            raise ValueError(
                f"timezone {self.config.timezone} has a UTC offset that is not a multiple of 30 minutes; "
                "the meter's half-hour slots need one (use e.g. Asia/Tokyo)"
            )

    def _local(self, t: float) -> datetime:
        return from_posix(t, self.tz)

    def _posix(self, y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> float:
        return datetime(y, mo, d, h, mi, tzinfo=self.tz).timestamp()

    @staticmethod
    def _last_boundary(t: float) -> float:
        return math.floor(to_ms(t) / SLOT_MS) * SLOT_S

    def _oldest_history(self, now: float) -> float:
        """POSIX time of the first slot the meter still holds (00:00 of day history_days-1)."""
        day = self._local(self.clock.show(now)).date() - timedelta(days=self.config.history_days - 1)
        return self._posix(day.year, day.month, day.day)

    def _next_tid(self) -> int:
        self._tid = (self._tid + 1) & 0xFFFF
        return self._tid

    # -- energy and counters --------------------------------------------------------------
    def advance_to(self, now: float) -> None:
        """Integrate the load curve up to ``now`` (lazy and idempotent; earlier times are a no-op)."""
        self.energy.advance_to(to_ms(now))

    def _register_mj(self, t_ms: int, reverse: bool) -> int:
        imp, exp = self.energy.energy_at(t_ms)
        return exp + self._offset_reverse if reverse else imp + self._offset_normal

    def true_counter(self, at: float, reverse: bool = False) -> int:
        """The raw E0 (or E3) value at ``at``: register // energy-per-count, modulo 10**digits."""
        t_ms = to_ms(at)
        return (self._register_mj(t_ms, reverse) // self.scalings.at(t_ms).mj_per_count) % self._modulus

    def true_energy_kwh(self, at: float, reverse: bool = False) -> Decimal:
        """The exact absolute register in kWh at ``at`` (not truncated to counts, not wrapped)."""
        return Decimal(self._register_mj(to_ms(at), reverse)) / MJ_PER_KWH

    def power_w(self, at: float) -> int:
        """The E7 value at ``at`` (W, negative = export)."""
        return self.model.power_at(at)

    def _slot_counter(self, b: float, now: float, reverse: bool) -> int:
        """The counter of the slot the meter's clock calls ``b``, asked at true time ``now``."""
        if b > self.clock.show(now) + 1e-3 or b < self._oldest_history(now):
            return NO_DATA
        return self.true_counter(self.clock.true(b), reverse)

    # -- fault hooks ----------------------------------------------------------------------
    def silence(self, start: float, end: float) -> None:
        """Inside ``[start, end)`` the meter answers nothing and pushes nothing (history still grows)."""
        if end <= start:
            raise ValueError(f"silence window must end after it starts ({start} .. {end})")
        self._faults.silences.append((start, end))

    def is_silent(self, t: float) -> bool:
        """True inside a :meth:`silence` window."""
        return self._faults.silent_until(t) is not None

    def set_coefficient(self, coefficient: int, at: float) -> None:
        """Change D3 from ``at`` on; the energy register is kept, raw counters are re-expressed."""
        if 0xD3 not in self._supported:
            raise ValueError("this meter has no D3 (coefficient=None or 0xD3 not supported); it cannot change it")
        if not 1 <= coefficient <= 999_999:
            raise ValueError(f"coefficient {coefficient} out of range 1..999999")
        self.scalings.change(to_ms(at), coefficient, self.scalings.latest.unit, self.energy.start_ms)

    def set_unit(self, unit: int, at: float) -> None:
        """Change E1 from ``at`` on; the energy register is kept, raw counters are re-expressed."""
        if unit not in UNITS:
            raise ValueError(f"unit 0x{unit:02X} is not an E1 code")
        self.scalings.change(to_ms(at), self.scalings.latest.coefficient, unit, self.energy.start_ms)

    # -- property values ------------------------------------------------------------------
    def _fixed_time_edt(self, b: float, now: float, reverse: bool) -> bytes:
        return fixed_time_edt(self._local(b), self._slot_counter(b, now, reverse))

    def _day_history_edt(self, now: float, reverse: bool) -> bytes:
        day = self._local(self.clock.show(now)).date() - timedelta(days=self._history_day)
        midnight = self._posix(day.year, day.month, day.day)
        out = bytearray(self._history_day.to_bytes(2, "big"))
        for i in range(48):
            out += self._slot_counter(midnight + i * SLOT_S, now, reverse).to_bytes(4, "big")
        return bytes(out)

    def _history2_edt(self, now: float) -> bytes | None:
        """EC for the time and count set in ED; ``None`` (answered as unavailable) until ED is set."""
        if self._history_time is None:
            return None
        y, mo, d, h, mi, n = self._history_time
        newest = self._posix(y, mo, d, h, mi)
        out = bytearray(y.to_bytes(2, "big") + bytes((mo, d, h, mi, n)))
        for i in range(n):
            b = newest - i * SLOT_S
            out += self._slot_counter(b, now, False).to_bytes(4, "big")
            out += self._slot_counter(b, now, True).to_bytes(4, "big")
        return bytes(out)

    def _currents_edt(self, now: float) -> bytes:
        return currents_edt(self.power_w(now), self.model.phase_share(now), self.config.three_wire)

    def _property_table(self) -> dict[int, Callable[[float], bytes | None]]:
        """EPC -> EDT producer (given ``now``)."""
        fixed: dict[int, bytes] = {
            0x80: b"\x30",  # operation status: ON
            0x82: b"\x00\x00\x46\x00",  # Appendix Release F
            0x88: b"\x42",  # no fault
            0x8A: self.config.maker_code.to_bytes(3, "big"),
            0x8D: f"SIM{self.config.seed % 10**9:09d}".encode("ascii"),
            0x9D: property_map(ANNOUNCE_EPCS & self._supported),
            0x9E: property_map(SETTABLE_EPCS & self._supported),
            0x9F: property_map(self._supported),
            0xD7: bytes((self.config.digits,)),
        }
        table: dict[int, Callable[[float], bytes | None]] = {epc: (lambda now, v=v: v) for epc, v in fixed.items()}
        table.update(
            {
                0x81: lambda now: bytes((self._location,)),
                0x97: lambda now: time_edt(self._local(self.clock.show(now))),
                0x98: lambda now: date_edt(self._local(self.clock.show(now))),
                0xD3: lambda now: (self.scalings.at(to_ms(now)).coefficient or 1).to_bytes(4, "big"),
                0xE0: lambda now: self.true_counter(now).to_bytes(4, "big"),
                0xE1: lambda now: bytes((self.scalings.at(to_ms(now)).unit,)),
                0xE2: lambda now: self._day_history_edt(now, False),
                0xE3: lambda now: self.true_counter(now, True).to_bytes(4, "big"),
                0xE4: lambda now: self._day_history_edt(now, True),
                0xE5: lambda now: bytes((self._history_day,)),
                0xE7: lambda now: power_edt(self.power_w(now)),
                0xE8: self._currents_edt,
                0xEA: lambda now: self._fixed_time_edt(self._last_boundary(self.clock.show(now)), now, False),
                0xEB: lambda now: self._fixed_time_edt(self._last_boundary(self.clock.show(now)), now, True),
                0xEC: self._history2_edt,
                0xED: lambda now: history_time_edt(self._history_time),
            }
        )
        return table

    def property_edt(self, epc: int, now: float) -> bytes | None:
        """The EDT this meter returns for ``epc`` at ``now``; ``None`` = not available right now
        (EC before ED was set). ``KeyError`` for EPCs the simulator cannot produce."""
        return self._properties[epc](now)

    # -- sets -----------------------------------------------------------------------------
    def _apply_set(self, prop: Property) -> bool:
        """Apply one write; False when the EPC is read-only/unsupported or the value is bad."""
        if prop.epc not in SETTABLE_EPCS or prop.epc not in self._supported:
            return False
        edt = prop.edt
        if prop.epc == 0xE5:
            if len(edt) != 1 or edt[0] >= self.config.history_days:
                return False
            self._history_day = edt[0]
            return True
        if prop.epc == 0xED:
            history_time = parse_history_time(edt)
            if history_time is None:
                return False
            self._history_time = history_time
            return True
        # 0x81 installation location: only the one-byte code form (no 17-byte free form).
        if len(edt) == 1:
            self._location = edt[0]
            return True
        return False

    def _handle_set(self, frame: Frame) -> list[Frame]:
        results = [(p, self._apply_set(p)) for p in frame.props]
        failed = not frame.props or any(not ok for _, ok in results)
        # Accepted properties come back with PDC 0; rejected ones echo the requested EDT.
        props = tuple(Property(p.epc) if ok else p for p, ok in results)
        if frame.esv == ESV.SETI:
            return [self._reply(frame, ESV.SETI_SNA, props)] if failed else []
        return [self._reply(frame, ESV.SETC_SNA if failed else ESV.SET_RES, props)]

    # -- requests -------------------------------------------------------------------------
    @staticmethod
    def _reply(request: Frame, esv: int, props: tuple[Property, ...], seoj: int = METER) -> Frame:
        return Frame(request.tid, seoj, request.seoj, esv, props)

    def _read(self, frame: Frame, now: float, ok_esv: int, sna_esv: int) -> list[Frame]:
        if len(frame.props) > self.config.max_epcs_per_get:
            return []
        props = []
        missing = not frame.props
        for p in frame.props:
            edt = self.property_edt(p.epc, now) if p.epc in self._supported else None
            props.append(Property(p.epc, edt or b""))
            missing = missing or edt is None
        return [self._reply(frame, sna_esv if missing else ok_esv, tuple(props))]

    def _handle_node_profile(self, frame: Frame) -> list[Frame]:
        if frame.esv != ESV.GET:
            return []
        instances = bytes((1,)) + METER.to_bytes(3, "big")
        props = tuple(Property(p.epc, instances) if p.epc in (0xD5, 0xD6) else Property(p.epc) for p in frame.props)
        ok = bool(props) and all(p.edt for p in props)
        return [self._reply(frame, ESV.GET_RES if ok else ESV.GET_SNA, props, seoj=NODE_PROFILE)]

    def handle(self, frame: Frame, now: float) -> list[Frame]:
        """Answer one frame from the controller (an empty list = no answer)."""
        if self.is_silent(now):
            return []
        self.advance_to(now)
        if frame.deoj in (NODE_PROFILE, NODE_PROFILE_ANY):
            return self._handle_node_profile(frame)
        if frame.deoj not in (METER, METER_ANY):
            return []
        if frame.esv == ESV.GET:
            return self._read(frame, now, ESV.GET_RES, ESV.GET_SNA)
        if frame.esv == ESV.INF_REQ:
            return self._read(frame, now, ESV.INF, ESV.INF_SNA)
        if frame.esv in (ESV.SETC, ESV.SETI):
            return self._handle_set(frame)
        if frame.esv == ESV.SETGET:
            # This meter does not do SetGet: both lists come back unprocessed.
            return [Frame(frame.tid, METER, frame.seoj, ESV.SETGET_SNA, frame.props, frame.props_get)]
        if frame.esv == ESV.INFC_RES and self._pending_infc.pop(frame.tid, None) is not None:
            self.acked_infc += 1
        return []

    # -- notifications --------------------------------------------------------------------
    @property
    def unacked_infc(self) -> int:
        """INFC pushes sent and not yet acknowledged by an INFC_Res with the same TID."""
        return len(self._pending_infc)

    def _push_props(self, b: float) -> tuple[Property, ...]:
        at = self.clock.true(b)
        props = [Property(0xEA, self._fixed_time_edt(b, at, False))]
        if 0xEB in self._supported:
            props.append(Property(0xEB, self._fixed_time_edt(b, at, True)))
        return tuple(props)

    def notifications(self, now: float) -> list[Frame]:
        """EA (and EB) pushes for every half-hour boundary in (last call, now], oldest first.

        Boundaries inside a silence window are skipped (the meter was mute then). Boundaries are
        the meter clock's; ``now`` and the silence windows are true time.
        """
        frames: list[Frame] = []
        while self._next_push_slot * SLOT_MS <= to_ms(self.clock.show(now)):
            b = self._next_push_slot * SLOT_S
            self._next_push_slot += 1
            at = self.clock.true(b)
            if self.config.notify == "none" or self.is_silent(at):
                continue
            self.advance_to(at)
            tid = self._next_tid()
            esv = ESV.INFC if self.config.notify == "infc" else ESV.INF
            if esv == ESV.INFC:
                self._pending_infc[tid] = at
            frames.append(Frame(tid, METER, CONTROLLER, esv, self._push_props(b)))
        return frames

    def next_notification_time(self, now: float) -> float:
        """When :meth:`notifications` next has something (``inf`` when pushes are off).

        A value ``<= now`` means a push is already due.
        """
        if self.config.notify == "none":
            return math.inf
        t = self.clock.true(float(self._next_push_slot * SLOT_S))
        while (end := self._faults.silent_until(t)) is not None:
            if math.isinf(end):
                return math.inf
            t = self.clock.true(float(math.ceil(to_ms(self.clock.show(end)) / SLOT_MS) * SLOT_S))
        return t

    #: The name used by docs/design.md for the scheduler hook.
    next_event_time = next_notification_time

    @staticmethod
    def instance_list_frame(tid: int) -> Frame:
        """The D5 instance-list INF (0EF001 -> 0EF001) sent to FF02::1 right after PANA succeeds."""
        return Frame(tid, NODE_PROFILE, NODE_PROFILE, ESV.INF, (Property(0xD5, bytes((1,)) + METER.to_bytes(3, "big")),))
