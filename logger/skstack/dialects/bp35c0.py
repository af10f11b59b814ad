"""ROHM BP35C0 / BP35C2 (and Ratoc RS-WSUHA-P): dual stack plus ROHM WOPT/ROPT.

With ``SKSREG SA2 1`` ERXUDP carries an extra RSSI (LQI byte) field before SECURED.
The factory ERXUDP format is not documented consistently, so the parser decides
per line; ``default_binary`` follows the ROHM factory setting (WOPT 00).
"""

from logger.skstack.dialects.base import ERXUDP_DS, ERXUDP_DS_RSSI, EVENT_DS, Dialect


class BP35C0(Dialect):
    name = "bp35c0"
    aliases = ("bp35c2",)
    dual_stack = True
    rohm = True
    default_binary = True
    erxudp_layouts = (ERXUDP_DS, ERXUDP_DS_RSSI)
    event_fields = EVENT_DS


DIALECT = BP35C0()
