"""An image state's files as one tree to read from (COPY --from, names in
--chown): no layer, an empty dir; one layer, its snapshot dir itself;
more, a read-only overlay of them mounted for the step and detached after."""
from __future__ import annotations

import contextlib
import os
import tempfile

from minictr import explain
from minictr._native._shim import ffi, lib
from minictr.build.errors import BuildError

MS_RDONLY, MNT_DETACH = 1, 2


@contextlib.contextmanager
def read_only_tree(snapshots, chain_ids: list[str], scratch_dir: str):
    if not chain_ids:
        with tempfile.TemporaryDirectory(dir=scratch_dir) as empty:
            yield empty
        return
    lowers = snapshots.lowerdirs(chain_ids)
    if len(lowers) == 1:
        yield lowers[0]
        return
    os.makedirs(scratch_dir, exist_ok=True)
    target = tempfile.mkdtemp(prefix="tree-", dir=scratch_dir)
    data = ("lowerdir=" + ":".join(lowers)).encode()
    explain.step("mount overlay (ro)", f"{target}: {len(lowers)} layers of a stage, read for a copy")
    if lib.mount(b"overlay", os.fsencode(target), b"overlay", MS_RDONLY, data) != 0:
        err = ffi.errno
        os.rmdir(target)
        raise BuildError(f"mount a stage's layers at {target}: {os.strerror(err)}")
    try:
        yield target
    finally:
        lib.umount2(os.fsencode(target), MNT_DETACH)
        os.rmdir(target)
