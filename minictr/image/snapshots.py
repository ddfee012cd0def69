"""Snapshots step of the image path: one directory per layer chain ID, each
holding only that layer's own diff (overlay whiteouts included), shared by
every image that has the same chain. overlayfs stacks them as lowerdirs.

Layout under the root:

    <chain-id-hex>/fs        the layer's files
    <chain-id-hex>/parent    the parent's chain ID ("" for a base layer)
    .tmp-*/                  a snapshot being prepared or removed

A snapshot is filled in a temp dir and renamed into place, so a real name
only ever holds a complete layer; a killed unpack leaves a `.tmp-*` dir,
which prune_temp removes. A temp dir in use is flock'ed by its owner, so
pruning never takes one that is being filled. Two processes preparing the
same chain both unpack; the first rename wins and the other drops its copy.

As containerd's snapshotters do, this returns mount descriptions (`Mount`)
and never mounts; the runtime performs them.
"""
from __future__ import annotations

import errno
import fcntl
import os

from minictr.image.errors import ImageError
from minictr.oci import digest as _digest
from minictr import explain

_TEMP_PREFIX = ".tmp-"
_FS, _PARENT = "fs", "parent"


class SnapshotError(ImageError):
    pass


class Mount:
    """One mount for the runtime to perform, as containerd's mount.Mount."""

    __slots__ = ("type", "source", "options")

    def __init__(self, type: str, source: str, options: list[str]):
        self.type, self.source, self.options = type, source, options

    def as_oci(self, destination: str) -> dict:
        """The entry for an OCI config.json `mounts` list."""
        return {"destination": destination, "type": self.type, "source": self.source,
                "options": list(self.options)}

    def __eq__(self, other) -> bool:
        return isinstance(other, Mount) and (self.type, self.source, self.options) == \
            (other.type, other.source, other.options)

    def __repr__(self) -> str:
        return f"Mount({self.type!r}, {self.source!r}, {self.options!r})"


def _dirname(chain_id: str) -> str:
    try:
        algo, hexpart = _digest.parse(chain_id)
    except _digest.InvalidDigest as e:
        raise SnapshotError(f"bad chain ID: {e}") from None
    return hexpart if algo == "sha256" else f"{algo}-{hexpart}"


def _chain_id(dirname: str) -> str | None:
    algo, _, hexpart = dirname.rpartition("-")
    chain_id = f"{algo or 'sha256'}:{hexpart}"
    return chain_id if _digest.is_valid(chain_id) else None


