"""The modules a plain `minictr run --rm busybox true` imports, against the
list in run_imports.txt (its default bridge made already): every import on the start path costs every
container start, so a new one (a heavy library pulled in by a top-level
import) must show up here, and be either justified in the list or moved
into the function that needs it. A module that left the path is good
news: the list is brought up to date then too.

Regenerate the list: MINICTR_WRITE_RUN_IMPORTS=1 with this test."""
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

LIST = Path(__file__).with_name("run_imports.txt")
HEADER = "# what a plain `minictr run --rm busybox true` imports: tests/engine/test_run_imports.py\n"


def imported_by_run(mc) -> set[str]:
    launcher = mc.venv_minictr
    first = launcher.read_text().splitlines()[0]
    if "-S" not in first.split():
        pytest.skip(f"{launcher} is not minictr's launcher (python -m minictr.launchers writes it)")
    python = first[2:].split()[0]
    # the first container on a bridge makes it (and its iptables rules):
    # that once-per-host path is not the one measured
    mc("run", "--rm", "busybox", "true", check=True, timeout=60)
    res = subprocess.run([python, "-S", "-X", "importtime", str(launcher), "run", "--rm", "busybox", "true"],
                         env=mc.env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-2000:]
    names = set()
    for line in res.stderr.splitlines():
        if line.startswith("import time:") and "imported package" not in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def test_a_plain_run_imports_only_the_listed_modules(mc):
    names = imported_by_run(mc)
    if os.environ.get("MINICTR_WRITE_RUN_IMPORTS"):
        LIST.write_text(HEADER + "".join(f"{n}\n" for n in sorted(names)))
    listed = {line.strip() for line in LIST.read_text().splitlines() if line.strip() and not line.startswith("#")}
    new, gone = sorted(names - listed), sorted(listed - names)
    assert not new, f"a plain run now imports {new}: import them where they are used, or list them"
    assert not gone, f"a plain run no longer imports {gone}: take them off {LIST.name}"
