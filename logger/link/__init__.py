"""The dongle link: one sans-I/O dialogue (probe, scan, join, send) for ``run`` and ``doctor``.

Layers (each imports only those to its left): skstack ← link ← session ← runner. Doctor
imports link, never session. Nothing here reads a clock, sleeps or touches a port: the owner
feeds bytes and time into :class:`~logger.link.link.Link` and drives flows with
:class:`~logger.link.flow.Driver`.

* :mod:`.flow`     flow primitives (Send, Wait, Note; command, wait_for, sleep) and the Driver
* :mod:`.link`     parser, dialect, time and send gates of one open port
* :mod:`.settings` LinkSettings and their defaults
* :mod:`.probe`    dongle answers? which family? ERXUDP mode
* :mod:`.scan`     ladder, chunked sweep, PairID choice
* :mod:`.join`     credentials, join, candidates, terminate
* :mod:`.send`     SKSENDTO behind the duty-limit and re-authentication gates
* :mod:`.backoff`  recovery timing as pure functions
* :mod:`.errors`   what a flow raises to its owner
"""