class Snapshots:
    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        os.makedirs(self.root, mode=0o700, exist_ok=True)

    def _dir(self, chain_id: str) -> str:
        return os.path.join(self.root, _dirname(chain_id))

    def path(self, chain_id: str) -> str:
        """The snapshot's file tree (what overlayfs gets as a lowerdir)."""
        return os.path.join(self._dir(chain_id), _FS)

    def exists(self, chain_id: str) -> bool:
        return os.path.isdir(self.path(chain_id))

    def parent(self, chain_id: str) -> str | None:
        """The chain ID recorded as this snapshot's parent; None for a base layer."""
        try:
            with open(os.path.join(self._dir(chain_id), _PARENT)) as f:
                return f.read().strip() or None
        except FileNotFoundError:
            raise SnapshotError(f"no snapshot {chain_id}") from None

    def chain(self, chain_id: str) -> list[str]:
        """The chain IDs from the base layer up to `chain_id` (image order),
        following the recorded parents."""
        out = [chain_id]
        while (parent := self.parent(out[-1])) is not None:
            out.append(parent)
        return out[::-1]

    def prepare(self, chain_id: str, parent_chain_id: str | None, fill) -> str:
        """Make the snapshot `chain_id` unless it exists: fill(tmp_fs_dir)
        writes the layer's files into an empty directory, which is then
        renamed into place. Returns the snapshot's path. An exception from
        fill removes the temp dir and propagates. The parent need not exist
        yet (a pull unpacks layers in parallel); it is recorded for chain().

        Nothing is fsync'ed: a killed process never leaves a partial
        snapshot under a real name, but after a power cut the page cache's
        unwritten data is lost as with docker's and podman's layer stores."""
        import shutil   # here, not at the top: a container start needs neither module
        final = self._dir(chain_id)
        if parent_chain_id:
            _dirname(parent_chain_id)
        if self.exists(chain_id):
            return self.path(chain_id)
        tmp, lock = self._locked_temp_dir()
        try:
            fs = os.path.join(tmp, _FS)
            os.mkdir(fs)
            os.chmod(fs, 0o755)      # a layer without a './' entry gets docker's default root mode
            with open(os.path.join(tmp, _PARENT), "w") as f:
                f.write(parent_chain_id or "")
            fill(fs)
            try:
                os.rename(tmp, final)   # `final` would be non-empty: never replaced
            except OSError as e:
                if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
                shutil.rmtree(tmp, ignore_errors=True)   # a concurrent preparer won
            else:
                explain.step(f"rename({os.path.basename(tmp)}, {os.path.basename(final)})",
                             f"snapshot {chain_id} complete under its chain ID, "
                             + (f"on parent {parent_chain_id}" if parent_chain_id else "a base layer"))
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            os.close(lock)
        return self.path(chain_id)

    def _locked_temp_dir(self) -> tuple[str, int]:
        """A new temp dir and an fd holding its flock. If prune_temp took the
        dir between its creation and our lock, make another."""
        import tempfile
        while True:
            tmp = tempfile.mkdtemp(prefix=_TEMP_PREFIX, dir=self.root)
            try:
                fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                if os.path.samestat(os.stat(tmp), os.fstat(fd)):
                    return tmp, fd
            except FileNotFoundError:
                pass
            os.close(fd)

    def lowerdirs(self, chain_ids: list[str]) -> list[str]:
        """The snapshot dirs of an image's chain IDs (given in image order,
        base first) in overlayfs lowerdir order: top layer first."""
        out = []
        for chain_id in reversed(chain_ids):
            path = self.path(chain_id)
            if not os.path.isdir(path):
                raise SnapshotError(f"no snapshot {chain_id}")
            out.append(path)
        return out

    def mounts(self, chain_ids: list[str], upperdir: str | None = None,
               workdir: str | None = None) -> list[Mount]:
        """How to mount the image's layers (image order, base first): an
        overlay with the given upper/work dirs, or, without them, a
        read-only view (a bind mount for a single layer, which overlayfs
        cannot stack alone)."""
        lowers = self.lowerdirs(chain_ids)
        for path in lowers + [p for p in (upperdir, workdir) if p]:
            if ":" in path or "," in path:
                raise SnapshotError(f"{path}: overlayfs options cannot hold ':' or ','")
        if upperdir is None:
            if not lowers:
                raise SnapshotError("a read-only view needs at least one layer")
            if len(lowers) == 1:
                return [Mount("bind", lowers[0], ["ro", "rbind"])]
            return [Mount("overlay", "overlay", ["lowerdir=" + ":".join(lowers)])]
        if workdir is None:
            raise SnapshotError("an overlay with an upperdir needs a workdir")
        if not lowers:   # an image with no layers (FROM scratch and nothing added)
            return [Mount("bind", upperdir, ["rw", "rbind"])]
        return [Mount("overlay", "overlay", [f"workdir={workdir}", f"upperdir={upperdir}",
                                             "lowerdir=" + ":".join(lowers)])]

    def remove(self, chain_id: str) -> bool:
        """Delete a snapshot (its name goes first, atomically, then its
        files). False if there was none. Whether anything still uses it is
        the caller's question."""
        import shutil
        final = self._dir(chain_id)
        tmp, lock = self._locked_temp_dir()
        try:
            gone = os.path.join(tmp, "removed")
            try:
                os.rename(final, gone)
            except FileNotFoundError:
                return False
            return True
        finally:
            os.close(lock)
            shutil.rmtree(tmp, ignore_errors=True)

    def list(self) -> list[str]:
        """Chain IDs of the complete snapshots."""
        out = []
        for name in sorted(os.listdir(self.root)):
            if not name.startswith(".") and (chain_id := _chain_id(name)) is not None:
                out.append(chain_id)
        return out

    def prune_temp(self) -> list[str]:
        """Remove temp dirs that no live process holds (left by a killed
        unpack or removal); returns their paths."""
        import shutil
        removed = []
        for name in sorted(os.listdir(self.root)):
            if not name.startswith(_TEMP_PREFIX):
                continue
            path = os.path.join(self.root, name)
            try:
                fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except (FileNotFoundError, NotADirectoryError):
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            try:
                shutil.rmtree(path)
                removed.append(path)
            except FileNotFoundError:
                pass
            finally:
                os.close(fd)
        return removed
