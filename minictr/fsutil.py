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


def dir_size(path: str) -> int:
    """Bytes of the files below `path` (each hard-linked inode once)."""
    total, seen = 0, set()
    for base, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(base, name))
            except OSError:
                continue
            if st.st_nlink > 1:
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
            total += st.st_size
    return total
