"""What ``run`` keeps out of its memory: typing, inspect (and ast, dis, tokenize) and shutil are
never imported by the real ``run --simulate --web`` process, with a page loaded; and the
stand-ins that make that so (logger/typehints.py, logger/deferred_inspect.py, the CLI's help
formatter) behave exactly like what they replace."""

from __future__ import annotations

import argparse
import site
import subprocess
import sys
import textwrap

from webproc import clean_env, prime_scan_cache, start

from logger import cli

#: modules ``run`` must not import: ~0.6 MB (typing), ~1 MB (inspect and what it imports) and
#: ~0.6 MB (shutil with bz2 and lzma) of resident memory on a Raspberry Pi (docs/benchmarks.md)
KEPT_OUT = {"typing", "inspect", "ast", "dis", "shutil", "bz2", "lzma"}


def imported(log: str) -> set[str]:
    """Module names in ``-X importtime`` lines (``import time: self | cumulative | name``): every
    module imported by an import statement (``importlib.import_module`` ones are not listed)."""
    return {line.rsplit("|", 1)[1].strip() for line in log.splitlines() if line.startswith("import time:")}


def test_run_with_the_page_open_imports_none_of_them(tmp_path):
    # -S: no site start-up, so no .pth file of this machine's interpreter imports them first;
    # the site-packages directories (pyserial, PyYAML) stay on the path
    env = {"PYTHONPROFILEIMPORTTIME": "1",
           "PYTHONPATH": ":".join([clean_env()["PYTHONPATH"], *site.getsitepackages()])}
    prime_scan_cache(tmp_path / "state", tmp_path)
    logger = start(tmp_path, env=env, python=[sys.executable, "-S"])
    try:
        logger.wait_serving()
        logger.wait_rows(1)
        for path in ("", "app.js", "api/status", "api/power?day=today", "api/power?day=yesterday", "api/energy",
                     "no/such/page"):
            logger.get(path)
    finally:
        assert logger.stop() == 0
    names = imported(logger.log.read_text())
    assert {"logger.app", "logger.web.server", "logger.summary", "dataclasses"} <= names, sorted(names)
    assert not names & KEPT_OUT, sorted(names & KEPT_OUT)


def test_inspect_is_imported_when_used_and_is_then_the_real_module(tmp_path):
    code = textwrap.dedent("""
        import sys
        from logger.deferred_inspect import defer_inspect
        defer_inspect()
        import dataclasses
        assert "inspect" not in sys.modules and "ast" not in sys.modules

        @dataclasses.dataclass
        class Documented:
            '''Has a docstring: dataclasses needs no signature.'''
            x: int
        assert "inspect" not in sys.modules

        @dataclasses.dataclass
        class Bare:
            x: int
            y: str = "a"
        import inspect
        assert type(inspect) is type(sys) and inspect.signature(Bare).parameters["y"].default == "a"
        print(Bare.__doc__)
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=clean_env(), capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "Bare(x: int, y: str = 'a')"


def test_the_help_is_laid_out_as_argparse_lays_it_out(monkeypatch):
    from logger.commands import run

    helps = {}
    for columns in ("40", "100", "oops"):
        monkeypatch.setenv("COLUMNS", columns)
        ours = argparse.ArgumentParser(prog="smartmeter-logger run", formatter_class=cli.HelpFormatter)
        stock = argparse.ArgumentParser(prog="smartmeter-logger run")
        run.configure(ours)
        run.configure(stock)
        helps[columns] = ours.format_help()
        assert helps[columns] == stock.format_help()
    assert helps["40"] != helps["100"], "the width follows the terminal"
