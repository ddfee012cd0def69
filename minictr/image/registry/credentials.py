"""Registry credentials as `minictr login` stores them: docker's format,

    {"auths": {"registry.example:5000": {"auth": base64("user:password")}}}

in $MINICTR_AUTH_FILE (default ~/.config/minictr/auth.json), written
atomically with mode 0600 in a 0700 directory. Lookups also read docker's
own ~/.docker/config.json (or $DOCKER_CONFIG/config.json) `auths`, whose
Docker Hub key is `https://index.docker.io/v1/`. Credential helpers
(credsStore/credHelpers) are not consulted."""
from __future__ import annotations

import base64
import binascii
import json
import os
from urllib.parse import urlsplit

from minictr.image.errors import AuthError
from minictr.image.registry.config import DOCKER_HUB, canonical_host

DOCKER_HUB_KEY = "https://index.docker.io/v1/"  # how docker itself names Docker Hub


def default_path() -> str:
    return os.environ.get("MINICTR_AUTH_FILE") or os.path.expanduser("~/.config/minictr/auth.json")


def docker_config_path() -> str:
    base = os.environ.get("DOCKER_CONFIG") or os.path.expanduser("~/.docker")
    return os.path.join(base, "config.json")


def key_host(key: str) -> str:
    """An `auths` key (`https://index.docker.io/v1/`, `host:5000`,
    `http://host/v2/`) → the canonical registry host it stands for."""
    netloc = urlsplit(key).netloc if "://" in key else key.split("/", 1)[0]
    return canonical_host(netloc)


def _decode(entry, source: str, key: str) -> tuple[str, str] | None:
    if not isinstance(entry, dict):
        return None
    if isinstance(entry.get("auth"), str) and entry["auth"]:
        try:
            user, sep, password = base64.b64decode(entry["auth"], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise AuthError(f"{source}: auths[{key!r}].auth is not base64 of user:password") from None
        return (user, password) if sep else None
    if isinstance(entry.get("username"), str) and isinstance(entry.get("password"), str):
        return entry["username"], entry["password"]
    return None


def _read_config(path: str) -> dict:
    """A docker-format config file as a dict ({} when it does not exist)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise AuthError(f"{path}: cannot read credentials: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("auths", {}), dict):
        raise AuthError(f"{path}: expected a JSON object whose 'auths' is an object")
    return data


class CredentialStore:
    """Our auth file first, docker's config after it (read only)."""

    def __init__(self, path: str | None = None, docker_config: str | None = None):
        self.path = path or default_path()
        self.docker_config = docker_config or docker_config_path()

    def get(self, host: str) -> tuple[str, str] | None:
        """(user, password) for a registry host, or None."""
        wanted = canonical_host(host)
        for path in (self.path, self.docker_config):
            for key, entry in _read_config(path).get("auths", {}).items():
                if key_host(key) == wanted:
                    found = _decode(entry, path, key)
                    if found:
                        return found
        return None

    def save(self, host: str, username: str, password: str) -> None:
        host = canonical_host(host)
        data = self._load_own()
        auths = data["auths"]
        for key in [k for k in auths if key_host(k) == host]:
            del auths[key]
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        auths[DOCKER_HUB_KEY if host == DOCKER_HUB else host] = {"auth": token}
        self._write(data)

    def erase(self, host: str) -> bool:
        """Forget a host's credentials in our file; True if there were any."""
        host = canonical_host(host)
        data = self._load_own()
        auths = data["auths"]
        keys = [k for k in auths if key_host(k) == host]
        for key in keys:
            del auths[key]
        if keys:
            self._write(data)
        return bool(keys)

    def _load_own(self) -> dict:
        data = _read_config(self.path)  # other fields other tools wrote are kept
        data.setdefault("auths", {})
        return data

    def _write(self, data: dict) -> None:
        """Temp file (0600) beside the target, fsync, rename: a crash leaves
        the old file or the new one, never half of one."""
        import tempfile
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".auth-", suffix=".tmp")  # mkstemp: mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent="\t")
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise


def login(client, host: str, username: str, password: str, store: CredentialStore | None = None) -> None:
    """Check the credentials against the registry (GET /v2/ through the
    challenge flow) and keep them only if it accepts them."""
    if not username or not password:
        raise AuthError(f"login to {canonical_host(host)}: a username and a password are required")
    client.check_credentials(host, username, password)
    (store or CredentialStore()).save(host, username, password)


def logout(host: str, store: CredentialStore | None = None) -> bool:
    """Remove stored credentials for host; False if there were none."""
    return (store or CredentialStore()).erase(host)
