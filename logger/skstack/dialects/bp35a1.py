"""ROHM BP35A1 (and JORJIN WSR35A1-00): single stack, ROHM WOPT/ROPT, ERXUDP binary by factory default."""

from logger.skstack.dialects.base import Dialect


class BP35A1(Dialect):
    name = "bp35a1"
    rohm = True
    default_binary = True  # factory WOPT 00


DIALECT = BP35A1()
