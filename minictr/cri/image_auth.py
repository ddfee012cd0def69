"""A PullImage's AuthConfig as the registry client's credentials, as
containerd reads it: the credentials apply to the host named in
server_address, or to every host the pull talks to when it is empty;
username/password first, then `auth` (base64 of user:password), then
registry_token (a bearer token sent as is). Hosts the AuthConfig does not
cover use the credentials `minictr login` stored."""
from __future__ import annotations

import base64
import binascii

from minictr.cri.errors import invalid
from minictr.image.registry.config import canonical_host
from minictr.image.registry.credentials import CredentialStore, key_host


class PullAuth:
    """`get(host)` → (user, password) or None; `bearer(host)` → token or None."""

    def __init__(self, auth, fallback: CredentialStore):
        self.fallback = fallback
        self.host = key_host(auth.server_address) if auth and auth.server_address else ""
        self.user_password, self.token = _parse(auth) if auth else (None, "")

    def _covers(self, host: str) -> bool:
        return not self.host or canonical_host(host) == self.host

    def get(self, host: str) -> tuple[str, str] | None:
        if self.user_password and self._covers(host):
            return self.user_password
        if self.token and self._covers(host):
            return None
        return self.fallback.get(host)

    def bearer(self, host: str) -> str | None:
        return self.token if self.token and not self.user_password and self._covers(host) else None


def _parse(auth) -> tuple[tuple[str, str] | None, str]:
    if auth.username:
        return (auth.username, auth.password), ""
    if auth.identity_token:
        raise invalid("auth.identity_token: OAuth2 identity tokens are not supported; "
                      "give username and password, auth, or registry_token")
    if auth.auth:
        try:
            decoded = base64.b64decode(auth.auth, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise invalid("auth.auth: not base64 of user:password") from None
        user, sep, password = decoded.partition(":")
        if not sep:
            raise invalid("auth.auth: the decoded value has no ':' between user and password")
        return (user, password.strip("\x00")), ""
    return None, auth.registry_token
