"""Tessera RL7023 Stick-D/IPS: single stack, no ROHM commands (ROPT -> FAIL ER04), ERXUDP always hex."""

from logger.skstack.dialects.base import Dialect


class RL7023IPS(Dialect):
    name = "rl7023-ips"


DIALECT = RL7023IPS()
