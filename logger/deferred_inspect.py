"""Import :mod:`dataclasses` without importing :mod:`inspect` until something really uses it.

``dataclasses`` imports ``inspect`` at its top, and ``inspect`` brings ``ast``, ``dis`` and
``tokenize``: about 1 MB of resident memory for the whole life of ``run`` (bench/footprint.py),
on a Raspberry Pi Zero. ``dataclasses`` uses it in one place only: to write a docstring
(``inspect.signature``) for a dataclass that has none, and every dataclass of the logger has one
(tests/test_lean_imports.py checks that ``run``'s modules leave ``inspect`` unimported).

:func:`defer_inspect` imports ``dataclasses`` with a stand-in module under the name ``inspect``
and takes the stand-in out of :data:`sys.modules` again at once, so any later ``import inspect``
gets the real module. The stand-in that ``dataclasses`` keeps imports the real module the first
time any of its attributes is read and answers from it: nothing behaves differently, the import
only happens later, or never. The command line calls this before it imports a command's module.
"""

from __future__ import annotations

import importlib
import sys
import types


class _ImportedOnUse(types.ModuleType):
    """A stand-in for a module: reading an attribute imports the real module and reads it there."""

    def __getattr__(self, name: str) -> object:
        if sys.modules.get(self.__name__) is self:  # read before the stand-in was taken out
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), name)


def defer_inspect() -> None:
    """Import ``dataclasses`` now, and ``inspect`` only when first used (see the module's text).

    Does nothing when either is imported already."""
    if "dataclasses" in sys.modules or "inspect" in sys.modules:
        return
    stand_in = _ImportedOnUse("inspect")
    sys.modules["inspect"] = stand_in
    try:
        import dataclasses  # noqa: F401  (imported for its side effect: it keeps the stand-in)
    finally:
        if sys.modules.get("inspect") is stand_in:
            del sys.modules["inspect"]
