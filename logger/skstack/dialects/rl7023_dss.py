"""Tessera RL7023 Stick-D/DSS: dual stack (SIDE everywhere), no ROHM commands, ERXUDP always hex."""

from logger.skstack.dialects.base import ERXUDP_DS, EVENT_DS, Dialect


class RL7023DSS(Dialect):
    name = "rl7023-dss"
    dual_stack = True
    erxudp_layouts = (ERXUDP_DS,)
    event_fields = EVENT_DS


DIALECT = RL7023DSS()
