"""The session's time keeper alone (sans-I/O): samples of the host's wall clock and the monotonic
clock in, what the meter's clock said in, the session's time out.

A small rig plays the runner and the session: the true time moves in steps of one second (the
monotonic clock is the true time), the host clock is the true time plus an offset and scripted
jumps, the meter's clock is the true time plus its own offset. When the time keeper wants the
meter's clock read, the rig asks (latency 0.4 s) and tells it the minute 0x97/0x98 named.
"""

from __future__ import annotations

import itertools
import math
import random

import pytest

from logger.session.timekeeper import RECHECK_S, SEARCH_STEP_S, Source, TimeKeeper

T0 = 1_795_000_000.0  # 2026-11-18 (any time will do)
LATENCY = 0.4


class Rig:
    def __init__(self, host_offset: float = 0.0, meter_offset: float = 0.0, tolerance: float = 90.0,
                 tells: bool = True, answers: bool = True) -> None:
        self.tk = TimeKeeper(tolerance)
        self.t = T0 + 17.3  # not on a minute boundary
        self.host_offset = host_offset
        self.meter_offset = meter_offset
        self.jumps: list[tuple[float, float]] = []
        self.tells = tells
        self.answers = answers
        self.reads: list[float] = []  # true times of the reads
        #: (true time, session time, source) of every sample
        self.out: list[tuple[float, float, Source]] = []

    def host(self, t: float) -> float:
        return t + self.host_offset + sum(s for at, s in self.jumps if at <= t)

    def meter(self, t: float) -> float:
        return t + self.meter_offset

    def sample(self) -> float:
        now = self.tk.observe(self.host(self.t), self.t)
        self.out.append((self.t, now, self.tk.source))
        return now

    def run(self, seconds: float) -> None:
        end = self.t + seconds
        next_read = -math.inf
        while self.t < end:
            self.sample()
            wait = self.tk.check_wait(self.t)
            if wait is not None and wait <= 0 and self.t >= next_read:
                sent = self.t
                self.reads.append(sent)
                self.t += LATENCY
                self.sample()
                if not self.answers:
                    self.tk.note_silent(self.t)
                else:
                    minute = math.floor(self.meter(self.t - LATENCY / 2) / 60) * 60.0 if self.tells else None
                    self.tk.note_meter(minute, sent, self.t, self.host(self.t))
                self.out.append((self.t, self.tk.time(), self.tk.source))
                next_read = self.t + SEARCH_STEP_S if self.tk.searching else -math.inf
            self.t += 1.0


def never_backwards(out) -> None:
    for (_t1, a, _s1), (_t2, b, _s2) in itertools.pairwise(out):
        assert b >= a, f"the session's time went back from {a} to {b}"


def close_to(out, truth, within: float) -> None:
    for t, now, source in out:
        assert abs(now - truth(t)) <= within, f"at {t - T0:.0f} s ({source.value}) off by {now - truth(t):+.1f} s"


def test_boot_three_days_behind_then_ntp_jumps_forward():
    rig = Rig(host_offset=-3 * 86400)
    rig.jumps.append((T0 + 1800, 3 * 86400))  # NTP answers half an hour in
    rig.run(120)
    assert rig.tk.source is Source.METER and rig.tk.settled
    assert len(rig.reads) <= 1 + 65 / SEARCH_STEP_S + 1  # one read, then at most a minute of rollover search
    rig.run(3600)
    assert rig.tk.source is Source.HOST  # the host clock agrees again after the jump
    start = next(i for i, o in enumerate(rig.out) if o[2] is Source.METER)
    never_backwards(rig.out[start:])
    close_to(rig.out[start:], lambda t: t, 2.5)  # within (step + latency) / 2 of the meter's clock


def test_a_fast_host_clock_is_set_back_by_the_first_check_then_ntp_jumps_back():
    rig = Rig(host_offset=3600)
    rig.jumps.append((T0 + 1200, -3600))
    rig.run(1800)
    start = next(i for i, o in enumerate(rig.out) if o[2] is Source.METER)
    assert rig.out[start][1] < rig.out[start - 1][1]  # the one step back: before anything was stamped
    never_backwards(rig.out[start:])
    close_to(rig.out[start:], lambda t: t, 2.5)
    assert rig.tk.source is Source.HOST


def test_a_right_clock_that_jumps_back_holds_then_takes_the_meters():
    rig = Rig()
    rig.jumps.append((T0 + 600, -600))  # a bad time source sets the clock ten minutes back
    rig.run(1200)
    assert rig.tk.source is Source.METER
    never_backwards(rig.out)
    close_to(rig.out, lambda t: t, 2.5)
    assert any(s is Source.HOLD for _t, _n, s in rig.out)


def test_a_right_clock_that_jumps_forward_is_not_followed():
    rig = Rig()
    rig.jumps.append((T0 + 600, 7200))
    rig.run(1200)
    assert rig.tk.source is Source.METER
    never_backwards(rig.out)
    close_to(rig.out, lambda t: t, 2.5)


