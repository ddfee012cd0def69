"""BuildKit's `RUN --mount=...`: what a step sees while it runs and never
keeps. Each mount is a bind (or tmpfs) in the step's container; its
target is a mount point, so the layer made from the container's changes
leaves it out, and none of it (a secret's value above all) goes into the
cache key or the history.

    type=cache,target=T[,id,sharing,mode,uid,gid]   a dir kept across builds
    type=bind,target=T[,source,from,rw]              context or stage files, read-only (rw: writable,
                                                     the writes thrown away after the step)
    type=secret,id=I[,target,env,required,mode]      a --secret, as a file or a variable
    type=tmpfs,target=T[,size]                       an empty tmpfs"""
from __future__ import annotations

import hashlib
import os
import posixpath
import secrets as _secrets
import shutil

from minictr.build.errors import BuildError
from minictr.records import dataclass

_KEYS = {"type", "target", "dst", "destination", "source", "src", "from", "id", "sharing", "mode", "uid", "gid",
         "readonly", "ro", "rw", "readwrite", "required", "env", "size"}


@dataclass(frozen=True)
class RunMount:
    type: str
    target: str
    source: str = ""
    from_: str = ""
    id: str = ""
    sharing: str = "shared"
    mode: int = 0o755
    uid: int = 0
    gid: int = 0
    readwrite: bool = False
    required: bool = False
    env: str = ""
    size: str = ""

    def key(self) -> str:
        """What the step's cache key takes from the mount (never a secret's value)."""
        return f"{self.type},{self.target},{self.source},{self.from_},{self.id},{self.env},{self.readwrite}"


def parse(text: str) -> RunMount:
    """One --mount value: comma-separated key=value fields (a bare key is true)."""
    fields: dict[str, str] = {}
    for part in text.split(","):
        key, eq, value = part.partition("=")
        key = key.strip().lower()
        if key not in _KEYS:
            raise BuildError(f"--mount: unknown option {key!r} in {text!r}")
        fields[key] = value if eq else "true"
    kind = fields.get("type", "bind")
    if kind not in ("cache", "bind", "secret", "tmpfs"):
        raise BuildError(f"--mount: unsupported type {kind!r} (cache, bind, secret, tmpfs)")
    target = fields.get("target") or fields.get("dst") or fields.get("destination") or ""
    ident = fields.get("id", "")
    if kind == "secret":
        if not ident and not target:
            raise BuildError("--mount=type=secret needs an id (or a target)")
        ident = ident or posixpath.basename(target)
        target = target or ("" if fields.get("env") else f"/run/secrets/{ident}")
    elif not target:
        raise BuildError(f"--mount=type={kind} needs a target")
    if target and not target.startswith("/"):
        raise BuildError(f"--mount target {target!r} must be an absolute path")

    def number(name: str, default: int, base: int = 10) -> int:
        value = fields.get(name)
        if value is None:
            return default
        try:
            return int(value, base)
        except ValueError:
            raise BuildError(f"--mount {name}={value!r}: expected a number") from None
    sharing = fields.get("sharing", "shared")
    if sharing not in ("shared", "private", "locked"):
        raise BuildError(f"--mount sharing={sharing!r}: expected shared, private or locked")
    rw = any(_true(fields.get(k)) for k in ("rw", "readwrite")) and not _true(fields.get("readonly") or fields.get("ro"))
    return RunMount(kind, posixpath.normpath(target) if target else "", fields.get("source") or fields.get("src", ""),
                    fields.get("from", ""), ident, sharing, number("mode", 0o400 if kind == "secret" else 0o755, 8),
                    number("uid", 0), number("gid", 0), rw, _true(fields.get("required")), fields.get("env", ""),
                    fields.get("size", ""))


def _true(value) -> bool:
    return value is not None and value.lower() in ("true", "1", "yes", "")


