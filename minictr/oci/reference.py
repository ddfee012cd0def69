"""Image references, normalized exactly as docker does it.

`busybox` is `docker.io/library/busybox:latest`; `user/app:1` lives on
docker.io; a first component with a `.` or `:`, or `localhost`, is a
registry host (`host:5000/a/b@sha256:...`, `localhost/x`). The grammar is
distribution's `reference` package: lowercase path components joined by
`/`, separators `.`, `_`, `__` or runs of `-`, a tag of at most 128 word
characters, a digest after `@`. The grammar is matched by hand, not with
`re`: `import re` and these patterns' compilation cost ~4 ms, and every
container start parses its image's name (tests/unit/test_reference.py
checks the matchers against the grammar's regular expressions).
"""
from __future__ import annotations

from minictr.oci import digest as _digest

DEFAULT_REGISTRY = "docker.io"
DEFAULT_TAG = "latest"
_LEGACY_REGISTRIES = ("index.docker.io", "registry-1.docker.io")
_OFFICIAL_PREFIX = "library/"

_NAME_MAX = 255
_LOWER_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_ALNUM = _LOWER_ALNUM | frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_WORD = _ALNUM | {"_"}
_DIGITS = frozenset("0123456789")
_HEX = frozenset("0123456789abcdef")
_IPV6 = frozenset("0123456789abcdefABCDEF:")


def is_path(text: str) -> bool:
    """path-component ('/' path-component)*, where a path-component is
    [a-z0-9]+ joined by separators `.`, `_`, `__` or a run of `-`."""
    return all(_is_path_component(c) for c in text.split("/"))


def _is_path_component(text: str) -> bool:
    if not text or text[0] not in _LOWER_ALNUM or text[-1] not in _LOWER_ALNUM:
        return False
    separator = ""
    for c in text:
        if c in _LOWER_ALNUM:
            if separator and separator not in (".", "_", "__") and separator.strip("-"):
                return False
            separator = ""
        else:
            separator += c
    return True


def is_domain(text: str) -> bool:
    """host[:port]: dot-separated components of letters, digits and inner
    hyphens, or a bracketed IPv6 address; the port is digits."""
    host, port = text, None
    if text.startswith("["):
        end = text.find("]")
        if end < 2 or not set(text[1:end]) <= _IPV6:
            return False
        host, rest = "", text[end + 1:]
        if rest:
            if not rest.startswith(":"):
                return False
            port = rest[1:]
    else:
        host, colon, port = text.partition(":")
        port = port if colon else None
        if not all(_is_domain_component(c) for c in host.split(".")):
            return False
    return port is None or (bool(port) and set(port) <= _DIGITS)


def _is_domain_component(text: str) -> bool:
    return (bool(text) and text[0] in _ALNUM and text[-1] in _ALNUM
            and all(c in _ALNUM or c == "-" for c in text))


def is_tag(text: str) -> bool:
    """[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}, as distribution's tag grammar."""
    return (0 < len(text) <= 128 and text[0] in _WORD
            and all(c in _WORD or c in ".-" for c in text))


def _is_hex64(text: str) -> bool:
    return len(text) == 64 and set(text) <= _HEX


class InvalidReference(ValueError):
    """A reference docker would refuse; the message says why."""


class Reference:
    """A normalized reference: registry, repository, tag and/or digest."""

    __slots__ = ("registry", "repository", "tag", "digest")

    def __init__(self, registry: str, repository: str, tag: str | None = None, digest: str | None = None):
        self.registry, self.repository, self.tag, self.digest = registry, repository, tag, digest

    @property
    def name(self) -> str:
        """`registry/repository`, the full repository name."""
        return f"{self.registry}/{self.repository}"

    @property
    def familiar_name(self) -> str:
        """The name as docker prints it: `busybox`, `user/app`, `host:5000/x`."""
        if self.registry == DEFAULT_REGISTRY:
            repo = self.repository
            return repo[len(_OFFICIAL_PREFIX):] if repo.startswith(_OFFICIAL_PREFIX) else repo
        return self.name

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.registry, self.repository, tag, None)

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.registry, self.repository, None, digest)

    @property
    def reference(self) -> str:
        """What the registry API calls the reference: the digest, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out

    def familiar(self) -> str:
        out = self.familiar_name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out

    def __eq__(self, other) -> bool:
        return isinstance(other, Reference) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def __repr__(self) -> str:
        return f"Reference({str(self)!r})"


def _split_domain(name: str) -> tuple[str, str]:
    """docker's splitDockerDomain: the first component is a host only if it
    looks like one (has `.` or `:`, or is `localhost`). docker also takes an
    upper-case first component for a host, which sends `UPPER/case` to DNS;
    here it stays a (so invalid) repository name, refused before any lookup."""
    first, sep, rest = name.partition("/")
    if not sep or (not any(c in first for c in ".:") and first != "localhost"):
        domain, remainder = DEFAULT_REGISTRY, name
    else:
        domain, remainder = first, rest
    if domain in _LEGACY_REGISTRIES:
        domain = DEFAULT_REGISTRY
    if domain == DEFAULT_REGISTRY and "/" not in remainder:
        remainder = _OFFICIAL_PREFIX + remainder
    return domain, remainder


def parse(text: str, *, default_tag: bool = True) -> Reference:
    """Parse and normalize `text`; `latest` is added when there is neither
    a tag nor a digest (and default_tag is set)."""
    if not isinstance(text, str) or not text:
        raise InvalidReference("invalid reference format: repository name must have at least one component")
    if text != text.strip() or any(c.isspace() for c in text):
        raise InvalidReference(f"invalid reference format: {text!r} contains whitespace")
    name, at, dgst = text.partition("@")
    if at:
        try:
            _digest.parse(dgst)
        except _digest.InvalidDigest as e:
            raise InvalidReference(f"invalid reference format: {text!r}: {e}") from None
    else:
        dgst = None
    tag = None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
        if not is_tag(tag):
            raise InvalidReference(f"invalid reference format: {text!r}: invalid tag {tag!r}")
    if not name:
        raise InvalidReference(f"invalid reference format: {text!r}: empty repository name")
    if _is_hex64(name):
        raise InvalidReference(f"invalid repository name ({name}), cannot specify 64-byte hexadecimal strings")
    domain, path = _split_domain(name)
    if not is_domain(domain):
        raise InvalidReference(f"invalid reference format: {text!r}: invalid registry host {domain!r}")
    if not is_path(path):
        if is_path(path.lower()):
            raise InvalidReference(f"invalid reference format: repository name ({path}) must be lowercase")
        raise InvalidReference(f"invalid reference format: {text!r}: invalid repository name {path!r}")
    if len(domain) + 1 + len(path) > _NAME_MAX:
        raise InvalidReference(f"invalid reference format: repository name must not be more than {_NAME_MAX} characters")
    if tag is None and dgst is None and default_tag:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, dgst)

