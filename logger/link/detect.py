"""``serial.dongle: auto``: which command set the adapter speaks, and the SKSTACK re-arm.

:func:`detect` runs the SKSTACK probe (:mod:`logger.link.probe`); when its first try gets no
answer, one J11 get-version frame goes out before the probe's line end (the reasons are in
:mod:`logger.link.j11_flows`). Only then are the J11 modules imported and the link's J11 reader
made: an SKSTACK dongle that answers the probe at once never costs the logger their memory
(~0.65 MB), and a J11 adapter gets them the moment it is asked.
"""

from __future__ import annotations

from logger.link.errors import DongleSilent
from logger.link.flow import Flow, Send, command, sleep, wait_for
from logger.link.link import Link
from logger.link.probe import probe as skstack_probe
from logger.skstack import commands as cmd
from logger.skstack.events import Fail, Ok
from logger.typehints import Any

__all__ = ["detect", "skstack_probe", "skstack_rearm"]

#: how long the FAIL an SKSTACK dongle prints for the flushed J11 frame may take to come back
FLUSH_S = 0.5


def detect(link: Link) -> Flow:
    """The SKSTACK probe, with one J11 get-version frame after its first unanswered try (see the
    module docstring). Returns the :class:`~logger.link.probe.ProbeResult` of whichever answered."""
    inner = skstack_probe(link)
    value: Any = None
    tried_j11 = False
    while True:
        try:
            item = inner.send(value)
        except StopIteration as stop:
            return stop.value
        if not tried_j11 and isinstance(item, Send) and item.data == b"\r\n" and link.settings.probe_attempts >= 3:
            tried_j11 = True
            from logger.j11 import codes
            from logger.j11 import messages as m
            from logger.j11 import requests as rq
            from logger.link.j11_events import DIALECT
            from logger.link.j11_flows import J11_MESSAGES, j11_result, probe

            link.j11  # noqa: B018 - the reader exists before the answer can come
            yield Send(rq.version(), "J11 " + codes.describe_command(codes.GET_VERSION) + " (is this a J11 adapter?)")
            ev = yield from wait_for(link, lambda e: isinstance(e, J11_MESSAGES), link.settings.probe_timeout_s)
            if ev is not None:
                inner.close()
                link.use_dialect(DIALECT)
                # the response's OK/FAIL follows its message: it ends this request, not the next one
                yield from wait_for(link, lambda e: isinstance(e, (Ok, Fail)), FLUSH_S)
                if not isinstance(ev, m.Version):  # some other frame first: ask once more, now as J11
                    return (yield from probe(link))
                return j11_result(ev)
            # not J11: flush the frame as a garbage line and let its FAIL (ER04) pass before the
            # probe's next SKSREG SFE 0, so that answer is not taken for SFE 0's
            yield Send(b"\r\n", "<line end> (flush the J11 frame: not a J11 adapter)")
            yield from sleep(link, FLUSH_S)
            value = None
            continue
        value = yield item


def skstack_rearm(link: Link) -> Flow:
    """SKSREG SFE 0: the dongle may have reset (echo back on): cheap to redo."""
    r = yield from command(link, cmd.sksreg("SFE", "0"), link.settings.probe_timeout_s)
    if r.final is None:
        raise DongleSilent("SKSREG SFE 0", link.received)
