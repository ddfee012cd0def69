"""Layer tars made with tarfile for the unpack tests, and an lstat-based
tree walker to compare what unpackers produce."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import stat
import subprocess
import tarfile
from pathlib import Path

MTIME = 1_600_000_000


def member(name: str, kind=tarfile.REGTYPE, data: bytes | None = None, *, mode: int | None = None,
           link: str = "", uid: int = 0, gid: int = 0, mtime: int = MTIME, major: int = 0, minor: int = 0,
           pax: dict | None = None) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode if mode is not None else (0o755 if kind == tarfile.DIRTYPE else 0o644)
    info.linkname, info.uid, info.gid, info.mtime = link, uid, gid, mtime
    info.devmajor, info.devminor = major, minor
    info.size = len(data) if data is not None else 0
    if pax:
        info.pax_headers = dict(pax)
    return info, data


def file(name: str, data: bytes = b"", **kw):
    return member(name, tarfile.REGTYPE, data, **kw)


def directory(name: str, **kw):
    return member(name, tarfile.DIRTYPE, **kw)


def symlink(name: str, target: str, **kw):
    return member(name, tarfile.SYMTYPE, link=target, mode=0o777, **kw)


def hardlink(name: str, target: str, **kw):
    return member(name, tarfile.LNKTYPE, link=target, **kw)


def chardev(name: str, major: int, minor: int, **kw):
    return member(name, tarfile.CHRTYPE, major=major, minor=minor, **kw)


def tar_bytes(members, fmt=tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def diff_id(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=1)


# -- OCI layouts read by hand (the tests must not trust minictr's own image code) --
def layout_manifest(layout: Path) -> dict:
    index = json.loads((layout / "index.json").read_text())
    return json.loads(blob(layout, index["manifests"][0]["digest"]).read_text())


def blob(layout: Path, digest: str) -> Path:
    return layout / "blobs" / digest.replace(":", "/")


def umoci_unpack(layout: Path, tag: str, bundle: Path) -> Path:
    subprocess.run(["umoci", "unpack", "--image", f"{layout}:{tag}", str(bundle)], check=True,
                   capture_output=True)
    return bundle / "rootfs"


# -- trees -------------------------------------------------------------------
def tree(root: Path, mtimes: bool = True) -> dict[str, tuple]:
    """path -> (type, mode, uid, gid, link target | content sha256 | rdev, nlink[, mtime])
    for everything under root, root itself as '.'."""
    root = str(root)
    out = {".": _signature(root, mtimes)}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            out[os.path.relpath(path, root)] = _signature(path, mtimes)
    return out


def _signature(path: str, mtimes: bool) -> tuple:
    st = os.lstat(path)
    kind = stat.S_IFMT(st.st_mode)
    if stat.S_ISLNK(st.st_mode):
        what = os.readlink(path)
    elif stat.S_ISREG(st.st_mode):
        with open(path, "rb") as f:
            what = hashlib.sha256(f.read()).hexdigest()
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        what = (os.major(st.st_rdev), os.minor(st.st_rdev))
    else:
        what = None
    sig = (kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, what,
           st.st_nlink if not stat.S_ISDIR(st.st_mode) else 0)
    return sig + (st.st_mtime_ns,) if mtimes else sig


def tree_differences(ours: dict, theirs: dict, limit: int = 20) -> list[str]:
    diffs = []
    for path in sorted(set(ours) | set(theirs)):
        a, b = ours.get(path), theirs.get(path)
        if a != b:
            diffs.append(f"{path}: ours={a} theirs={b}")
    return diffs[:limit]


def tree_digest(root: Path) -> str:
    """One hash over a whole tree (names, metadata, contents): a canary."""
    return hashlib.sha256(repr(sorted(tree(root).items())).encode()).hexdigest()
