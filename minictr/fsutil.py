"""File-tree helpers every layer shares."""
from __future__ import annotations

import os


def remove_tree(path: str) -> None:
    """rmtree without shutil's import (it pulls in lzma and bz2): the
    container's dirs hold plain files, symlinks and directories."""
    for base, dirs, files in os.walk(path, topdown=False):
        for name in files:
            try:
                os.unlink(os.path.join(base, name))
            except FileNotFoundError:
                pass
        for name in dirs:
            full = os.path.join(base, name)
            try:
                if os.path.islink(full):
                    os.unlink(full)
                else:
                    os.rmdir(full)
            except FileNotFoundError:
                pass
            except OSError:   # a mount point left by an interrupted start: leave it to the next rm
                pass
    try:
        os.rmdir(path)
    except OSError:
        pass