class Prepared:
    """The host side of a step's mounts: OCI mounts, extra env, and what to remove after."""

    def __init__(self, scratch: str):
        self.mounts: list[dict] = []
        self.env: list[str] = []
        self.dirs: list[str] = []      # mount points the layer keeps (empty), as BuildKit
        self._scratch = scratch
        self._private: str | None = None

    def private_dir(self) -> str:
        if self._private is None:
            os.makedirs(self._scratch, mode=0o700, exist_ok=True)
            self._private = os.path.join(self._scratch, "step-mounts-" + _secrets.token_hex(8))
            os.mkdir(self._private, 0o700)
        return self._private

    def close(self) -> None:
        if self._private is not None:
            shutil.rmtree(self._private, ignore_errors=True)
            self._private = None


def prepare(mounts: list[RunMount], prepared: Prepared, cache_root: str, secrets: dict, tree_of) -> None:
    """Fills `prepared`; `tree_of(from_)` gives the host dir a bind reads
    (the context, or a stage's files)."""
    for m in mounts:
        if m.type == "cache":
            name = hashlib.sha256((m.id or m.target).encode()).hexdigest()[:32]
            path = os.path.join(cache_root, name)
            if not os.path.isdir(path):
                os.makedirs(path, exist_ok=True)
                os.chmod(path, m.mode)
                os.chown(path, m.uid, m.gid)
            prepared.mounts.append({"destination": m.target, "type": "bind", "source": path,
                                    "options": ["rbind", "rw", "rprivate"]})
            prepared.dirs.append(m.target)
        elif m.type == "bind":
            root = tree_of(m.from_)
            source = os.path.join(root, m.source.lstrip("/")) if m.source else root
            if not os.path.realpath(source).startswith(os.path.realpath(root)):
                raise BuildError(f"--mount source {m.source!r}: outside the build context")
            if not os.path.exists(source):
                raise BuildError(f"--mount source {m.source!r}: not found")
            prepared.mounts.append(_writable(source, m.target, prepared) if m.readwrite else
                                   {"destination": m.target, "type": "bind", "source": source,
                                    "options": ["rbind", "ro", "rprivate"]})
            if os.path.isdir(source):
                prepared.dirs.append(m.target)
        elif m.type == "tmpfs":
            options = ["nosuid", "nodev"] + ([f"size={m.size}"] if m.size else [])
            prepared.mounts.append({"destination": m.target, "type": "tmpfs", "source": "tmpfs", "options": options})
            prepared.dirs.append(m.target)
        else:   # secret
            value = secrets.get(m.id)
            if value is None:
                if m.required:
                    raise BuildError(f"secret {m.id} not found (give it with --secret id={m.id},src=FILE)")
                continue
            if m.env:
                prepared.env.append(f"{m.env}={value.decode(errors='replace')}")
            if m.target:
                path = os.path.join(prepared.private_dir(), hashlib.sha256(m.id.encode()).hexdigest()[:16])
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, m.mode)
                with os.fdopen(fd, "wb") as f:
                    f.write(value)
                os.chown(path, m.uid, m.gid)
                prepared.mounts.append({"destination": m.target, "type": "bind", "source": path,
                                        "options": ["rbind", "ro", "rprivate"]})


def _writable(source: str, target: str, prepared: Prepared) -> dict:
    """A bind the step may write to, BuildKit's `rw`: a directory as an
    overlay with the source as its read-only lower layer and an upper dir
    of the step's own (the source itself is never written), a file as a
    copy of it; both go with the step's private dir."""
    scratch = prepared.private_dir()
    if not os.path.isdir(source):
        copy = os.path.join(scratch, "file-" + _secrets.token_hex(8))
        shutil.copy2(source, copy)
        return {"destination": target, "type": "bind", "source": copy, "options": ["rbind", "rw", "rprivate"]}
    if any(c in source for c in ",:"):
        raise BuildError(f"--mount type=bind,rw: the source path {source!r} has a ',' or ':', "
                         "which an overlay's lowerdir cannot take")
    layer = os.path.join(scratch, "rw-" + _secrets.token_hex(8))
    upper, work = os.path.join(layer, "upper"), os.path.join(layer, "work")
    os.makedirs(upper)
    os.mkdir(work)
    shutil.copystat(source, upper)   # the mount's root shows the source's mode and times
    st = os.stat(source)
    os.chown(upper, st.st_uid, st.st_gid)
    return {"destination": target, "type": "overlay", "source": "overlay",
            "options": [f"lowerdir={source}", f"upperdir={upper}", f"workdir={work}"]}
