"""COPY and ADD: files from the build context (or another stage's tree)
as the entries of one new layer, with docker's rules for where they land:

    dest ends with "/", or is a directory in the image, or there are several
    sources: each source goes inside dest (a file under its own name, a
    directory's *content*); else the one source becomes dest.
    A relative dest is under WORKDIR. Missing parents are made (0755, root's,
    or --chown's user's).

The entries are planned first (`plan`), checksummed for the cache (names,
modes, owners, link targets and contents, not times, as docker's), and only
on a cache miss read again into the layer writer. ADD of a local tar
archive (plain, gzip, bzip2 or xz) unpacks it into dest instead."""
from __future__ import annotations

import hashlib
import os
import posixpath
import stat

from minictr.build.errors import BuildError
from minictr.image.tar_writer import DIR, FIFO, FILE, HARDLINK, SYMLINK, Node

_KINDS = {stat.S_IFREG: FILE, stat.S_IFDIR: DIR, stat.S_IFLNK: SYMLINK, stat.S_IFIFO: FIFO}


class Entry:
    """One file of the new layer: its name in the image and where it comes
    from. `top`: the directory a directory source's content goes into
    (docker's --chmod leaves its mode alone)."""
    __slots__ = ("name", "path", "st", "archive", "top")

    def __init__(self, name: str, path: str | None, st: os.stat_result | None, archive: bool = False,
                 top: bool = False):
        self.name, self.path, self.st, self.archive, self.top = name, path, st, archive, top


def destination(dest: str, workdir: str) -> tuple[str, bool]:
    """(the absolute destination, whether the text says it is a directory)."""
    as_dir = dest.endswith("/") or dest in (".", "..") or dest.endswith("/.")
    base = workdir or "/"
    path = posixpath.normpath(dest if dest.startswith("/") else posixpath.join(base, dest))
    return path, as_dir


def plan(tree, patterns: list[str], dest: str, workdir: str, lower, unpack_archives: bool = False,
         remote: list[tuple[str, str]] = (), parents: bool = False, exclude=None) -> list[Entry]:
    """The entries, parents before children. `tree`: a build.context.BuildContext;
    `lower`: the image's merged view (engine.diff.LowerView) for what exists;
    `remote`: ADD's fetched URLs as (file name, downloaded path);
    `parents`: COPY --parents (see parents_plan); `exclude`: --exclude's
    dockerignore.IgnoreRules, matched against each file's path below dest."""
    dest_path, as_dir = destination(dest, workdir)
    if parents:
        entries = parents_plan(tree, patterns, dest_path, exclude)
        entries += [Entry(posixpath.join(dest_path, name), path, os.stat(path)) for name, path in remote]
        return with_parents(entries, lower)
    sources = [s for p in patterns for s in tree.sources(p)]
    existing = lower.lstat(dest_path)
    into = as_dir or (existing is not None and stat.S_ISDIR(existing.st_mode))
    if len(sources) + len(remote) > 1 and not into:
        raise BuildError(f"when using COPY with more than one source file, the destination must be a "
                         f"directory and end with a /: {dest}")
    entries: list[Entry] = []
    for src in sources:
        if src.is_dir:
            entries.append(Entry(dest_path, src.path, src.st, top=True))
            entries += [Entry(posixpath.join(dest_path, below), path, st) for below, path, st in tree.walk(src, exclude)]
            continue
        base = posixpath.basename(src.rel or src.path)
        if exclude is not None and exclude.ignored(base):
            continue
        if unpack_archives and _is_archive(src.path):
            entries.append(Entry(dest_path, src.path, src.st, archive=True))
        else:
            entries.append(Entry(posixpath.join(dest_path, base) if into else dest_path, src.path, src.st))
    for file_name, path in remote:
        entries.append(Entry(posixpath.join(dest_path, file_name) if into else dest_path, path, os.stat(path)))
    return with_parents(entries, lower)


def parents_plan(tree, patterns: list[str], dest_path: str, exclude=None) -> list[Entry]:
    """COPY --parents: each source keeps its path relative to the context
    (or to the pivot `/./` in it: `a/./b/c` lands as dest/b/c) and its
    directories between, with their own modes, as BuildKit's include
    patterns copy them; `**` matches any number of directories. dest is
    always a directory."""
    entries: list[Entry] = []
    seen: set[str] = set()

    def add(entry: Entry) -> None:
        if entry.name not in seen:
            seen.add(entry.name)
            entries.append(entry)

    for pattern in patterns:
        pivot, cut, below = pattern.partition("/./")
        pivot, below = (pivot, below) if cut else ("", pattern)
        pivot_rel = tree.relative(pivot)
        for src in tree.sources(posixpath.join(pivot_rel, below) if pivot_rel else below, recursive=True):
            rel = src.rel if not pivot_rel else src.rel[len(pivot_rel) + 1:] if src.rel.startswith(pivot_rel + "/") \
                else None
            if not rel:
                raise BuildError(f"COPY --parents {pattern}: the source must lie below its pivot {pivot or '.'}")
            excluded = exclude is not None and exclude.ignored(rel)
            if excluded and not (src.is_dir and exclude.may_contain_kept(rel)):
                continue
            parts = rel.split("/")
            for depth in range(1, len(parts)):   # the directories between the pivot and the source
                above = "/".join(parts[:depth])
                host = os.path.join(tree.root, pivot_rel, above)
                add(Entry(posixpath.join(dest_path, above), host, os.stat(host)))
            if not excluded:
                add(Entry(posixpath.join(dest_path, rel), src.path, src.st))
            if src.is_dir:
                for inner, path, st in tree.walk(src, exclude, under=rel):
                    add(Entry(posixpath.join(dest_path, rel, inner), path, st))
    return entries


