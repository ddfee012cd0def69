"""Registry configuration: which endpoints a pull from a registry host tries,
and which hosts may be spoken to over plain HTTP.

The file is `/etc/minictr/registries.json` (or $MINICTR_REGISTRIES_CONF),
shaped like dockerd's daemon.json:

    {"registry-mirrors": {"docker.io": ["http://127.0.0.1:5000"]},
     "mirror-fallback": true,
     "insecure-registries": ["myhost:5000", "10.0.0.0/8"]}

A plain list for "registry-mirrors" mirrors docker.io, as in dockerd.
Loopback hosts (127.0.0.0/8, ::1, localhost) are insecure by default."""
from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from minictr.errors import MinictrError

DEFAULT_PATH = "/etc/minictr/registries.json"
DOCKER_HUB = "docker.io"
DOCKER_HUB_UPSTREAM = "registry-1.docker.io"
_DOCKER_HUB_ALIASES = ("docker.io", "index.docker.io", "registry-1.docker.io")
_KEYS = ("registry-mirrors", "mirror-fallback", "insecure-registries")


class RegistryConfigError(MinictrError):
    """The registry configuration is wrong; names the file and the field."""


def canonical_host(host: str) -> str:
    """Docker Hub goes by several names; mirrors and credentials use one."""
    host = host.lower().rstrip("/")
    return DOCKER_HUB if host in _DOCKER_HUB_ALIASES else host


def hostname_of(netloc: str) -> str:
    """`host:port` → host, also for bracketed IPv6 (`[::1]:5000`)."""
    if netloc.startswith("["):
        return netloc[1:netloc.index("]")] if "]" in netloc else netloc
    return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc


def is_loopback(netloc: str) -> bool:
    name = hostname_of(netloc).lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Endpoint:
    """One place to send a repository's requests. `schemes` are tried in
    order (https then http for an insecure remote host); `insecure` also
    means TLS certificates are not verified, as in dockerd."""
    host: str
    schemes: tuple[str, ...]
    insecure: bool = False
    mirror: bool = False

    def __str__(self) -> str:
        return f"{self.schemes[0]}://{self.host}"


@dataclass
class RegistryConfig:
    mirrors: dict[str, list[str]] = field(default_factory=dict)
    mirror_fallback: bool = True
    insecure_registries: list[str] = field(default_factory=list)
    source: str = "registry configuration"

    def __post_init__(self):
        if isinstance(self.mirrors, (list, tuple)):
            self.mirrors = {DOCKER_HUB: list(self.mirrors)}
        self._check()

    @classmethod
    def load(cls, path: str | None = None) -> "RegistryConfig":
        """The file if it exists and is not empty, else defaults (no mirrors,
        loopback insecure)."""
        path = path or os.environ.get("MINICTR_REGISTRIES_CONF") or DEFAULT_PATH
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            return cls(source=path)
        except OSError as e:
            raise RegistryConfigError(f"{path}: cannot read: {e.strerror}") from None
        if not text.strip():
            return cls(source=path)   # an empty file (or /dev/null) means the defaults
        try:
            data = json.loads(text)
        except ValueError as e:
            raise RegistryConfigError(f"{path}: not valid JSON: {e}") from None
        return cls.from_dict(data, path)

    @classmethod
    def from_dict(cls, data, source: str = "registry configuration") -> "RegistryConfig":
        if not isinstance(data, dict):
            raise RegistryConfigError(f"{source}: expected a JSON object")
        unknown = sorted(set(data) - set(_KEYS))
        if unknown:
            raise RegistryConfigError(f"{source}: unknown field {unknown[0]!r} (known: {', '.join(_KEYS)})")
        mirrors = data.get("registry-mirrors", {})
        if not isinstance(mirrors, (dict, list)):
            raise RegistryConfigError(f"{source}: registry-mirrors: expected a list of URLs or "
                                      "an object of registry host → list of URLs")
        return cls(mirrors=mirrors, mirror_fallback=data.get("mirror-fallback", True),
                   insecure_registries=data.get("insecure-registries", []), source=source)

    def _fail(self, field_name: str, problem: str):
        raise RegistryConfigError(f"{self.source}: {field_name}: {problem}")

    def _check(self) -> None:
        if not isinstance(self.mirror_fallback, bool):
            self._fail("mirror-fallback", f"expected true or false, got {self.mirror_fallback!r}")
        if not isinstance(self.insecure_registries, list) or not all(
                isinstance(e, str) and e for e in self.insecure_registries):
            self._fail("insecure-registries", "expected a list of host[:port] or CIDR strings")
        for entry in self.insecure_registries:
            if "/" in entry:
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    self._fail("insecure-registries", f"{entry!r} is not a valid CIDR")
        checked = {}
        for host, urls in self.mirrors.items():
            where = f"registry-mirrors[{host!r}]"
            if not isinstance(urls, list):
                self._fail(where, "expected a list of mirror URLs")
            for url in urls:
                self._check_mirror_url(where, url)
            checked[canonical_host(host)] = [u.rstrip("/") for u in urls]
        self.mirrors = checked

    def _check_mirror_url(self, where: str, url) -> None:
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            self._fail(where, f"{url!r} is not an http:// or https:// URL")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            self._fail(where, f"{url!r}: a mirror URL has no path, query or fragment")

    def is_insecure(self, netloc: str) -> bool:
        """Plain HTTP allowed and TLS unverified: loopback, or listed by
        host:port, by host, or by a CIDR holding the host's IP literal."""
        if is_loopback(netloc):
            return True
        name = hostname_of(netloc)
        for entry in self.insecure_registries:
            if entry in (netloc, name):
                return True
            if "/" in entry:
                try:
                    if ipaddress.ip_address(name) in ipaddress.ip_network(entry, strict=False):
                        return True
                except ValueError:
                    continue
        return False

    def upstream(self, host: str) -> Endpoint:
        """The registry itself (Docker Hub's API lives at registry-1.docker.io)."""
        host = canonical_host(host)
        target = DOCKER_HUB_UPSTREAM if host == DOCKER_HUB else host
        if is_loopback(target):
            return Endpoint(target, ("http",), insecure=True)
        if self.is_insecure(target):
            return Endpoint(target, ("https", "http"), insecure=True)
        return Endpoint(target, ("https",))

    def mirror_endpoints(self, host: str) -> list[Endpoint]:
        result = []
        for url in self.mirrors.get(canonical_host(host), []):
            parts = urlsplit(url)
            result.append(Endpoint(parts.netloc, (parts.scheme,), self.is_insecure(parts.netloc), mirror=True))
        return result

    def endpoints(self, host: str) -> list[Endpoint]:
        """What a pull from `host` tries, in order: its mirrors, then the
        registry itself unless mirrors exist and fallback is off."""
        found = self.mirror_endpoints(host)
        if not found or self.mirror_fallback:
            found.append(self.upstream(host))
        return found
