"""Run a command without root's permission bypass, so permission-denied paths are real here.

CI runs as root, and root ignores file modes (CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH). Dropping
those two capabilities (util-linux ``setpriv``) makes uid 0 obey modes like any other user,
while it can still read the interpreter and the files it owns."""

from __future__ import annotations

import os
import shutil

DROP = "-dac_override,-dac_read_search"


def unprivileged(argv: list[str]) -> list[str]:
    """``argv`` as is for an ordinary user; for root, prefixed to run without the bypass."""
    if os.geteuid() != 0:
        return argv
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to test permission errors as root: apt-get install util-linux"
    return [setpriv, f"--inh-caps={DROP}", f"--bounding-set={DROP}", *argv]
