"""ROHM J11 firmware (RATOC RS-WSUHA-J11, ROHM BP35C1-J11-T01): the binary command set, host side.

A peer of :mod:`logger.skstack` at the bottom layer, sans-I/O like it (bytes in, events out):

* :mod:`logger.j11.frame` — the 12-byte-header frame: encoder, :class:`~logger.j11.frame.J11Parser`
  (resynchronises on the unique code, rejects bad checksums/lengths as ``Garbage``; never raises).
* :mod:`logger.j11.codes` — command codes and the one table of result codes → causes.
* :mod:`logger.j11.requests` — builders for what a B-route logger sends (validated; secrets never
  in a message).
* :mod:`logger.j11.messages` — :func:`~logger.j11.messages.decode`: a frame → a typed response or
  notification.

Facts come from ROHM's J11 UART IF command specification as quoted by broute-j11 0.1.0 (MIT,
written against real hardware) and two other hardware clients; each module says which and what is
uncertain. The simulator's J11 side (``logger/simulate/j11``) is written independently on purpose.
"""
