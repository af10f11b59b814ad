"""The import rule of docs/design.md, enforced on the source (static, transitive):

    skstack ← link ← session ← runner;  doctor imports link, never session;
    nothing below the runner imports time, serial or socket, or reads the wall clock.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "logger"

#: Layers below the runner: protocol code that is fed bytes and time.
BELOW_RUNNER = ("logger.skstack", "logger.j11", "logger.link", "logger.session", "logger.echonet", "logger.recording",
                "logger.backfill", "logger.readings", "logger.schedule", "logger.state")
IO_MODULES = ("time", "serial", "socket", "select", "threading", "logger.transport", "logger.clock")
WALL_CLOCK = {("datetime", "now"), ("datetime", "today"), ("date", "today"), ("datetime", "utcnow"),
              ("time", "time"), ("time", "monotonic"), ("time", "sleep")}
DOCTOR = ("logger.diagnose", "logger.dongle_checks", "logger.commands.doctor")


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}


def _tree(name: str) -> ast.Module:
    return ast.parse(MODULES[name].read_text(encoding="utf-8"))


@cache
def direct_imports(name: str) -> frozenset[str]:
    """Every module ``name`` imports, wherever in the file (lazy imports count too)."""
    found: set[str] = set()
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(_tree(name)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES)
    return frozenset(found)


def _owned(name: str) -> str | None:
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


@cache
def closure(name: str) -> frozenset[str]:
    """``name`` and everything it imports, transitively (third-party modules as leaves)."""
    seen, todo = set(), [name]
    while todo:
        cur = todo.pop()
        if cur in seen:
            continue
        seen.add(cur)
        own = _owned(cur)
        if own is not None:
            if own != cur:
                todo.append(own)
            else:
                todo.extend(direct_imports(cur))
                parent = cur.rpartition(".")[0]
                if parent in MODULES:
                    todo.append(parent)
    return frozenset(seen)


def _under(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_the_layers_exist():
    for layer in ("logger.skstack", "logger.link", "logger.session", "logger.runner"):
        assert layer in MODULES


@pytest.mark.parametrize("name", sorted(n for n in MODULES if _under(n, BELOW_RUNNER)))
def test_nothing_below_the_runner_does_io_or_reads_the_clock(name):
    bad = sorted(m for m in closure(name) if _under(m, IO_MODULES))
    assert not bad, f"{name} imports {bad}"
    for node in ast.walk(_tree(name)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                isinstance(node.func.value, ast.Name):
            assert (node.func.value.id, node.func.attr) not in WALL_CLOCK, \
                f"{name}:{node.lineno} reads the wall clock ({node.func.value.id}.{node.func.attr})"


@pytest.mark.parametrize(("lower", "higher"), [
    ("logger.skstack", ("logger.link", "logger.session", "logger.runner", "logger.app")),
    ("logger.j11", ("logger.link", "logger.session", "logger.runner", "logger.app", "logger.simulate")),
    ("logger.link", ("logger.session", "logger.runner", "logger.app", "logger.config")),
    ("logger.session", ("logger.runner", "logger.app", "logger.diagnose", "logger.dongle_checks")),
])
def test_each_layer_imports_only_those_below_it(lower, higher):
    for name in (n for n in MODULES if _under(n, (lower,))):
        bad = sorted(m for m in closure(name) if _under(m, higher))
        assert not bad, f"{name} imports {bad}"


@pytest.mark.parametrize("name", DOCTOR)
def test_doctor_uses_the_link_never_the_session(name):
    deps = closure(name)
    assert not any(_under(m, ("logger.session", "logger.runner", "logger.app")) for m in deps), name


def test_run_and_doctor_share_the_link():
    assert "logger.link.join" in closure("logger.dongle_checks")
    assert "logger.link.join" in closure("logger.session.core")


def test_the_rule_sees_a_violation(tmp_path):
    """The checker itself: an import of time in a protocol module would be found."""
    tree = ast.parse("import time\nfrom datetime import datetime\nx = datetime.now()\n")
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    calls = {(n.func.value.id, n.func.attr) for n in ast.walk(tree)
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name)}
    assert "time" in names and calls & WALL_CLOCK
