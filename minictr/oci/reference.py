"""Image references, normalized exactly as docker does it.

`busybox` is `docker.io/library/busybox:latest`; `user/app:1` lives on
docker.io; a first component with a `.` or `:`, or `localhost`, is a
registry host (`host:5000/a/b@sha256:...`, `localhost/x`). The grammar is
distribution's `reference` package: lowercase path components joined by
`/`, separators `.`, `_`, `__` or runs of `-`, a tag of at most 128 word
characters, a digest after `@`.
"""
from __future__ import annotations

import re

from minictr.oci import digest as _digest

DEFAULT_REGISTRY = "docker.io"
DEFAULT_TAG = "latest"
_LEGACY_REGISTRIES = ("index.docker.io", "registry-1.docker.io")
_OFFICIAL_PREFIX = "library/"

_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_HEX64 = re.compile(r"[a-f0-9]{64}")
_NAME_MAX = 255


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
    looks like one (has `.` or `:`, is `localhost`, or has upper case)."""
    first, sep, rest = name.partition("/")
    if not sep or (not any(c in first for c in ".:") and first != "localhost" and first.lower() == first):
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
        if not _TAG.fullmatch(tag):
            raise InvalidReference(f"invalid reference format: {text!r}: invalid tag {tag!r}")
    if not name:
        raise InvalidReference(f"invalid reference format: {text!r}: empty repository name")
    if _HEX64.fullmatch(name):
        raise InvalidReference(f"invalid repository name ({name}), cannot specify 64-byte hexadecimal strings")
    domain, path = _split_domain(name)
    if not _DOMAIN.fullmatch(domain):
        raise InvalidReference(f"invalid reference format: {text!r}: invalid registry host {domain!r}")
    if not _PATH.fullmatch(path):
        if _PATH.fullmatch(path.lower()):
            raise InvalidReference(f"invalid reference format: repository name ({path}) must be lowercase")
        raise InvalidReference(f"invalid reference format: {text!r}: invalid repository name {path!r}")
    if len(domain) + 1 + len(path) > _NAME_MAX:
        raise InvalidReference(f"invalid reference format: repository name must not be more than {_NAME_MAX} characters")
    if tag is None and dgst is None and default_tag:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, dgst)