def test_a_meter_a_minute_off_is_within_the_tolerance():
    rig = Rig(meter_offset=60)
    rig.run(3 * 3600 + 60)
    assert all(s is Source.HOST for _t, _n, s in rig.out)
    assert all(now == rig.host(t) for t, now, _s in rig.out)
    # read at start, then hourly, never searched for a rollover
    assert len(rig.reads) == 4
    assert all(abs((b - a) - RECHECK_S) < 2 for a, b in itertools.pairwise(rig.reads))


def test_a_meter_five_minutes_off_is_followed():
    rig = Rig(meter_offset=300)
    rig.run(2 * 3600)
    start = next(i for i, o in enumerate(rig.out) if o[2] is Source.METER)
    assert rig.out[start][0] - T0 < 70  # found within the first minute or so
    assert all(s is Source.METER for _t, _n, s in rig.out[start:])
    close_to(rig.out[start:], rig.meter, 2.5)
    never_backwards(rig.out[start:])
    # hourly re-reads find the meter's clock where it was carried: no new search
    assert rig.reads[-1] - rig.reads[-2] >= RECHECK_S - 2


def test_a_meter_without_a_clock_leaves_the_host_clock_and_stops_asking():
    rig = Rig(host_offset=-3 * 86400, tells=False)
    rig.jumps.append((T0 + 600, 3 * 86400))
    rig.run(3 * 3600)
    assert rig.reads == [rig.reads[0]] and rig.tk.meter_tells is False
    assert rig.tk.check_wait(rig.t) is None
    assert all(s is Source.HOST for _t, _n, s in rig.out)
    assert rig.out[-1][1] == rig.host(rig.out[-1][0])  # a jump forward is followed at once
    never_backwards(rig.out)


def test_without_the_meters_clock_a_jump_back_is_slewed_never_stepped():
    rig = Rig(host_offset=600, tells=False)
    rig.jumps.append((T0 + 300, -600))
    rig.run(2400)
    never_backwards(rig.out)
    after = [(t, n) for t, n, _s in rig.out if t > T0 + 300]
    # the ten minutes are taken back at half speed: caught up after twenty, then the host clock
    assert all(n > rig.host(t) for t, n in after if t < T0 + 300 + 1100)
    assert all(n == rig.host(t) for t, n in after if t > T0 + 300 + 1300)


def test_a_silent_meter_leaves_the_host_clock_and_is_asked_again():
    rig = Rig(host_offset=-3 * 86400, answers=False)
    rig.run(600)
    assert rig.tk.settled and rig.tk.source is Source.HOST
    assert len(rig.reads) >= 3
    assert all(abs((b - a) - 60) < 2 for a, b in itertools.pairwise(rig.reads[:3]))  # retried each minute
    rig.answers = True
    rig.run(7200)
    assert rig.tk.source is Source.METER  # then hourly, and once the meter answers, its clock
    assert abs(rig.out[-1][1] - rig.out[-1][0]) <= 2.5


@pytest.mark.parametrize("seed", range(20))
def test_never_backwards_whatever_the_jumps(seed):
    rnd = random.Random(seed)
    rig = Rig(host_offset=rnd.choice([0, -3 * 86400, 3600, -45, 200]), meter_offset=rnd.choice([0, 30, -150, 400]),
              tolerance=rnd.choice([0, 90, 600]), tells=rnd.random() < 0.8)
    rig.t += rnd.uniform(0, 60)  # anywhere in the minute
    for _ in range(rnd.randint(1, 6)):
        rig.jumps.append((T0 + rnd.uniform(0, 3 * 3600), rnd.choice([-1, 1]) * rnd.choice([3, 100, 900, 86400])))
    rig.run(4 * 3600)
    start = next((i for i, o in enumerate(rig.out) if o[0] > rig.reads[0] + 90), 0)
    never_backwards(rig.out[start:])


def test_a_meter_that_falls_silent_during_the_search_gives_the_coarse_estimate():
    tk = TimeKeeper(90.0)
    t = T0 + 5.0  # the meter's minute began 45 s ago (T0 is at :40)
    tk.observe(t - 3 * 86400, t)
    minute = math.floor(t / 60) * 60.0
    tk.note_meter(minute, t, t + 0.5, t + 0.5 - 3 * 86400)
    assert tk.searching
    while tk.searching:
        t += SEARCH_STEP_S
        tk.observe(t - 3 * 86400, t)
        tk.note_silent(t)
    assert tk.source is Source.METER and t - T0 < 90
    assert abs(tk.time() - t) <= 30.0  # within half a minute: better than three days


def test_describe_offset_rounds_for_a_person():
    from logger.session.timekeeper import describe_offset

    assert describe_offset(-3 * 86400 + 4) == "3 d 0 h"
    assert describe_offset(3600 - 2) == "1 h 0 min"
    assert describe_offset(250.4) == "4 min 10 s"
    assert describe_offset(42.2) == "42 s"
