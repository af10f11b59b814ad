"""The :mod:`typing` names the logger uses, without importing :mod:`typing` at run time.

Importing ``typing`` costs about 0.6 MB of resident memory (measured in ``bench/footprint.py``'s
release install), and the logger uses it only in annotations, which ``from __future__ import
annotations`` never evaluates. So the logger's modules take these names from here:

* ``TYPE_CHECKING`` is ``False`` at run time; type checkers treat any name ``TYPE_CHECKING`` as true,
  so under ``if TYPE_CHECKING:`` they see the real :mod:`typing` names.
* ``Any``, ``TextIO``: annotation-only placeholders at run time.
* ``Protocol``: a plain base class at run time (a structural interface for the type checker; nothing
  checks it with ``isinstance``).

``ClassVar`` is not here: :mod:`dataclasses` recognises it only when :mod:`typing` is imported, so a
dataclass declares its class constants under ``if TYPE_CHECKING:`` in its body instead.
The simulator and the optional sinks may import :mod:`typing` themselves; the logger's own run time
(``run`` with the CSV sink and the live page) does not (tests/test_lean_imports.py).
"""

from __future__ import annotations

TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any as Any
    from typing import Protocol as Protocol
    from typing import TextIO as TextIO
else:
    Any = TextIO = object

    class Protocol:
        """An interface: its methods say what an implementation provides."""

        __slots__ = ()
