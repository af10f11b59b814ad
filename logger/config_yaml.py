"""settings.yml parsed by PyYAML in a forked child, so the logger itself never imports yaml.

PyYAML (its modules and the libyaml extension) stays in a process's memory once imported:
about 1.8 MB of resident memory measured on top of the logger's ~19 MB, for a file read once
at start. On Linux (and every POSIX system) the file is parsed in a child made with
:func:`os.fork` (copy-on-write: no new interpreter starts), which sends the result back through
a pipe as :mod:`marshal` data (built in: nothing more to import) and exits. The parent waits for
it; start-up is the only moment this happens, before any thread exists. Where ``fork`` is
missing the file is parsed in-process, as before.

What ``yaml.safe_load`` can give that marshal cannot carry (a date or a timestamp, which no
setting takes) is sent as its ISO text; the settings validators then name it like any wrong
value.
"""

from __future__ import annotations

import marshal
import os
from datetime import date, datetime

from logger.typehints import Any

#: what the child sends: ("ok", data) | ("yaml", line or None) | ("crash", text)
Result = tuple[str, Any]


class YamlError(ValueError):
    """The text is not valid YAML; ``line``: 1-based, when PyYAML says where."""

    def __init__(self, line: int | None) -> None:
        super().__init__(f"not valid YAML{f' at line {line}' if line is not None else ''}")
        self.line = line


def parse_yaml(text: str) -> Any:
    """``yaml.safe_load(text)`` without importing yaml here (see the module docstring); raises
    :class:`YamlError` for invalid YAML and :class:`OSError` if the child cannot be made."""
    if not hasattr(os, "fork"):
        return _unpack(_parse(text))
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: parse, send, leave without running the parent's exit handlers
        code = 0
        try:
            os.close(read_end)
            payload = marshal.dumps(_parse(text))
            view = memoryview(payload)
            while view:
                view = view[os.write(write_end, view):]
        except BaseException:  # noqa: BLE001 - anything: the parent reports a crash
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    chunks = []
    with os.fdopen(read_end, "rb") as pipe:
        while chunk := pipe.read(65536):
            chunks.append(chunk)
    os.waitpid(pid, 0)
    try:
        result = marshal.loads(b"".join(chunks))
    except (EOFError, ValueError, TypeError):
        result = ("crash", "the YAML reader ended without an answer")
    return _unpack(result)


def _unpack(result: Result) -> Any:
    kind, value = result
    if kind == "ok":
        return value
    if kind == "yaml":
        raise YamlError(value)
    raise YamlError(None) from RuntimeError(value)


def _parse(text: str) -> Result:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return ("yaml", mark.line + 1 if mark is not None else None)
    except RecursionError:  # absurdly deep nesting
        return ("yaml", None)
    return ("ok", _plain(data))


def _plain(value: Any) -> Any:
    """``value`` with every date and timestamp as its ISO text (marshal carries the rest)."""
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, set):
        return {_plain(v) for v in value}
    return value
