"""Console scripts that start Python without `site` (python -S).

pip's scripts start the interpreter with `site`, which in a venv reads
pyvenv.cfg, walks site-packages for .pth files (setuptools' distutils hack
among them), and imports the distribution's sitecustomize (Debian's: the
apport hook): ~3 ms of every start here, out of a container start of ~60.
These scripts put the paths `site` would have added on sys.path
themselves; they are written for one venv, with its paths, as pip writes
its interpreter's path into its own scripts.

    .venv/bin/python -m minictr.launchers     (.ci/install runs it after pip)

A fresh `pip install` writes pip's scripts again: they work, only slower.
"""
from __future__ import annotations

import os
import sys

_TEMPLATE = '''#!{python} -S
# Written by minictr.launchers: python without site, the import paths
# site would add in this venv listed here instead.
import sys
sys.path += {paths!r}
from {module} import {function}
sys.exit({function}())
'''


def site_paths() -> list[str]:
    """What `site` adds to sys.path in this venv: site-packages and the
    directories its .pth files name (an editable install's source)."""
    import subprocess

    def path(*flags: str) -> list[str]:
        return subprocess.run([sys.executable, *flags, "-c", "import sys; print('\\n'.join(sys.path))"],
                              capture_output=True, text=True, check=True, cwd="/").stdout.splitlines()
    bare = set(path("-S"))
    out: list[str] = []
    for entry in path():
        if entry and entry not in bare and entry not in out and os.path.isdir(entry):
            out.append(entry)
    return out


def console_scripts(distribution: str = "minictr") -> list[tuple[str, str]]:
    from importlib import metadata
    return [(e.name, e.value) for e in metadata.distribution(distribution).entry_points
            if e.group == "console_scripts"]


def write(bin_dir: str) -> list[str]:
    paths = site_paths()
    written = []
    for name, target in console_scripts():
        module, _, function = target.partition(":")
        path = os.path.join(bin_dir, name)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(_TEMPLATE.format(python=sys.executable, paths=paths, module=module, function=function))
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write(os.path.dirname(sys.executable)):
        print(f"launchers: {path}")
