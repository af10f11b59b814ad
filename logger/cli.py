"""``smartmeter-logger`` command line: a thin dispatcher.

Each subcommand lives in its own module exposing ``configure(parser)`` and
``main(args) -> int``; it is imported only when chosen, so start-up stays light
(the logger must fit a Raspberry Pi Zero).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from logger import __version__
from logger.deferred_inspect import defer_inspect

#: subcommand -> (module, one-line help)
COMMANDS = {
    "run": ("logger.commands.run", "log the meter (the main job); --simulate runs with no hardware"),
    "simulate": ("logger.simulate.command", "serve a simulated dongle + meter on a pseudo-terminal or TCP"),
    "replay": ("logger.commands.replay", "decode a dongle transcript into the CSV rows the logger would record"),
    "import": ("logger.commands.importer", "write existing CSV files to InfluxDB (idempotent)"),
    "doctor": ("logger.commands.doctor", "check config, device, dongle, meter and InfluxDB; one line per check"),
    "summary": ("logger.commands.summary", "daily / half-hour kWh and cost from the CSV files alone"),
}


def terminal_columns() -> int:
    """The terminal's width as :func:`shutil.get_terminal_size` finds it: ``COLUMNS``, else the
    terminal on standard output, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help layout, at the width argparse itself would use (the terminal's, less 2).

    argparse imports :mod:`shutil` in every formatter it makes (each parser makes one per option)
    just for that width, and shutil brings bz2, lzma, zlib and fnmatch: ~0.6 MB resident for the
    whole life of ``run`` (bench/footprint.py). Every parser here uses this formatter instead.
    """

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         terminal_columns() - 2 if width is None else width)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        formatter_class=HelpFormatter,
        prog="smartmeter-logger",
        description="B-route logger for Japanese low-voltage smart meters (Wi-SUN SKSTACK-IP dongles).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text, formatter_class=HelpFormatter)
        p.set_defaults(_module=module)
        # Options are added lazily in main() once the command is known.
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # Find the subcommand first so only its module is imported.
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in COMMANDS:
        if command is None and not argv:
            parser.print_help()
            return 2
        parser.parse_args(argv)  # prints usage/--help/--version and exits
        return 2
    defer_inspect()  # ~1 MB less for the life of run (logger/deferred_inspect.py)
    module = importlib.import_module(COMMANDS[command][0])
    sub = argparse.ArgumentParser(prog=f"smartmeter-logger {command}", description=COMMANDS[command][1],
                                  formatter_class=HelpFormatter)
    module.configure(sub)
    idx = argv.index(command)
    args = sub.parse_args(argv[:idx] + argv[idx + 1 :])
    return int(module.main(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
