"""`diff`: what a container changed, read from its overlay upper dir
against the image's snapshots (no mount needed), as docker reports it:

    A  a path the image does not have
    C  a path the image has (a directory only when something below it is
       reported or its own mode, owner or mtime changed)
    D  a whiteout (a 0/0 character device); below an opaque directory
       (trusted.overlay.opaque=y) whatever the image had there

The runtime's mount points (/proc, /sys, /etc/hosts, ... created in the
upper dir when the image lacks them) are docker's "init layer" and never
reported, nor is a directory's mtime they changed. `commit` builds its
layer from the same entries."""
from __future__ import annotations

import json
import os
import posixpath
import stat

OPAQUE_XATTR = "trusted.overlay.opaque"
# docker's init layer: mount points every container gets
INIT_PATHS = ("/proc", "/sys", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/dev/console", "/etc/hosts",
              "/etc/hostname", "/etc/resolv.conf", "/etc/mtab", "/.dockerenv", "/sys/fs/cgroup")
ADDED, CHANGED, DELETED = "A", "C", "D"


class Entry:
    """One path of the upper dir that makes the container's change set."""

    __slots__ = ("path", "kind", "opaque")

    def __init__(self, path: str, kind: str, opaque: bool = False):
        self.path, self.kind, self.opaque = path, kind, opaque

    def __repr__(self) -> str:
        return f"{self.kind} {self.path}"


def is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


class LowerView:
    """The image's merged tree as overlayfs would show it, asked one path
    at a time from the snapshot dirs (top layer first)."""

    def __init__(self, layers: list[str]):
        self.layers = layers

    def lstat(self, path: str) -> os.stat_result | None:
        parts = [p for p in path.split("/") if p]
        for layer in self.layers:
            found, hidden, _ = self._in_layer(layer, parts)
            if found is not None or hidden:
                return found
        return None

    @staticmethod
    def _in_layer(layer: str, parts: list[str]) -> tuple[os.stat_result | None, bool, bool]:
        """(the entry or None, whether this layer hides the layers below,
        whether it was found below an opaque directory of this layer)."""
        current = layer
        for i, part in enumerate(parts):
            current = os.path.join(current, part)
            try:
                st = os.lstat(current)   # each component checked before the next: no link is followed
            except (FileNotFoundError, NotADirectoryError):
                return None, False, False
            if is_whiteout(st):
                return None, True, False
            if i == len(parts) - 1:
                return st, True, False
            if not stat.S_ISDIR(st.st_mode):
                return None, True, False
            if is_opaque(current):
                return _rest(current, parts[i + 1:]), True, True
        return None, False, False

    def children(self, path: str) -> set[str]:
        """The names a directory of the image holds (its merged listing)."""
        parts = [p for p in path.split("/") if p]
        names: set[str] = set()
        gone: set[str] = set()
        for layer in self.layers:
            d = os.path.join(layer, *parts)
            st, hidden, sealed = self._in_layer(layer, parts) if parts else (os.lstat(layer), False, False)
            if st is None:
                if hidden:
                    break
                continue
            if not stat.S_ISDIR(st.st_mode):
                break
            for name in os.listdir(d):
                if name in names or name in gone:
                    continue
                if is_whiteout(os.lstat(os.path.join(d, name))):
                    gone.add(name)
                else:
                    names.add(name)
            if sealed or is_opaque(d):
                break
        return names


def _rest(base: str, parts: list[str]) -> os.stat_result | None:
    """An entry below an opaque directory, found in that layer alone."""
    current = base
    for i, part in enumerate(parts):
        current = os.path.join(current, part)
        try:
            st = os.lstat(current)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if is_whiteout(st):
            return None
        if i < len(parts) - 1 and not stat.S_ISDIR(st.st_mode):
            return None
    return st


def mount_points(engine, rec) -> set[str]:
    """Where the runtime mounts things in this container: the init paths
    and every mount of its OCI config."""
    out = set(INIT_PATHS)
    try:
        with open(engine.paths(rec.id).config) as f:
            config = json.load(f)
        out.update(posixpath.normpath(m["destination"]) for m in config.get("mounts") or [])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    out.update(posixpath.normpath(v.destination) for v in rec.spec.volumes)
    return out


def lower_layers(engine, rec) -> list[str]:
    image = engine.images.records.get(rec.image_id)
    return engine.images.snapshots.lowerdirs([layer.chain_id for layer in image.layers]) if image.layers else []


def entries(engine, rec) -> list[Entry]:
    """The container's change set, sorted by path: deleted paths (D), and
    the upper dir's files (A or C), opaque directories marked."""
    upper = engine.paths(rec.id).upper
    lower = LowerView(lower_layers(engine, rec))
    mounts = mount_points(engine, rec)
    mount_parents = {posixpath.dirname(m) for m in mounts}
    for m in list(mount_parents):
        while m != "/":
            m = posixpath.dirname(m)
            mount_parents.add(m)
    out: list[Entry] = []
    try:
        fd = os.open(upper, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        return []
    try:
        _scan(fd, "/", lower, mounts, mount_parents, out)
    finally:
        os.close(fd)
    out.sort(key=lambda e: e.path)
    return out


def _scan(dfd: int, path: str, lower: LowerView, mounts: set, mount_parents: set, out: list) -> bool:
    """Entries for the upper dir's directory `path` (open as `dfd`; its
    subdirectories opened O_NOFOLLOW below it, so a link a running
    container swaps in is never walked); whether any was reported (then
    its directory is, too)."""
    reported = False
    names = sorted(os.listdir(dfd))
    for name in names:
        child = posixpath.join(path, name)
        if child in mounts:
            continue
        try:
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            continue   # removed by the container meanwhile
        if is_whiteout(st):
            out.append(Entry(child, DELETED))
            reported = True
            continue
        below = lower.lstat(child)
        if stat.S_ISDIR(st.st_mode):
            try:
                cfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
            except (FileNotFoundError, NotADirectoryError, OSError):
                continue
            try:
                opaque = _opaque_fd(cfd)
                inner = _scan(cfd, child, lower, mounts, mount_parents, out)
                if opaque and below is not None and stat.S_ISDIR(below.st_mode):
                    for gone in sorted(lower.children(child) - set(os.listdir(cfd))):
                        out.append(Entry(posixpath.join(child, gone), DELETED))
                        inner = True
            finally:
                os.close(cfd)
            if below is None or inner or opaque or _dir_changed(st, below, child in mount_parents):
                out.append(Entry(child, ADDED if below is None else CHANGED, opaque))
                reported = True
            continue
        out.append(Entry(child, ADDED if below is None else CHANGED))
        reported = True
    return reported


def _opaque_fd(fd: int) -> bool:
    try:
        return os.getxattr(fd, OPAQUE_XATTR) == b"y"
    except OSError:
        return False


def _dir_changed(st: os.stat_result, below: os.stat_result, holds_mounts: bool) -> bool:
    if not stat.S_ISDIR(below.st_mode):
        return True
    if (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) != (stat.S_IMODE(below.st_mode), below.st_uid, below.st_gid):
        return True
    return not holds_mounts and st.st_mtime_ns != below.st_mtime_ns


def diff(engine, rec) -> list[tuple[str, str]]:
    """docker diff: (kind, path) pairs in docker's order."""
    return [(e.kind, e.path) for e in entries(engine, rec)]
