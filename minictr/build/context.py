"""The build context: the directory a build copies from, read only where
a COPY or ADD asks (no copy of the whole context is made), with the
.dockerignore rules applied. Sources are named relative to the context's
root, as docker has them: `..` and symlinks that lead out of it are
refused, never followed."""
from __future__ import annotations

import glob
import os
import posixpath
import stat

from minictr.build.errors import BuildError

_MAGIC = set("*?[")


class Source:
    """One matched source: its path in the context and on the host."""
    __slots__ = ("rel", "path", "st")

    def __init__(self, rel: str, path: str, st: os.stat_result):
        self.rel, self.path, self.st = rel, path, st

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.st.st_mode)


class BuildContext:
    """`in_root`: symlinks resolve inside the tree as if it were `/` (an
    image's tree, COPY --from); else one that leads out is refused (the
    user's context directory)."""

    def __init__(self, root: str, ignore=None, in_root: bool = False):
        self.root = os.path.realpath(root)
        self.ignore = ignore        # dockerignore.IgnoreRules, or None: nothing ignored
        self.in_root = in_root

    def ignored(self, rel: str) -> bool:
        return self.ignore is not None and self.ignore.ignored(rel)

    def relative(self, path: str) -> str:
        """A source path as a path relative to the root ("" for the root itself)."""
        return _clean(path)

    def sources(self, pattern: str, recursive: bool = False) -> list[Source]:
        """What one source argument names (a path or a glob), sorted; a
        BuildError when nothing matches or when it leads out of the context.
        `recursive`: `**` matches any number of directories (COPY --parents)."""
        rel = _clean(pattern)
        if any(c in _MAGIC for c in rel):
            names = sorted(n for n in glob.glob(rel, root_dir=self.root, include_hidden=True, recursive=recursive)
                           if not self.ignored(_clean(n)))
            if not names:
                raise BuildError(f"no source files were specified: {pattern!r} matches nothing in the build context")
            return [self._source(_clean(n), pattern) for n in names]
        if rel and self.ignored(rel):
            raise BuildError(f"\"{pattern}\": not found (excluded by .dockerignore)")
        return [self._source(rel, pattern)]

    def _source(self, rel: str, pattern: str) -> Source:
        path = os.path.join(self.root, rel) if rel else self.root
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            raise BuildError(f"\"{pattern}\": not found in the build context") from None
        if stat.S_ISLNK(st.st_mode):   # the source itself is followed
            if self.in_root:
                path = os.path.join(self.root, _resolve_in_root(self.root, rel, pattern))
            else:
                real = os.path.realpath(path)
                if real != self.root and not real.startswith(self.root + os.sep):
                    raise BuildError(f"forbidden path outside the build context: {pattern} (a symlink to {real})")
                path = real
            try:
                st = os.stat(path)
            except FileNotFoundError:
                raise BuildError(f"\"{pattern}\": a symlink to nothing") from None
        return Source(rel, path, st)

    def walk(self, source: Source, exclude=None, under: str = ""):
        """(rel below the source, host path, lstat) of every entry under a
        directory source, parents first, names sorted, ignored ones left
        out (a directory no exception can reach is not entered). `exclude`:
        COPY --exclude's IgnoreRules, matched against `under`/rel."""
        def left_out(rules, rel: str, is_dir: bool) -> tuple[bool, bool]:
            """(left out, still to be entered) by one set of rules."""
            if rules is None or not rules.ignored(rel):
                return False, True
            return True, is_dir and rules.may_contain_kept(rel)

        def visit(dir_path: str, dir_rel: str, below_dir: str):
            try:
                names = sorted(os.listdir(dir_path))
            except OSError as e:
                raise BuildError(f"{dir_rel or '.'}: {e.strerror}") from None
            for name in names:
                path = os.path.join(dir_path, name)
                ctx_rel = posixpath.join(dir_rel, name) if dir_rel else name
                below = posixpath.join(below_dir, name) if below_dir else name
                st = os.lstat(path)
                is_dir = stat.S_ISDIR(st.st_mode)
                ignored, enter = left_out(self.ignore, ctx_rel, is_dir)
                if not ignored:
                    ignored, enter = left_out(exclude, posixpath.join(under, below) if under else below, is_dir)
                if not ignored:
                    yield below, path, st
                if is_dir and enter:   # an exception may keep something below an ignored one
                    yield from visit(path, ctx_rel, below)
        yield from visit(source.path, source.rel, "")

def _resolve_in_root(root: str, rel: str, pattern: str) -> str:
    """`rel` with its symlinks followed inside `root` (absolute targets
    start at root, `..` stops there), as the kernel's RESOLVE_IN_ROOT."""
    parts = [p for p in rel.split("/") if p]
    done: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if part == "..":
            if done:
                done.pop()
            continue
        path = os.path.join(root, *done, part)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            done.append(part)
            continue
        if stat.S_ISLNK(st.st_mode):
            hops += 1
            if hops > 40:
                raise BuildError(f"{pattern}: too many levels of symbolic links")
            target = os.readlink(path)
            if target.startswith("/"):
                done = []
            parts = [p for p in target.split("/") if p] + parts
            continue
        done.append(part)
    return "/".join(done)


def _clean(pattern: str) -> str:
    """The source relative to the context root; `..` that climbs out is refused."""
    text = pattern.replace("\\", "/") if os.sep != "/" else pattern
    parts = []
    for part in text.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise BuildError(f"forbidden path outside the build context: {pattern}")
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)
