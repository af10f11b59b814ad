"""``smartmeter-logger simulate``: serve a simulated dongle + meter on a pty or TCP port.

Prints the pty path (or ``socket://HOST:PORT`` with ``--listen``) on stdout and runs until
SIGINT/SIGTERM. The meter's credentials come, like ``run``'s, from ``--rbid``/``--password``,
else ``BROUTE_ID``/``BROUTE_PASSWORD`` in the environment or ``.env`` (``--env-file``), else the
documented demo credentials: B-route ID ``0123456789ABCDEF0123456789ABCDEF``, password
``SIMPASSWORD1`` (fake: the simulated meter is the only thing that accepts them). stderr says
which ID is served: the demo ID in full; any other only by where it came from (never its value).
Pass credentials through the environment rather than flags: flags are visible in ``ps``.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import signal
import sys
import time

from logger.simulate.dongle import DEMO_PASSWORD, DEMO_RBID, DongleConfig, DongleSim
from logger.simulate.faults import FaultError, FaultPlan, parse_fault
from logger.simulate.neighbours import MAX_NEIGHBOURS, neighbourhood
from logger.simulate.profiles import DIALECTS
from logger.skstack.families import ROWS, is_j11

#: Families of the J11 binary command set (names and aliases from the one family table).
J11_NAMES = tuple(sorted({f.name for f in ROWS if f.command_set == "j11"}
                         | {a for f in ROWS if f.command_set == "j11" for a in f.aliases}))


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dongle",
        choices=(*DIALECTS, *J11_NAMES),
        default="bp35a1",
        help="dongle family to imitate (default bp35a1); j11 = a ROHM J11 binary-command adapter "
        "(RATOC RS-WSUHA-J11, ROHM BP35C1-J11-T01)",
    )
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="serve on TCP (pyserial URL socket://HOST:PORT; port 0 picks a free one) instead of a pty",
    )
    parser.add_argument(
        "--link",
        metavar="PATH",
        help="keep a symlink to the current pty at PATH (stable across unplug faults)",
    )
    parser.add_argument(
        "--rbid",
        help="the meter's 32-character B-route ID (default: BROUTE_ID from the environment or .env, else the "
        "demo ID; prefer the environment: flags show in ps)",
    )
    parser.add_argument(
        "--password",
        help="the meter's B-route password (default: BROUTE_PASSWORD from the environment or .env, else the "
        "demo password)",
    )
    parser.add_argument("--env-file", metavar="PATH", default=".env", help="dotenv file (default: .env)")
    parser.add_argument(
        "--min-scan-duration",
        type=int,
        default=5,
        metavar="N",
        help="smallest SKSCAN DURATION that hears the meter's beacon (default 5)",
    )
    parser.add_argument(
        "--neighbours",
        default="0",
        metavar="N",
        help=f"other households' meters in range, 0..{MAX_NEIGHBOURS} (default 0): each beacons on its own "
        "channel below the meter's, louder than it; joining one fails like wrong credentials",
    )
    parser.add_argument(
        "--notify",
        choices=("inf", "infc", "none"),
        default="inf",
        help="half-hourly EA/EB push as INF, INFC (needs INFC_Res) or none",
    )
    parser.add_argument(
        "--loss",
        type=float,
        default=0.0,
        metavar="PCT",
        help="drop this %% of requests and answers",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (latency, loss, load curve)")
    parser.add_argument(
        "--solar",
        type=int,
        default=0,
        metavar="W",
        help="peak PV export in W (0 = no solar)",
    )
    parser.add_argument(
        "--single-phase",
        action="store_true",
        help="single-phase two-wire service (E8 has no T phase)",
    )
    parser.add_argument(
        "--meter-clock-offset",
        type=float,
        default=0.0,
        metavar="S",
        help="the meter's clock minus the real time, in seconds (default 0): 0x97/0x98, EA/EB timestamps and "
        "the history follow it; e.g. 259200 looks to a logger like a host clock three days behind",
    )
    parser.add_argument(
        "--meter-drift-ppm",
        type=float,
        default=0.0,
        metavar="PPM",
        help="how fast the meter's clock gains (negative: loses), in parts per million (default 0)",
    )
    parser.add_argument(
        "--session-lifetime",
        type=float,
        default=86400.0,
        metavar="S",
        help="PANA session lifetime in seconds (default 86400)",
    )
    parser.add_argument(
        "--pana-fail-time",
        type=float,
        default=38.0,
        metavar="S",
        help="seconds until EVENT 24 when a join cannot succeed (default 38, as PANA retries)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="AT:KIND[:ARG]",
        help="scripted fault, seconds after start: silence:SECONDS, drop, drop-28, reset, "
        "garbage:BYTES, unplug (repeatable)",
    )


def _listen_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"--listen {text!r} is not HOST:PORT (e.g. 127.0.0.1:5000)")
    return host, int(port)


def _credentials(args: argparse.Namespace) -> tuple[str, str, str]:
    """(B-route ID, password, what stderr may say about them): flags, else the environment / .env
    (read as ``run`` reads them), else the demo credentials."""
    from logger.config import environment

    env = environment(dotenv=args.env_file)
    rbid = args.rbid or env.get("BROUTE_ID") or DEMO_RBID
    password = args.password or env.get("BROUTE_PASSWORD") or DEMO_PASSWORD
    if rbid == DEMO_RBID and password == DEMO_PASSWORD:
        said = f"the demo credentials: BROUTE_ID={DEMO_RBID} BROUTE_PASSWORD={DEMO_PASSWORD}"
    else:
        where = "--rbid" if args.rbid else ("BROUTE_ID" if env.get("BROUTE_ID") else "the demo ID")
        said = f"the B-route ID from {where} ({len(rbid)} characters, not shown) and its password"
    return rbid, password, said


def _neighbour_count(text: str) -> int:
    count = int(text) if text.strip().isdigit() else -1
    if not 0 <= count <= MAX_NEIGHBOURS:
        raise ValueError(f"--neighbours must be a whole number from 0 to {MAX_NEIGHBOURS}, got {text!r}")
    return count


def main(args: argparse.Namespace) -> int:
    from logger.simulate.meter import MeterConfig, MeterSim
    from logger.simulate.server import PtyServer, TcpServer

    start = time.time()
    try:
        address = _listen_address(args.listen) if args.listen else None
        plan = FaultPlan(args.loss, sorted(parse_fault(spec, start) for spec in args.fault))
        meter_config = MeterConfig(
            notify=args.notify,
            solar_w=args.solar,
            three_wire=not args.single_phase,
            seed=args.seed,
            clock_offset_s=args.meter_clock_offset,
            clock_drift_ppm=args.meter_drift_ppm,
        )
        rbid, password, source = _credentials(args)
        config = DongleConfig(
            rbid=rbid,
            password=password,
            min_scan_duration=args.min_scan_duration,
            session_lifetime=args.session_lifetime,
            pana_fail_time=args.pana_fail_time,
            faults=plan,
        )
        count = _neighbour_count(args.neighbours)
        if count:
            config = dataclasses.replace(config, neighbours=neighbourhood(config, count, seed=args.seed))
    except (ValueError, FaultError) as exc:
        print(f"smartmeter-logger simulate: error: {exc}", file=sys.stderr)
        return 2
    meter = MeterSim(meter_config, start)
    if is_j11(args.dongle):
        from logger.simulate.j11 import J11Sim

        dongle = J11Sim(meter, config, random.Random(args.seed))
    else:
        dongle = DongleSim(args.dongle, meter, config, random.Random(args.seed))
    try:
        server = TcpServer(dongle, *address) if address else PtyServer(dongle, link=args.link)
    except OSError as exc:
        print(
            f"smartmeter-logger simulate: error: cannot open the endpoint: {exc}",
            file=sys.stderr,
        )
        return 2
    print(server.url if isinstance(server, TcpServer) else server.path, flush=True)
    print(f"smartmeter-logger simulate: serving a {args.dongle} dongle; the meter accepts {source}",
          file=sys.stderr, flush=True)

    def _stop(_signum: int, _frame: object) -> None:
        server.request_stop()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever()
    finally:
        server.close()
    return 0
