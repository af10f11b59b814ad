"""Commands the simulated dongle answers on its own, without the radio.

SKVER, SKAPPVER, SKINFO, SKRESET, SKSREG, SKSETPWD, SKSETRBID, SKLL64, SKTABLE and the
ROHM product commands WOPT/ROPT/WUART/RUART (answers end in CR alone; Tessera firmware
answers them ``FAIL ER04``). ``SKLL64`` prints the address and no ``OK``. ``SKTABLE E`` is
modelled (with the BP35A1 quirk); modes 1 and 2 answer ``FAIL ER06``. ``SKSETRBID`` also
sets the pairing ID register S0A to the last 8 characters of the B-route ID.
"""

from __future__ import annotations

from logger.simulate.arguments import CommandFailed, expect_args, hex_arg
from logger.simulate.core import DongleCore
from logger.simulate.registers import R_AIRTIME, R_CHANNEL, R_LIMITED, R_PAIRING, R_PAN
from logger.simulate.wire import CRLF, is_eui64, ll64


class LocalCommands(DongleCore):
    def _cmd_skver(self, args: list[str], now: float) -> None:
        expect_args(args, 0)
        self._reply(now, f"EVER {self.profile.ever}".encode() + CRLF)
        self._ok(now)

    def _cmd_skappver(self, args: list[str], now: float) -> None:
        expect_args(args, 0)
        self._reply(now, f"EAPPVER {self.profile.eappver}".encode() + CRLF)
        self._ok(now)

    def _cmd_skinfo(self, args: list[str], now: float) -> None:
        expect_args(args, 0)
        self._reply(
            now,
            self.profile.einfo(int(self.registers[R_CHANNEL]), int(self.registers[R_PAN])),
        )
        self._ok(now)

    def _cmd_skreset(self, args: list[str], now: float) -> None:
        expect_args(args, 0)
        self._ok(now)
        # Answers already queued (this OK included) still reach the host.
        self._power_on(keep_until=self._busy_until)

    def _cmd_sksreg(self, args: list[str], now: float) -> None:
        expect_args(args, 1, 2)
        number = self.registers.lookup(args[0])
        if len(args) == 1:
            computed = {R_LIMITED: int(self.duty.limited), R_AIRTIME: int(self.duty.since_boot_ms)}
            self._reply(now, f"ESREG {self.registers.text(number, computed)}".encode() + CRLF)
            self._ok(now)
            return
        self.registers.write(number, args[1])
        self._ok(now)

    def _cmd_sksetpwd(self, args: list[str], now: float) -> None:
        expect_args(args, 2)
        length = hex_arg(args[0], 2, 1, 32)
        if len(args[1]) != length:
            raise CommandFailed("ER06")
        self._pwd = args[1]
        self._ok(now)

    def _cmd_sksetrbid(self, args: list[str], now: float) -> None:
        expect_args(args, 1)
        if len(args[0]) != 32:
            raise CommandFailed("ER06")
        self._rbid = args[0]
        self.registers[R_PAIRING] = args[0][-8:]
        self._ok(now)

    def _cmd_skll64(self, args: list[str], now: float) -> None:
        expect_args(args, 1)
        if not is_eui64(args[0]):
            raise CommandFailed("ER06")
        self._reply(now, ll64(args[0]).encode() + CRLF)

    def _cmd_sktable(self, args: list[str], now: float) -> None:
        expect_args(args, 1)
        if args[0].upper() != "E":
            raise CommandFailed("ER06")
        self._reply(now, self.profile.eport())
        self._ok(now)

    def _cmd_wopt(self, args: list[str], now: float) -> None:
        expect_args(args, 1)
        if args[0] not in ("00", "01", "0", "1"):
            raise CommandFailed("ER06")
        self.wopt = int(args[0])
        self._ok(now, end=b"\r")

    def _cmd_ropt(self, args: list[str], now: float) -> None:
        expect_args(args, 0)
        self._ok(now, f"{self.wopt:02X}", end=b"\r")

    def _cmd_wuart(self, args: list[str], now: float) -> None:
        expect_args(args, 1)
        self.wuart = hex_arg(args[0], 2)
        self._ok(now, end=b"\r")

    def _cmd_ruart(self, args: list[str], now: float) -> None:
        expect_args(args, 0)
        self._ok(now, f"{self.wuart:02X}", end=b"\r")
