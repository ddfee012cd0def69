"""`--build-context NAME=VALUE`: more contexts than the main one, each
under a name the Dockerfile uses in `FROM NAME`, `COPY --from=NAME` and
`RUN --mount=type=bind,from=NAME`, as buildx reads the flag. VALUE is a
directory (a plain path) or `docker-image://REF`. Names are image names,
normalized as BuildKit looks them up (`docker.io/library/alpine:latest`
is `alpine`), so a context can stand in for an image a FROM names."""
from __future__ import annotations

import os

from minictr.build.errors import BuildError
from minictr.oci import reference

IMAGE_SCHEME = "docker-image://"
# what buildx also takes and minictr does not (yet): said so, not read as a path
_OTHER_SCHEMES = ("oci-layout://", "https://", "http://", "git://", "git@", "target:", "input:")


class NamedContext:
    """One --build-context: `kind` "dir" (value: its real path) or "image" (value: a reference)."""
    __slots__ = ("name", "kind", "value")

    def __init__(self, name: str, kind: str, value: str):
        self.name, self.kind, self.value = name, kind, value

    def __repr__(self) -> str:
        return f"NamedContext({self.name!r}, {self.kind!r}, {self.value!r})"


def lookup_name(word: str) -> str | None:
    """The name a context is found under for a FROM or --from word (None:
    not an image name, so no context can have it)."""
    try:
        ref = reference.parse(word, default_tag=False)
    except reference.InvalidReference:
        return None
    name = ref.familiar()
    return name[:-len(":latest")] if name.endswith(":latest") else name


def parse(values: list[str]) -> dict[str, NamedContext]:
    """The flag's values, by lookup name; a BuildError names a bad one."""
    out: dict[str, NamedContext] = {}
    for text in values:
        name, eq, value = text.partition("=")
        if not eq or not name or not value:
            raise BuildError(f"--build-context {text!r}: expected NAME=VALUE (a directory or docker-image://REF)")
        key = lookup_name(name)
        if key is None:
            raise BuildError(f"--build-context {text!r}: invalid context name {name!r} "
                             "(a lower-case image or stage name)")
        out[key] = _context(key, value, text)
    return out


def _context(name: str, value: str, text: str) -> NamedContext:
    if value.startswith(IMAGE_SCHEME):
        ref = value[len(IMAGE_SCHEME):]
        try:
            reference.parse(ref)
        except reference.InvalidReference as e:
            raise BuildError(f"--build-context {text!r}: {e}") from None
        return NamedContext(name, "image", ref)
    if value.startswith(_OTHER_SCHEMES):
        raise BuildError(f"--build-context {text!r}: minictr takes a directory or docker-image://REF here")
    if "://" in value:
        raise BuildError(f"--build-context {text!r}: unknown scheme {value.split('://', 1)[0]!r} "
                         "(a directory or docker-image://REF)")
    if not os.path.exists(value):
        raise BuildError(f"--build-context {text!r}: {value}: no such directory")
    if not os.path.isdir(value):
        raise BuildError(f"--build-context {text!r}: {value}: not a directory")
    return NamedContext(name, "dir", os.path.realpath(value))
