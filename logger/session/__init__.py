"""The meter session (see :mod:`logger.session.core`)."""

from logger.session.actions import Action, Phase, Record, Reopen, SaveState, Send, SessionConfig, Stop
from logger.session.core import Session
from logger.session.polling import ENERGY_EPCS

__all__ = ["ENERGY_EPCS", "Action", "Phase", "Record", "Reopen", "SaveState", "Send", "Session", "SessionConfig",
           "Stop"]