def with_parents(entries: list[Entry], lower) -> list[Entry]:
    """Every entry's parent directories go in the layer too, as a diff of
    the image's tree has them: one that exists with its own metadata (else
    unpacking would make it anew, root's, over the image's), a missing one
    made new."""
    made = {"/"}
    out: list[Entry] = []
    for e in entries:
        parents = []
        parent = posixpath.dirname(e.name) if not e.archive else e.name
        while parent not in made:
            st = lower.lstat(parent)
            if st is not None and not stat.S_ISDIR(st.st_mode):
                raise BuildError(f"cannot copy to {e.name}: {parent} is not a directory in the image")
            parents.append((parent, st))
            parent = posixpath.dirname(parent)
        for p, st in reversed(parents):
            made.add(p)
            out.append(Entry(p, None, st))
        if e.st is not None and stat.S_ISDIR(e.st.st_mode):
            made.add(e.name)
        out.append(e)
    return out


def checksum(entries: list[Entry], owner: tuple[int, int] | None, chmod: int | None, sums=None) -> str:
    """What the cache keys a copy on: the content (each file's sha256), not
    the times. `sums`: a build.file_sums.FileSums that may know a file's
    sha256 already."""
    digest = sums.digest if sums is not None else _content_digest
    h = hashlib.sha256(repr((owner, chmod)).encode())
    for e in entries:
        if e.path is None:
            h.update(f"D {e.name}\n".encode())
            continue
        kind = stat.S_IFMT(e.st.st_mode)
        h.update(f"{kind:o} {stat.S_IMODE(e.st.st_mode):o} {e.name} {e.st.st_uid if owner is None else ''}\n".encode())
        if stat.S_ISLNK(e.st.st_mode):
            h.update(os.readlink(e.path).encode(errors="surrogateescape") + b"\n")
        elif stat.S_ISREG(e.st.st_mode):
            h.update(digest(e.path, e.st))
    return "sha256:" + h.hexdigest()


def _content_digest(path: str, st: os.stat_result) -> bytes:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.digest()


def nodes(entries: list[Entry], owner: tuple[int, int] | None, chmod: int | None, mtime_ns: int):
    """The layer's tar entries, in order. Files keep their mode (or
    --chmod) and times; owners are root (or --chown), as docker's COPY."""
    uid, gid = owner or (0, 0)
    for e in entries:
        name = e.name.lstrip("/")
        if e.path is None:   # a parent: as the image has it, or made as docker makes it (--chown's owner)
            if e.st is None:
                yield Node(name, DIR, 0o755, uid, gid, mtime_ns)
            else:
                yield Node(name, DIR, stat.S_IMODE(e.st.st_mode), e.st.st_uid, e.st.st_gid, e.st.st_mtime_ns)
            continue
        if e.archive:
            yield from _archive_nodes(e.path, name)
            continue
        kind = _KINDS.get(stat.S_IFMT(e.st.st_mode))
        if kind is None:
            continue   # a socket or a device in the context: docker skips it too
        mode = stat.S_IMODE(e.st.st_mode) if chmod is None or kind == SYMLINK or e.top else chmod
        node = Node(name, kind, mode, uid, gid, e.st.st_mtime_ns)
        if kind == FILE:
            node.size = e.st.st_size
            node.opener = lambda p=e.path: open(p, "rb")
        elif kind == SYMLINK:
            node.linkname = os.readlink(e.path)
        yield node


def _is_archive(path: str) -> bool:
    import tarfile   # ADD only
    try:
        return tarfile.is_tarfile(path)
    except OSError:
        return False


def _archive_nodes(path: str, under: str):
    """ADD's local archive: its members below `under`, owners and modes as the archive has them."""
    from minictr.engine.extract import tar_nodes   # cp's member-name checks, and cffi: ADD of an archive only
    with open(path, "rb") as f:
        for node in tar_nodes(f):
            node.name = posixpath.join(under, node.name) if under else node.name
            if node.kind == HARDLINK and node.linkname:
                node.linkname = posixpath.join(under, node.linkname) if under else node.linkname
            yield node
